// Package builtin assembles the registry of every stage type that ships
// with sluice. Programs (the sluice command, workers of the networked
// runtime) call Registry to build stages from YAML or descriptors.
package builtin

import (
	"github.com/sluice-data/sluice/dedup/exact"
	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/dedup/steps"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/chaos"
	"github.com/sluice-data/sluice/stages/filter"
	"github.com/sluice-data/sluice/stages/jsonl"
	"github.com/sluice-data/sluice/stages/parquet"
	"github.com/sluice-data/sluice/stages/synthetic"
)

// Registry returns a new registry holding every built-in stage type (list
// them with `sluice stages`): chaos, text_filter, the jsonl source and sink
// (jsonl_reader with its parts file_partitioning and jsonl_read_files, and
// jsonl_writer), the Parquet source and sink (parquet_reader with its part
// parquet_read_files, and parquet_writer), the synthetic stages, the exact-
// and fuzzy-deduplication stages, the deduplication steps of pipeline files
// (dedup_exact, dedup_fuzzy), and the filtering and text-fixing stages
// (quality_filter, score_filter, language_id, text_fix, url_remover).
func Registry() *stage.Registry {
	reg := stage.NewRegistry()
	reg.MustRegister(chaos.Type())
	if err := reg.RegisterError(chaos.ErrorName, chaos.ErrInjected); err != nil {
		panic(err)
	}
	reg.MustRegister(TextFilterType())
	for _, t := range jsonl.Types(reg) {
		reg.MustRegister(t)
	}
	for _, t := range parquet.Types(reg) {
		reg.MustRegister(t)
	}
	if err := synthetic.Register(reg); err != nil {
		panic(err)
	}
	if err := fuzzy.Register(reg); err != nil {
		panic(err)
	}
	if err := filter.Register(reg); err != nil {
		panic(err)
	}
	if err := exact.Register(reg); err != nil {
		panic(err)
	}
	for _, t := range steps.Types(reg) {
		reg.MustRegister(t)
	}
	return reg
}
