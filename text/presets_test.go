package text

import (
	"strings"
	"testing"
)

func TestGopherThresholds(t *testing.T) {
	p10 := "0000000000" // a 10-character paragraph or line
	runThresholdCases(t, []thresholdCase{
		// word count, 50 to 100,000 words not made only of punctuation.
		{"at min", &GopherWordCount{50, 100000}, rep("word ", 50) + "- — !!", 50, true},
		{"below min", &GopherWordCount{50, 100000}, rep("word ", 49), 49, false},
		{"above min", &GopherWordCount{50, 100000}, rep("word ", 51), 51, true},
		// mean word length without edge punctuation, 3 to 10.
		{"at min", &GopherMeanWordLength{3, 10}, "ab, abcd. --", 3, true},    // (2+4)/2; "--" is no word
		{"below min", &GopherMeanWordLength{3, 10}, "ab, abc.", 2.5, false},  // (2+3)/2
		{"above min", &GopherMeanWordLength{3, 10}, "(abc) abcd", 3.5, true}, // (3+4)/2
		{"above max", &GopherMeanWordLength{3, 10}, rep("a", 10) + " " + rep("a", 11), 10.5, false},
		// '#' per word, at most 0.1.
		{"hash at", &GopherSymbolRatio{"#", 0.1}, "#tag" + rep(" word", 9), 0.1, true}, // 1 / 10 words
		{"hash below", &GopherSymbolRatio{"#", 0.1}, "#tag" + rep(" word", 10), 1.0 / 11, true},
		{"hash above", &GopherSymbolRatio{"#", 0.1}, "##tag" + rep(" word", 9), 0.2, false}, // 2 / 10
		// "..." and "…" per word: "...." holds one "...".
		{"ellipsis at", &GopherSymbolRatio{"...", 0.1}, "wait...." + rep(" word", 9), 0.1, true},
		{"ellipsis above", &GopherSymbolRatio{"...", 0.1}, "wait… so..." + rep(" word", 8), 0.2, false},
		{"ellipsis below", &GopherSymbolRatio{"...", 0.1}, "wait…" + rep(" word", 10), 1.0 / 11, true},
		{"at max", &GopherWordCount{50, 100000}, rep("w ", 100000), 100000, true},
		{"above max", &GopherWordCount{50, 100000}, rep("w ", 100001), 100001, false},
		{"at max", &GopherMeanWordLength{3, 10}, rep("a", 10) + "!", 10, true},
		// lines starting with • or -, at most 0.9 of 20.
		{"bullets at", &GopherBulletLines{0.9}, nLines("- item", 18, "text", 2), 0.9, true},
		{"bullets below", &GopherBulletLines{0.9}, nLines(" • item", 17, "text", 3), 0.85, true},
		{"bullets above", &GopherBulletLines{0.9}, nLines("-item", 19, "text", 1), 0.95, false},
		// lines ending with ... or …, at most 0.3 of 10.
		{"ellipsis lines at", &GopherEllipsisLines{0.3}, nLines("cut… ", 3, "text", 7), 0.3, true},
		{"ellipsis lines below", &GopherEllipsisLines{0.3}, nLines("cut...", 2, "text", 8), 0.2, true},
		{"ellipsis lines above", &GopherEllipsisLines{0.3}, nLines("cut...", 4, "text", 6), 0.4, false},
		// words with a letter, at least 0.8 of 10.
		{"alpha at", &GopherAlphaWords{0.8}, rep("word ", 8) + "12 --", 0.8, true},
		{"alpha below", &GopherAlphaWords{0.8}, rep("word ", 7) + "12 -- 3", 0.7, false},
		{"alpha above", &GopherAlphaWords{0.8}, rep("word ", 9) + "12", 0.9, true},
		// stop words, at least 2.
		{"stop at", &GopherStopWords{2}, "the cat of mine", 2, true},
		{"stop below", &GopherStopWords{2}, "The cat with", 1, false},
		{"stop above", &GopherStopWords{2}, "to be and have", 4, true},
		// duplicate paragraphs by count, at most 0.3 of 10.
		{"para at", &GopherRepetition{"paragraph", false, 0.3}, distinctLines(7, 3, 4, "\n\n"), 0.3, true},
		{"para below", &GopherRepetition{"paragraph", false, 0.3}, distinctLines(8, 2, 4, "\n\n\n"), 0.2, true}, // \n{2,} separates
		{"para above", &GopherRepetition{"paragraph", false, 0.3}, distinctLines(6, 4, 4, "\n\n"), 0.4, false},
		// duplicate paragraph characters over the text: 10 / (24 + x).
		{"para chars at", &GopherRepetition{"paragraph", true, 0.2}, p10 + "\n\n" + p10 + "\n\n" + rep("f", 26), 0.2, true},
		{"para chars below", &GopherRepetition{"paragraph", true, 0.2}, p10 + "\n\n" + p10 + "\n\n" + rep("f", 27), 10.0 / 51, true},
		{"para chars above", &GopherRepetition{"paragraph", true, 0.2}, p10 + "\n\n" + p10 + "\n\n" + rep("f", 25), 10.0 / 49, false},
		// duplicate lines by count, at most 0.3 of 10.
		{"line at", &GopherRepetition{"line", false, 0.3}, distinctLines(7, 3, 4, "\n"), 0.3, true},
		{"line below", &GopherRepetition{"line", false, 0.3}, distinctLines(8, 2, 4, "\n"), 0.2, true},
		{"line above", &GopherRepetition{"line", false, 0.3}, distinctLines(6, 4, 4, "\n"), 0.4, false},
		// duplicate line characters: 10 / (22 + x).
		{"line chars at", &GopherRepetition{"line", true, 0.2}, p10 + "\n" + p10 + "\n" + rep("f", 28), 0.2, true},
		{"line chars below", &GopherRepetition{"line", true, 0.2}, p10 + "\n" + p10 + "\n" + rep("f", 29), 10.0 / 51, true},
		{"line chars above", &GopherRepetition{"line", true, 0.2}, p10 + "\n" + p10 + "\n" + rep("f", 27), 10.0 / 49, false},
		// top 2-gram: "ab cd" (5 characters) × 2 over 50, 51, 49 characters.
		{"top2 at", &GopherTopNGram{2, 0.2}, "ab cd eeeeee ffffff gggggg hhhhhhhhhhh iiiii ab cd", 0.2, true},
		{"top2 below", &GopherTopNGram{2, 0.2}, "ab cd eeeeee ffffff gggggg hhhhhhhhhhh iiiiii ab cd", 10.0 / 51, true},
		{"top2 above", &GopherTopNGram{2, 0.2}, "ab cd eeeeee ffffff gggggg hhhhhhhhhhh iiii ab cd", 10.0 / 49, false},
		// top 3-gram "a b c" (5 characters) × 2 = 10 over 55 characters: 0.1818 > 0.18.
		{"top3 above", &GopherTopNGram{3, 0.18}, "a b c " + rep("x", 43) + " a b c", 10.0 / 55, false},
		{"top3 below", &GopherTopNGram{3, 0.18}, "a b c " + rep("x", 45) + " a b c", 10.0 / 57, true},
		// top 4-gram "a b c d" (7 characters) × 2 = 14 over 87.5 would be
		// 0.16: over 88 characters 0.159 (kept), over 87 0.161 (dropped).
		{"top4 below", &GopherTopNGram{4, 0.16}, "a b c d " + rep("x", 72) + " a b c d", 14.0 / 88, true},
		{"top4 above", &GopherTopNGram{4, 0.16}, "a b c d " + rep("x", 71) + " a b c d", 14.0 / 87, false},
		// "a b c d" 4 times, with three distinct 47-letter words between:
		// 4 × 7 = 28 over 28 + 3 × 49 = 175 characters: exactly 0.16.
		{"top4 at", &GopherTopNGram{4, 0.16}, "a b c d " + rep("x", 47) + " a b c d " + rep("y", 47) + " a b c d " + rep("z", 47) + " a b c d", 0.16, true},
		// duplicate 5-gram (a b c d ee) repeats: 6 characters without spaces
		// over 40, 41, 39 characters.
		{"dup5 at", &GopherDupNGram{5, 0.15}, "a b c d ee a b c d ee " + rep("f", 18), 0.15, true},
		{"dup5 below", &GopherDupNGram{5, 0.15}, "a b c d ee a b c d ee " + rep("f", 19), 6.0 / 41, true},
		{"dup5 above", &GopherDupNGram{5, 0.15}, "a b c d ee a b c d ee " + rep("f", 17), 6.0 / 39, false},
	})
}

func TestFineWebThresholds(t *testing.T) {
	runThresholdCases(t, []thresholdCase{
		// lines ending with . ' " ! ?, kept when above 0.12 of 25 lines.
		{"punct at", &FineWebLinePunct{Min: 0.12}, nLines("Done.", 3, "no", 22), 0.12, false},
		{"punct below", &FineWebLinePunct{Min: 0.12}, nLines("Done!", 2, "no", 23), 0.08, false},
		{"punct above", &FineWebLinePunct{Min: 0.12}, nLines(`"Done"`, 4, "no", 21), 0.16, true},
		{"punct zero excluded", &FineWebLinePunct{Min: 0.12, ExcludeZero: true}, "no\nno", 0, true},
		{"punct trailing space", &FineWebLinePunct{Min: 0.12}, "Done. \nno", 0, false}, // lines are not stripped
		// short lines (at most 30 characters), kept when below 0.67 of 100.
		{"short at", &FineWebShortLines{30, 0.67}, nLines(rep("s", 30), 67, rep("l", 31), 33), 0.67, false},
		{"short below", &FineWebShortLines{30, 0.67}, nLines("s", 66, rep("l", 31), 34), 0.66, true},
		{"short above", &FineWebShortLines{30, 0.67}, nLines("", 68, rep("é", 31), 32), 0.68, false},
		// duplicated line characters over the characters without newlines:
		// 10 / (20 + x), kept when below 0.01.
		{"dup at", &FineWebCharDup{0.01}, "0000000000\n0000000000\n" + rep("f", 980), 0.01, false},
		{"dup below", &FineWebCharDup{0.01}, "0000000000\n0000000000\n" + rep("f", 981), 10.0 / 1001, true},
		{"dup above", &FineWebCharDup{0.01}, "0000000000\n0000000000\n" + rep("f", 979), 10.0 / 999, false},
		// newlines per word, at most 0.3 with 10 words.
		{"list at", &FineWebListRatio{0.3}, "a b c\nd e f\ng h i\nj", 0.3, true},
		{"list below", &FineWebListRatio{0.3}, "a b c d\ne f g h\ni j", 0.2, true},
		{"list above", &FineWebListRatio{0.3}, "a b\nc d\ne f\ng h\ni j", 0.4, false},
	})
}

func TestC4Lines(t *testing.T) {
	good := "This line has five words."
	paper := newC4Paper()
	cases := []struct {
		name, text, want, reason string
	}{
		// Three kept lines hold three sentences: the minimum.
		{"at min sentences", strings.Join([]string{good, "menu", good, "Click here to enable Javascript now please.", good}, "\n"),
			strings.Join([]string{good, good, good}, "\n"), ""},
		{"below min sentences", good + "\n" + good + "\nno end mark here at all", "", C4FewSentences},
		{"above min sentences", "  " + good + " One more here. \n" + good + "\n" + good,
			good + " One more here.\n" + good + "\n" + good, ""},
		// Four words is too few; five is enough; "..." does not end a line.
		{"words per line", "Only four words here.\n" + good + "\n" + good + "\n" + good + "\nIt trails off and off...",
			good + "\n" + good + "\n" + good, ""},
		{"citations", "Cited fact here and there.[1]\nEdited fact here and there.[edit]\n" + good,
			"Cited fact here and there.\nEdited fact here and there.\n" + good, ""},
		{"policy lines", "Read our privacy policy today please.\n" + good + "\n" + good + "\n" + good, good + "\n" + good + "\n" + good, ""},
		{"lorem ipsum", good + "\nLorem Ipsum dolor sit amet.", "", C4LoremIpsum},
		{"curly bracket", good + "\nfunction f() { return 1; } is code.", "", C4CurlyBracket},
		// A "{" in a line removed earlier (no end mark) does not drop the page.
		{"curly in removed line", "var x = { a: 1 }\n" + good + "\n" + good + "\n" + good, good + "\n" + good + "\n" + good, ""},
		{"long word", rep("x", 1001) + " is a very long word.\n" + good + "\n" + good + "\n" + good, good + "\n" + good + "\n" + good, ""},
	}
	d := NewDoc("")
	for _, c := range cases {
		d.Reset(c.text)
		got, changed, reason := paper.Rewrite(d)
		if reason != c.reason || reason == "" && (got != c.want || changed != (got != c.text)) {
			t.Errorf("%s: got %q, %v, %q; want %q, %q", c.name, got, changed, reason, c.want, c.reason)
		}
	}
	// FineWeb's settings: no end mark needed, 3 words per line, 5 sentences.
	fw, _ := PresetRules("fineweb")
	var c4 *C4Lines
	for _, r := range fw {
		if x, ok := r.(*C4Lines); ok {
			c4 = x
		}
	}
	// 1 + 2 sentences; "short" and "One. Two." have fewer than 3 words: 3 < 5.
	d.Reset("three words here\nno end mark. Two sentences here.\nshort\nOne. Two.")
	if got, _, reason := c4.Rewrite(d); reason != C4FewSentences {
		t.Errorf("fineweb c4 with 3 sentences: got %q, %q; want a drop for too few sentences", got, reason)
	}
	// 1 + 2 + 2 sentences: kept unchanged.
	d.Reset("three words here\nno end mark. Two sentences here.\nOne two three. Four five six.")
	if got, _, reason := c4.Rewrite(d); reason != "" || got != d.Text() {
		t.Errorf("fineweb c4 with 5 sentences: got %q, %q", got, reason)
	}
}

func TestCountSentences(t *testing.T) {
	for line, want := range map[string]int{
		"One. Two! Three?":               3,
		"No end mark":                    1,
		`He said "Yes." Then he left.`:   2,
		"Version 3.11 is out.":           1,
		"Wait... what?!":                 2,
		"Dr. Smith came.":                2, // no abbreviation list, unlike Punkt
		"Quoted ending.” Next sentence.": 2,
	} {
		if got := CountSentences(line); got != want {
			t.Errorf("CountSentences(%q) = %d, want %d", line, got, want)
		}
	}
}

func TestPresets(t *testing.T) {
	for _, p := range Presets() {
		rules, err := PresetRules(p.Name)
		if err != nil || len(rules) == 0 {
			t.Fatalf("preset %s: %v", p.Name, err)
		}
		seen := map[string]bool{}
		for _, r := range rules {
			if seen[r.Name()] {
				t.Errorf("preset %s: rule name %s twice", p.Name, r.Name())
			}
			seen[r.Name()] = true
		}
	}
	if _, err := PresetRules("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
	// The published thresholds, spot-checked.
	g, _ := PresetRules("gopher")
	want := map[string]float64{"gopher_top_2_gram": 0.20, "gopher_top_3_gram": 0.18, "gopher_top_4_gram": 0.16, "gopher_dup_5_gram": 0.15, "gopher_dup_10_gram": 0.10}
	for _, r := range g {
		switch f := r.(type) {
		case *GopherTopNGram:
			if f.Max != want[f.Name()] {
				t.Errorf("%s: max %v, want %v", f.Name(), f.Max, want[f.Name()])
			}
		case *GopherDupNGram:
			if w, ok := want[f.Name()]; ok && f.Max != w {
				t.Errorf("%s: max %v, want %v", f.Name(), f.Max, w)
			}
		}
	}
	n, _ := PresetRules("nemo")
	if len(n) != 28 {
		t.Errorf("nemo preset has %d rules, want NeMo's 28", len(n))
	}
}

func TestNewRule(t *testing.T) {
	r, err := NewRule("word_count", []byte(`{"min_words": 80}`))
	if err != nil {
		t.Fatal(err)
	}
	if wc := r.(*WordCount); wc.MinWords != 80 || wc.MaxWords != 100000 {
		t.Errorf("params: %+v", wc)
	}
	for typ, params := range map[string]string{
		"word_count":           `{"min": 80}`,
		"repeating_top_ngrams": `{"n": 0}`,
		"substring":            `{"substring": "x", "position": "middle"}`,
		"no_such_filter":       ``,
		"gopher_repetition":    `{"unit": "sentence"}`,
	} {
		if _, err := NewRule(typ, []byte(params)); err == nil {
			t.Errorf("%s %s accepted", typ, params)
		}
	}
	for _, s := range Specs() {
		if s.new == nil || s.Doc == "" {
			t.Errorf("spec %s incomplete", s.Type)
		}
		if _, err := NewRule(s.Type, nil); err != nil && s.Type != "substring" {
			t.Errorf("%s with defaults: %v", s.Type, err)
		}
	}
}
