package fuzzy

import (
	"context"
	"fmt"
	"log/slog"
	"math"

	"github.com/sluice-data/sluice/dedup/fuzzy/minhash"
	"github.com/sluice-data/sluice/dedup/internal/flow"
)

// Check validates the configuration and the inputs without doing any work
// or writing anything: the errors a run would meet before its first phase
// (bad parameters, missing or empty inputs, an --id-field the inputs lack)
// wrap ErrConfig. Run makes the same checks.
func (w *Workflow) Check(ctx context.Context) error {
	c, err := w.normalize()
	if err != nil {
		return err
	}
	_, err = w.prepare(ctx, c)
	return err
}

// prepare lists and groups the input files deterministically and checks
// the --id-field (see flow.Prepare), once per configuration: Check and Run
// share the result.
func (w *Workflow) prepare(ctx context.Context, c Config) (*flow.Inputs, error) {
	return flow.Prepare(ctx, c.io(), w.logger(), &w.listed)
}

// logger returns the workflow's logger, or one that discards.
func (w *Workflow) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

// checkCounts rejects negative counts and conflicting grouping settings.
// (Zero means the default for the library; the CLI rejects an explicit 0.)
func checkCounts(c Config) error {
	for _, f := range []struct {
		flag string
		v    int64
	}{
		{"--char-ngrams", int64(c.CharNgrams)}, {"--bands", int64(c.Bands)}, {"--rows", int64(c.Rows)},
		{"--bands-per-iteration", int64(c.BandsPerIteration)}, {"--hash-bits", int64(c.HashBits)},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s %d must not be negative", ErrConfig, f.flag, f.v)
		}
	}
	return flow.CheckGrouping(c.io())
}

// checkMinHashParams checks the MinHash parameters (after defaults) in the
// flags' terms, before any work.
func checkMinHashParams(c Config) error {
	switch {
	case c.CharNgrams > minhash.MaxCharNgrams:
		return fmt.Errorf("%w: --char-ngrams %d: at most %d", ErrConfig, c.CharNgrams, minhash.MaxCharNgrams)
	case c.Bands*c.Rows > minhash.MaxNumPerm:
		return fmt.Errorf("%w: --bands %d × --rows %d = %d permutations: at most %d", ErrConfig, c.Bands, c.Rows, c.Bands*c.Rows, minhash.MaxNumPerm)
	case c.Seed > math.MaxUint32:
		return fmt.Errorf("%w: --seed %d: at most 2^32-1 = %d (NeMo Curator's numpy seed range)", ErrConfig, c.Seed, uint64(math.MaxUint32))
	}
	return nil
}
