package fuzzy

import (
	"slices"

	"github.com/zeebo/xxh3"

	"github.com/sluice-data/sluice/dedup/normalize"
)

// TextSimilarity is the exact Jaccard similarity of the shingle sets of
// two texts, shingled the way the MinHash phase shingles them: windows of
// width characters sliding by one character (a character starts at offset
// 0 and at every byte that is not a UTF-8 continuation byte), a text
// shorter than a window being one shingle, and, with normalize, of the
// normalised text (--normalize). Shingles are compared by 64-bit XXH3
// hashes, so collisions are negligible. An empty text has no shingles:
// its similarity to anything is 0.
func TextSimilarity(a, b string, width int, normalize bool) float64 {
	sa, sb := shingleSet(a, width, normalize), shingleSet(b, width, normalize)
	if len(sa) == 0 || len(sb) == 0 {
		return 0
	}
	inter, i, j := 0, 0, 0
	for i < len(sa) && j < len(sb) {
		switch {
		case sa[i] < sb[j]:
			i++
		case sa[i] > sb[j]:
			j++
		default:
			inter++
			i++
			j++
		}
	}
	return float64(inter) / float64(len(sa)+len(sb)-inter)
}

// shingleSet returns the sorted distinct hashes of text's shingles.
func shingleSet(text string, width int, norm bool) []uint64 {
	b := []byte(text)
	if norm {
		b = normalize.Append(nil, text)
	}
	if len(b) == 0 {
		return nil
	}
	width = max(width, 1)
	starts := make([]int, 0, len(b)+1)
	for i := range b {
		if i == 0 || b[i]&0xc0 != 0x80 {
			starts = append(starts, i)
		}
	}
	starts = append(starts, len(b))
	var set []uint64
	if len(starts)-1 <= width {
		set = []uint64{xxh3.Hash(b)}
	} else {
		for p := 0; p+width < len(starts); p++ {
			set = append(set, xxh3.Hash(b[starts[p]:starts[p+width]]))
		}
	}
	slices.Sort(set)
	return slices.Compact(set)
}
