package filter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// LanguageIDType is the registry name of the language identification stage.
const LanguageIDType = "language_id"

// Language-identification drop reasons (counted as dropped.<reason>), and
// the code written when no language is determined (ISO 639-2 "und").
const (
	ReasonLanguage       = "language_not_kept"
	ReasonLanguageScore  = "language_score_too_low"
	UndeterminedLanguage = "und"
)

// Detector names (LanguageIDConfig.Detector).
const (
	DetectorTrigram = "trigram"
	DetectorLingua  = "lingua"
)

// LanguageIDConfig configures language_id.
type LanguageIDConfig struct {
	// TextField is the column holding the text (default: the batch's text column).
	TextField string `json:"text_field,omitempty"`
	// LanguageField and ScoreField receive the language code ("und" when
	// none is determined) and its score in [0, 1].
	LanguageField string `json:"language_field,omitempty"`
	ScoreField    string `json:"score_field,omitempty"`
	// Detector is "trigram" (default: package text/langid, lingua-go's
	// trigram models scored by Sluice) or "lingua" (lingua-go itself,
	// compiled in only with -tags lingua).
	Detector string `json:"detector,omitempty"`
	// Languages restricts the candidate languages (ISO 639-1 codes).
	// Default: all 75 (both detectors know the same 75).
	Languages []string `json:"languages,omitempty"`
	// Keep, when set, drops documents whose language is not listed.
	Keep []string `json:"keep,omitempty"`
	// MinScore drops documents whose score is below it (0: off).
	MinScore float64 `json:"min_score,omitempty"`
	// Accuracy is lingua's mode: "low" (default: trigram models only, ~75
	// MiB for all languages) or "high" (1- to 5-gram models for texts under
	// 120 characters, up to ~1.2 GiB for all). Only for detector lingua.
	Accuracy string `json:"accuracy,omitempty"`
	// MaxChars bounds the characters examined per document (default 500;
	// -1: the whole text).
	MaxChars int `json:"max_chars,omitempty"`
	// RejectedDir receives the dropped documents, as for quality_filter.
	RejectedDir string `json:"rejected_dir,omitempty"`
}

// languageDetector identifies the language of one text: its code ("und"
// when undetermined) and a score in [0, 1]. It is safe for concurrent use.
type languageDetector interface {
	detect(text string) (code string, score float64)
}

// LanguageID identifies each document's language, writes it and its score
// to two fields, and optionally drops documents by language and score.
type LanguageID struct {
	stage.Base
	cfg      LanguageIDConfig
	keep     map[string]bool
	detector languageDetector
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
	if cfg.MinScore < 0 || cfg.MinScore > 1 {
		return nil, fmt.Errorf("min_score %g is outside [0, 1]", cfg.MinScore)
	}
	if cfg.Detector == "" {
		cfg.Detector = DetectorTrigram
	}
	if cfg.MaxChars == 0 {
		cfg.MaxChars = 500
	}
	if len(cfg.Languages) == 1 {
		return nil, errors.New("languages: give at least two candidates (or none for all)")
	}
	det, known, err := newDetector(&cfg)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, k := range lowerCodes(cfg.Keep) {
		if !known(k) && k != UndeterminedLanguage {
			return nil, fmt.Errorf("keep: %q is not a language code detector %s knows (nor und)", k, cfg.Detector)
		}
		keep[k] = true
	}
	return &LanguageID{
		Base: stage.Base{StageName: LanguageIDType, Batch: 1, In: stage.Spec{Kinds: []string{task.KindDocumentBatch}},
			Out: stage.Spec{Kinds: []string{task.KindDocumentBatch}, Columns: []string{cfg.LanguageField, cfg.ScoreField}}},
		cfg: cfg, keep: keep, detector: det,
	}, nil
}

// newDetector builds cfg's detector and returns it and its language-code
// check.
func newDetector(cfg *LanguageIDConfig) (languageDetector, func(string) bool, error) {
	cands := lowerCodes(cfg.Languages)
	switch cfg.Detector {
	case DetectorTrigram:
		if cfg.Accuracy != "" {
			return nil, nil, fmt.Errorf("accuracy %q: only detector lingua has accuracy modes", cfg.Accuracy)
		}
		d, err := newTrigramDetector(cands)
		return d, trigramKnows, err
	case DetectorLingua:
		d, err := newLinguaDetector(cands, cfg.Accuracy)
		return d, linguaKnows, err
	}
	return nil, nil, fmt.Errorf("detector %q: want %s or %s", cfg.Detector, DetectorTrigram, DetectorLingua)
}

// lowerCodes returns the codes in lower case (nil for none).
func lowerCodes(codes []string) []string {
	if len(codes) == 0 {
		return nil
	}
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = strings.ToLower(strings.TrimSpace(c))
	}
	return out
}

// Config returns the stage's configuration, defaults filled in.
func (l *LanguageID) Config() LanguageIDConfig { return l.cfg }

// Setup implements stage.Stage.
func (l *LanguageID) Setup(_ context.Context, w *stage.Worker) error {
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

// Detect returns the code of text's language ("und" when none is
// determined) and its score, looking at the first MaxChars characters.
func (l *LanguageID) Detect(text string) (string, float64) {
	if l.cfg.MaxChars > 0 && len(text) > l.cfg.MaxChars {
		text = prefixRunes(text, l.cfg.MaxChars)
	}
	return l.detector.detect(text)
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
	lingua := "lingua (lingua-go itself; in this binary)"
	if !linguaCompiled {
		lingua = "lingua (lingua-go itself; not in this binary: build with -tags lingua)"
	}
	return stage.Type{
		Name: LanguageIDType,
		Doc: "Identifies each document's language among 75 and writes its ISO 639-1 code (und when undetermined) and a score in [0, 1]; " +
			"optionally drops documents by language and minimum score. Counts documents per language (language.<code>) and drops (dropped.<reason>). See docs/filters.md.",
		Fields: []stage.Field{
			textField,
			{Name: "detector", Type: "string", Default: DetectorTrigram, Doc: "trigram (lingua-go's trigram models scored by Sluice: 4 MB, thousands of documents per CPU-second) or " + lingua},
			{Name: "language_field", Type: "string", Default: "language", Doc: "field receiving the ISO 639-1 code (\"und\" when undetermined)"},
			{Name: "score_field", Type: "string", Default: "language_score", Doc: "field receiving the score, in [0, 1]: the winner's softmax share among the candidates, 1 when the script decides"},
			{Name: "languages", Type: "[string]", Default: "(all 75)", Doc: "candidate languages, ISO 639-1 codes (at least two); scores are relative to them"},
			{Name: "keep", Type: "[string]", Default: "[]", Doc: "keep only documents in these languages (und allowed; empty: keep all)"},
			{Name: "min_score", Type: "float", Default: "0", Doc: "drop documents whose score is below this"},
			{Name: "accuracy", Type: "string", Default: "low", Doc: "lingua only: low (trigram models, ~75 MiB for all languages) or high (1- to 5-grams for texts under 120 characters, up to ~1.2 GiB for all)"},
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
