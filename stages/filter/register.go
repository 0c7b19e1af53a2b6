package filter

import (
	"fmt"
	"strings"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/text"
)

// Types returns the registry entries of this package's stages.
func Types() []stage.Type {
	rejected := stage.Field{Name: "rejected_dir", Type: "string", Default: "", Doc: "directory receiving dropped documents as JSONL (one file per batch), each with rejected_by and rejected_score added"}
	textField := stage.Field{Name: "text_field", Type: "string", Default: "(the batch's text column)", Doc: "column holding the text"}
	scoreOnly := stage.Field{Name: "score_only", Type: "bool", Default: "false", Doc: "compute and write scores, drop and rewrite nothing"}
	types := []stage.Type{
		{
			Name: QualityFilterType,
			Doc: "Runs heuristic filters over each document in one pass: a preset (" + presetNames() + ") and/or a list of filters. " +
				"A document is dropped by the first filter that does not keep it; drops are counted per filter (dropped.<name>). Filter types: " + filterTypes() + ". See docs/filters.md.",
			Fields: []stage.Field{
				{Name: "preset", Type: "string", Default: "", Doc: "rule set: " + presetNames()},
				{Name: "filters", Type: "[{filter, name, params, score_field, invert}]", Default: "[]", Doc: "filters run after the preset's, in order (each as in score_filter)"},
				textField, scoreOnly, rejected,
			},
			New: func(config []byte) (stage.Stage, error) {
				var c Config
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return New(c)
			},
		},
		{
			Name: ScoreFilterType,
			Doc:  "One heuristic filter, as NeMo Curator's ScoreFilter: scores each document, optionally writes the score to a field, and keeps or drops it (inverted with invert). The stage is named after the filter.",
			Fields: []stage.Field{
				{Name: "filter", Type: "string", Default: "(required)", Doc: "filter type (list them with sluice filter --list)"},
				{Name: "name", Type: "string", Default: "(the filter's name)", Doc: "name used in counters and rejected_by"},
				{Name: "params", Type: "object", Default: "{}", Doc: "the filter's parameters (NeMo's names); missing ones take NeMo's defaults"},
				{Name: "score_field", Type: "string", Default: "", Doc: "field receiving the score of kept documents"},
				{Name: "invert", Type: "bool", Default: "false", Doc: "keep the documents the filter would drop, drop the others"},
				textField, scoreOnly, rejected,
			},
			New: func(config []byte) (stage.Stage, error) {
				var c ScoreFilterConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewScoreFilter(c)
			},
		},
		{
			Name: TextFixType,
			Doc:  "Repairs text: mojibake (UTF-8 read as Windows-1252/Latin-1), newlines, control characters, Unicode normalisation. Raw lines are rewritten with the new text; other fields are unchanged. Counts modified documents.",
			Fields: []stage.Field{
				textField,
				{Name: "mojibake", Type: "bool", Default: "true", Doc: "repair UTF-8 that was decoded as Windows-1252 or Latin-1 (\"cafÃ©\" → \"café\")"},
				{Name: "newlines", Type: "bool", Default: "true", Doc: "turn \\r\\n, \\r, U+0085, U+2028 and U+2029 into \\n"},
				{Name: "controls", Type: "bool", Default: "true", Doc: "remove control characters other than \\t and \\n, and U+FEFF"},
				{Name: "normalization", Type: "string", Default: "NFC", Doc: "Unicode normalisation form: NFC, NFKC or none"},
				{Name: "collapse_newlines", Type: "bool", Default: "false", Doc: "turn runs of 3 or more newlines into 2 (NeMo's NewlineNormalizer)"},
			},
			New: func(config []byte) (stage.Stage, error) {
				c := DefaultTextFixConfig()
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewTextFix(c)
			},
		},
		{
			Name:   URLRemoverType,
			Doc:    "Removes URLs (http://, https:// or www. up to the next white space, as NeMo Curator's UrlRemover). Raw lines are rewritten with the new text.",
			Fields: []stage.Field{textField},
			New: func(config []byte) (stage.Stage, error) {
				var c URLRemoverConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewURLRemover(c), nil
			},
		},
	}
	return append(types, languageIDType(textField, rejected))
}

// Register adds the stages of this package to reg.
func Register(reg *stage.Registry) error {
	for _, t := range Types() {
		if err := reg.Register(t); err != nil {
			return fmt.Errorf("filter stages: %w", err)
		}
	}
	return nil
}

func presetNames() string {
	var names []string
	for _, p := range text.Presets() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

func filterTypes() string {
	var names []string
	for _, s := range text.Specs() {
		names = append(names, s.Type)
	}
	return strings.Join(names, ", ")
}
