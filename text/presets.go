package text

import (
	"fmt"
	"sort"
)

// PresetInfo describes a preset rule set.
type PresetInfo struct {
	Name   string
	Doc    string
	Source string
}

var presetInfo = []PresetInfo{
	{Name: "gopher", Doc: "Gopher quality rules, then Gopher repetition rules", Source: "Rae et al. 2021, appendix A.1.1 and table A1; datatrove GopherQualityFilter and GopherRepetitionFilter"},
	{Name: "c4", Doc: "C4 page cleaning (rewrites the text: keeps lines with an end mark and at least 5 words)", Source: "Raffel et al. 2020, section 2.2; TensorFlow Datasets c4_utils.clean_page"},
	{Name: "fineweb", Doc: "FineWeb: Gopher repetition, Gopher quality, C4 (terminal punctuation not required, rewrites the text), FineWeb rules", Source: "Penedo et al. 2024; datatrove examples/fineweb.py"},
	{Name: "nemo", Doc: "NeMo Curator's English heuristic pipeline: its 28 filters with NeMo's thresholds, in its order", Source: "NeMo Curator config/text/heuristic_filter_english_pipeline.yaml"},
}

// Presets lists the presets, sorted by name.
func Presets() []PresetInfo {
	out := append([]PresetInfo(nil), presetInfo...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PresetRules returns fresh rules of the named preset, in the order they run.
func PresetRules(name string) ([]Rule, error) {
	switch name {
	case "gopher":
		return append(gopherQuality(), gopherRepetition()...), nil
	case "c4":
		return []Rule{newC4Paper()}, nil
	case "fineweb":
		rules := append(gopherRepetition(), gopherQuality()...)
		c4 := newC4Paper()
		c4.MinWordsPerLine, c4.MinSentences, c4.RequireEndMark = 3, 5, false
		c4.EndMarks = []string{".", "?", "!", `"`, "'"}
		return append(rules, c4,
			&FineWebLinePunct{Min: 0.12},
			&FineWebShortLines{Length: 30, Max: 0.67},
			&FineWebCharDup{Max: 0.01},
			&FineWebListRatio{Max: 0.3}), nil
	case "nemo":
		return nemoEnglish(), nil
	}
	return nil, fmt.Errorf("unknown preset %q (known: c4, fineweb, gopher, nemo)", name)
}

// dupNGramMax are Gopher's thresholds for duplicated 5- to 10-grams.
var dupNGramMax = []float64{0.15, 0.14, 0.13, 0.12, 0.11, 0.10}

func gopherQuality() []Rule {
	return []Rule{
		&GopherWordCount{Min: 50, Max: 100000},
		&GopherMeanWordLength{Min: 3, Max: 10},
		&GopherSymbolRatio{Symbol: "#", Max: 0.1},
		&GopherSymbolRatio{Symbol: "...", Max: 0.1},
		&GopherBulletLines{Max: 0.9},
		&GopherEllipsisLines{Max: 0.3},
		&GopherAlphaWords{Min: 0.8},
		&GopherStopWords{Min: 2},
	}
}

func gopherRepetition() []Rule {
	rules := []Rule{
		&GopherRepetition{Unit: "paragraph", Max: 0.3},
		&GopherRepetition{Unit: "paragraph", ByChar: true, Max: 0.2},
		&GopherRepetition{Unit: "line", Max: 0.3},
		&GopherRepetition{Unit: "line", ByChar: true, Max: 0.2},
	}
	rules = append(rules, &GopherTopNGram{N: 2, Max: 0.20}, &GopherTopNGram{N: 3, Max: 0.18}, &GopherTopNGram{N: 4, Max: 0.16})
	for i, m := range dupNGramMax {
		rules = append(rules, &GopherDupNGram{N: 5 + i, Max: m})
	}
	return rules
}

func nemoEnglish() []Rule {
	rules := []Rule{
		&NonAlphaNumeric{MaxRatio: 0.25},
		&SymbolsToWords{MaxRatio: 0.1},
		&Numbers{MaxRatio: 0.15},
		&URLRatio{MaxRatio: 0.2},
		&WhiteSpace{MaxRatio: 0.25},
		&Parentheses{MaxRatio: 0.1},
		&BoilerplateString{MaxRatio: 0.4, RemoveIfAtTopOrBottom: true},
		&RepeatedLines{MinRatio: 0.7},
		&RepeatedParagraphs{MinRatio: 0.7},
		&RepeatedLinesByChar{MinRatio: 0.8},
		&RepeatedParagraphsByChar{MinRatio: 0.8},
		&WordCount{MinWords: 50, MaxWords: 100000},
		&Punctuation{MaxRatio: 0.85},
		&WordsWithoutAlphabets{MinRatio: 0.8},
		&CommonEnglishWords{MinCount: 2, StopAtFalse: true},
		&MeanWordLength{Min: 3, Max: 10},
		&LongWord{MaxLength: 1000},
		&Ellipsis{MaxRatio: 0.3},
		&RepeatingTopNGrams{N: 2, MaxRatio: 0.2},
		&RepeatingTopNGrams{N: 3, MaxRatio: 0.18},
		&RepeatingTopNGrams{N: 4, MaxRatio: 0.16},
	}
	for i, m := range dupNGramMax {
		rules = append(rules, &RepeatingDuplicateNGrams{N: 5 + i, MaxRatio: m})
	}
	return append(rules, &Bullets{MaxRatio: 0.9})
}
