package text

import "strings"

// This file holds the FineWeb rules (Penedo et al. 2024) as datatrove's
// FineWebQualityFilter implements them. Lines are the pieces of the text
// between "\n" characters, empty ones included.

// fineWebStops are the characters a line must end with to count as
// punctuated.
var fineWebStops = [256]bool{'.': true, '\'': true, '"': true, '!': true, '?': true}

// FineWebLinePunct scores the fraction of lines ending with . ' " ! or ?.
// Kept when the score is above Min (0.12), or is 0 with ExcludeZero.
type FineWebLinePunct struct {
	Min         float64 `json:"line_punct_thr"`
	ExcludeZero bool    `json:"line_punct_exclude_zero"`
}

func (f *FineWebLinePunct) Name() string { return "fineweb_line_punct_ratio" }
func (f *FineWebLinePunct) Score(d *Doc) float64 {
	s := d.Text()
	lines, n := 0, 0
	for {
		i := strings.IndexByte(s, '\n')
		line := s
		if i >= 0 {
			line = s[:i]
		}
		lines++
		if len(line) > 0 && fineWebStops[line[len(line)-1]] {
			n++
		}
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return ratio(n, lines, 0)
}
func (f *FineWebLinePunct) Keep(s float64) bool { return s > f.Min || s == 0 && f.ExcludeZero }

// FineWebShortLines scores the fraction of lines at most Length characters
// long (30). Kept when below Max (0.67).
type FineWebShortLines struct {
	Length int     `json:"short_line_length"`
	Max    float64 `json:"short_line_thr"`
}

func (f *FineWebShortLines) Name() string { return "fineweb_short_line_ratio" }
func (f *FineWebShortLines) Score(d *Doc) float64 {
	s := d.Text()
	lines, n := 0, 0
	for {
		i := strings.IndexByte(s, '\n')
		line := s
		if i >= 0 {
			line = s[:i]
		}
		lines++
		if len(line) <= f.Length || Len(line) <= f.Length {
			n++
		}
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return ratio(n, lines, 0)
}
func (f *FineWebShortLines) Keep(s float64) bool { return s < f.Max }

// FineWebCharDup scores the characters of non-blank lines that repeat an
// earlier line, over the characters of the text without its newlines; no
// such characters scores 0. Kept when below Max (0.01).
type FineWebCharDup struct {
	Max float64 `json:"char_duplicates_ratio"`
}

func (f *FineWebCharDup) Name() string { return "fineweb_char_dup_ratio" }
func (f *FineWebCharDup) Score(d *Doc) float64 {
	s := d.Text()
	d.strs = d.strs[:0]
	for rest := s; ; {
		i := strings.IndexByte(rest, '\n')
		line := rest
		if i >= 0 {
			line = rest[:i]
		}
		if !IsBlank(line) {
			d.strs = append(d.strs, line)
		}
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	_, chars := d.duplicates(d.strs)
	return ratio(chars, d.Chars()-strings.Count(s, "\n"), 0)
}
func (f *FineWebCharDup) Keep(s float64) bool { return s < f.Max }

// FineWebListRatio scores the number of "\n" characters over the number of
// words (over 1 when there are none). Kept when at most Max (0.3).
type FineWebListRatio struct {
	Max float64 `json:"new_line_ratio"`
}

func (f *FineWebListRatio) Name() string { return "fineweb_list_ratio" }
func (f *FineWebListRatio) Score(d *Doc) float64 {
	return float64(strings.Count(d.Text(), "\n")) / float64(max(len(d.Words()), 1))
}
func (f *FineWebListRatio) Keep(s float64) bool { return s <= f.Max }
