//go:build !nolangid

package filter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pemistahl/lingua-go"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// LanguageIDType is the registry name of the language identification stage.
const LanguageIDType = "language_id"

// Language-identification drop reasons (counted as dropped.<reason>).
const (
	ReasonLanguage      = "language_not_kept"
	ReasonLanguageScore = "language_score_too_low"
	UnknownLanguage     = "unknown"
)

// LanguageIDConfig configures language_id.
type LanguageIDConfig struct {
	// TextField is the column holding the text (default: the batch's text column).
	TextField string `json:"text_field,omitempty"`
	// LanguageField and ScoreField receive the ISO 639-1 code ("unknown"
	// when no language is detected) and its confidence in [0, 1].
	LanguageField string `json:"language_field,omitempty"`
	ScoreField    string `json:"score_field,omitempty"`
	// Languages restricts the candidate languages (ISO 639-1 codes); fewer
	// candidates cost less memory and time. Default: all 75 of lingua.
	Languages []string `json:"languages,omitempty"`
	// Keep, when set, drops documents whose language is not listed.
	Keep []string `json:"keep,omitempty"`
	// MinScore drops documents whose confidence is below it (0: off).
	MinScore float64 `json:"min_score,omitempty"`
	// Accuracy is "low" (default: trigram models only, ~75 MiB for all
	// languages) or "high" (1- to 5-gram models for texts under 120
	// characters, up to ~1.2 GiB for all; lingua uses trigrams alone on
	// longer texts).
	Accuracy string `json:"accuracy,omitempty"`
	// MaxChars bounds the characters examined per document (default 500;
	// -1: the whole text).
	MaxChars int `json:"max_chars,omitempty"`
	// RejectedDir receives the dropped documents, as for quality_filter.
	RejectedDir string `json:"rejected_dir,omitempty"`
}

// LanguageID identifies each document's language with lingua-go (models
// embedded in the binary), writes it and its confidence to two fields, and
// optionally drops documents by language and confidence.
type LanguageID struct {
	stage.Base
	cfg      LanguageIDConfig
	builder  lingua.LanguageDetectorBuilder
	keep     map[string]bool
	detector lingua.LanguageDetector
	label    string // the stage's name in its pipeline, set by Setup
}

// NewLanguageID returns a language_id stage named "language_id".
func NewLanguageID(cfg LanguageIDConfig) (*LanguageID, error) {
	if cfg.LanguageField == "" {
		cfg.LanguageField = "language"
	}
	if cfg.ScoreField == "" {
		cfg.ScoreField = "language_score"
	}
	if cfg.LanguageField == cfg.ScoreField {
		return nil, errors.New("language_field and score_field must differ")
	}
	if cfg.MaxChars == 0 {
		cfg.MaxChars = 500
	}
	if cfg.MinScore < 0 || cfg.MinScore > 1 {
		return nil, fmt.Errorf("min_score %g is outside [0, 1]", cfg.MinScore)
	}
	b := lingua.NewLanguageDetectorBuilder()
	var built lingua.LanguageDetectorBuilder
	if len(cfg.Languages) == 0 {
		built = b.FromAllLanguages()
	} else {
		langs, err := parseLanguages(cfg.Languages)
		if err != nil {
			return nil, fmt.Errorf("languages: %w", err)
		}
		if len(langs) < 2 {
			return nil, errors.New("languages: give at least two candidates (or none for all)")
		}
		built = b.FromLanguages(langs...)
	}
	switch cfg.Accuracy {
	case "", "low":
		built = built.WithLowAccuracyMode()
	case "high":
	default:
		return nil, fmt.Errorf("accuracy %q: want low or high", cfg.Accuracy)
	}
	keep := map[string]bool{}
	if _, err := parseLanguages(cfg.Keep); err != nil {
		return nil, fmt.Errorf("keep: %w", err)
	}
	for _, k := range cfg.Keep {
		keep[strings.ToLower(k)] = true
	}
	return &LanguageID{
		Base: stage.Base{StageName: LanguageIDType, Batch: 1, In: stage.Spec{Kinds: []string{task.KindDocumentBatch}},
			Out: stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: []string{cfg.LanguageField, cfg.ScoreField}}},
		cfg: cfg, builder: built, keep: keep,
	}, nil
}

func parseLanguages(codes []string) ([]lingua.Language, error) {
	var out []lingua.Language
	for _, c := range codes {
		l := lingua.GetLanguageFromIsoCode639_1(lingua.GetIsoCode639_1FromValue(strings.ToUpper(c)))
		if l == lingua.Unknown {
			return nil, fmt.Errorf("%q is not an ISO 639-1 code of a language lingua knows", c)
		}
		out = append(out, l)
	}
	return out, nil
}

// Setup implements stage.Stage: it builds the detector (models load on
// first use and are shared by the actors of a process).
func (l *LanguageID) Setup(_ context.Context, w *stage.Worker) error {
	l.detector = l.builder.Build()
	if w != nil && w.StageName != "" {
		l.label = w.StageName
	}
	if l.cfg.RejectedDir != "" {
		if err := os.MkdirAll(l.cfg.RejectedDir, 0o755); err != nil {
			return fmt.Errorf("%s: rejected_dir: %w", l.Name(), err)
		}
	}
	return nil
}

// Detect returns the ISO 639-1 code of text's language ("unknown" when
// none is found) and its confidence.
func (l *LanguageID) Detect(text string) (string, float64) {
	if l.detector == nil {
		l.detector = l.builder.Build()
	}
	if l.cfg.MaxChars > 0 && len(text) > l.cfg.MaxChars {
		text = prefixRunes(text, l.cfg.MaxChars)
	}
	vals := l.detector.ComputeLanguageConfidenceValues(text)
	if len(vals) == 0 || vals[0].Value() <= 0 {
		return UnknownLanguage, 0
	}
	return strings.ToLower(vals[0].Language().IsoCode639_1().String()), vals[0].Value()
}

// prefixRunes returns the first n code points of s.
func prefixRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// ProcessBatch implements stage.Stage.
func (l *LanguageID) ProcessBatch(ctx context.Context, tasks []task.Task) ([]task.Task, error) {
	out := make([]task.Task, 0, len(tasks)+1)
	counts := map[string]int64{}
	for _, t := range tasks {
		b, ok := t.(*task.DocumentBatch)
		if !ok {
			return nil, fmt.Errorf("%s: task %s is a %s, want a document batch", l.Name(), t.ID(), t.Kind())
		}
		kept, err := l.batch(ctx, b, counts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.Name(), err)
		}
		if kept != nil {
			out = append(out, kept)
		}
	}
	for name, n := range counts {
		stage.Count(ctx, name, n)
	}
	return out, nil
}

func (l *LanguageID) batch(ctx context.Context, b *task.DocumentBatch, counts map[string]int64) (*task.DocumentBatch, error) {
	texts, field, err := textColumn(b, l.cfg.TextField)
	if err != nil {
		return nil, stage.Permanent(err)
	}
	n := len(texts)
	langs, scores := make([]string, n), make([]float64, n)
	e := edits{textField: field, orig: texts,
		labels: []labelColumn{{name: l.cfg.LanguageField, values: langs}},
		scores: []scoreColumn{{name: l.cfg.ScoreField, values: scores}}}
	var rej []rejection
	for i, s := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		langs[i], scores[i] = l.Detect(s)
		reason := ""
		switch {
		case len(l.keep) > 0 && !l.keep[langs[i]]:
			reason = ReasonLanguage
		case scores[i] < l.cfg.MinScore:
			reason = ReasonLanguageScore
		}
		counts["language."+langs[i]]++
		if reason == "" {
			continue
		}
		if e.keep == nil {
			e.keep = make([]bool, n)
			for j := range e.keep {
				e.keep[j] = true
			}
		}
		e.keep[i] = false
		counts[CounterDropped+reason]++
		rej = append(rej, rejection{row: i, rule: reason + ":" + langs[i], score: scores[i], hasScore: true})
	}
	if l.cfg.RejectedDir != "" {
		if err := writeRejected(l.cfg.RejectedDir, stageLabel(l.label, l.Name()), b, rej); err != nil {
			return nil, err
		}
	}
	// A batch whose rows are all dropped goes on empty, as in NeMo
	// Curator: later stages (a writer) still see it.
	out, err := e.apply(b)
	if err != nil {
		return nil, stage.Permanent(err) // the same raw lines fail every attempt
	}
	return out, nil
}

// languageIDType returns the registry entry of language_id.
func languageIDType(textField, rejected stage.Field) stage.Type {
	return stage.Type{
		Name: LanguageIDType,
		Doc: "Identifies each document's language with lingua-go (models embedded in the binary) and writes its ISO 639-1 code and confidence; " +
			"optionally drops documents by language and minimum confidence. Counts documents per language (language.<code>) and drops (dropped.<reason>).",
		Fields: []stage.Field{
			textField,
			{Name: "language_field", Type: "string", Default: "language", Doc: "field receiving the ISO 639-1 code (\"unknown\" when none is detected)"},
			{Name: "score_field", Type: "string", Default: "language_score", Doc: "field receiving the confidence, in [0, 1]"},
			{Name: "languages", Type: "[string]", Default: "(all 75)", Doc: "candidate languages, ISO 639-1 codes; fewer cost less memory and time"},
			{Name: "keep", Type: "[string]", Default: "[]", Doc: "keep only documents in these languages (empty: keep all)"},
			{Name: "min_score", Type: "float", Default: "0", Doc: "drop documents whose confidence is below this"},
			{Name: "accuracy", Type: "string", Default: "low", Doc: "low (trigram models, ~75 MiB for all languages) or high (1- to 5-grams for texts under 120 characters, up to ~1.2 GiB for all)"},
			{Name: "max_chars", Type: "int", Default: "500", Doc: "characters examined per document, from its start (-1: all; lingua slows down with length)"},
			rejected,
		},
		New: func(config []byte) (stage.Stage, error) {
			var c LanguageIDConfig
			if err := stage.DecodeConfig(config, &c); err != nil {
				return nil, err
			}
			return NewLanguageID(c)
		},
	}
}
