package text

import (
	"strings"
)

// Doc is one document's text with the views filters share, computed on
// first use and cached: the character count, NeMo Curator's words, lines
// and paragraphs, and word ids for n-gram counting. A Doc is reused across
// documents with Reset, so that a pass over many documents allocates
// little. A Doc is not safe for concurrent use.
type Doc struct {
	text string

	nchar               int
	words, lines, paras []string
	ids                 []uint32
	pre                 []uint64
	lens                []int32
	pyl                 []string
	gwords, gchars      int
	have                uint16
	// noRepeatFrom, when positive, is an n for which no word n-gram
	// occurs twice; then no longer n-gram does either.
	noRepeatFrom int

	idMap map[string]uint32
	set   map[string]struct{}
	table ngramTable
	buf   []byte
	strs  []string
}

const (
	haveChars uint16 = 1 << iota
	haveWords
	haveLines
	haveParas
	haveIDs
	havePre
	haveLens
	havePyLines
	haveGopherWords
)

// NewDoc returns a Doc holding text.
func NewDoc(text string) *Doc {
	d := &Doc{}
	d.Reset(text)
	return d
}

// Reset makes d hold text, dropping the views of the previous text.
func (d *Doc) Reset(text string) {
	d.text = text
	d.have = 0
	d.noRepeatFrom = 0
}

// knownUnique reports whether no word n-gram is known to occur twice.
func (d *Doc) knownUnique(n int) bool { return d.noRepeatFrom > 0 && n >= d.noRepeatFrom }

// markUnique records that no word n-gram occurs twice.
func (d *Doc) markUnique(n int) {
	if d.noRepeatFrom == 0 || n < d.noRepeatFrom {
		d.noRepeatFrom = n
	}
}

// Text returns the document text.
func (d *Doc) Text() string { return d.text }

// Chars is the number of code points of the text (Python's len(text)).
func (d *Doc) Chars() int {
	if d.have&haveChars == 0 {
		d.nchar = Len(d.text)
		d.have |= haveChars
	}
	return d.nchar
}

// Words returns NeMo Curator's words: text.strip().split(), the runs of
// non-white-space characters (see IsSpace). The slice is owned by d.
func (d *Doc) Words() []string {
	if d.have&haveWords == 0 {
		d.words = AppendWords(d.words[:0], d.text)
		d.have |= haveWords
	}
	return d.words
}

// Lines returns what NeMo Curator calls sentences (get_sentences): the
// pieces of the text between "\n" characters that are not blank, unstripped.
// The slice is owned by d.
func (d *Doc) Lines() []string {
	if d.have&haveLines == 0 {
		d.lines = d.lines[:0]
		s := d.text
		for {
			i := strings.IndexByte(s, '\n')
			line := s
			if i >= 0 {
				line = s[:i]
			}
			if !IsBlank(line) {
				d.lines = append(d.lines, line)
			}
			if i < 0 {
				break
			}
			s = s[i+1:]
		}
		d.have |= haveLines
	}
	return d.lines
}

// Paragraphs returns NeMo Curator's paragraphs (get_paragraphs): the text
// split at every "\n\n", empty pieces included. The slice is owned by d.
func (d *Doc) Paragraphs() []string {
	if d.have&haveParas == 0 {
		d.paras = appendSplit(d.paras[:0], d.text, "\n\n")
		d.have |= haveParas
	}
	return d.paras
}

// appendSplit appends the pieces of s between non-overlapping occurrences of
// sep, left to right (Python's str.split(sep)).
func appendSplit(dst []string, s, sep string) []string {
	for {
		i := strings.Index(s, sep)
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+len(sep):]
	}
}

// wordIDs returns one id per word; equal words get equal ids.
func (d *Doc) wordIDs() []uint32 {
	if d.have&haveIDs == 0 {
		words := d.Words()
		if d.idMap == nil {
			d.idMap = make(map[string]uint32)
		} else {
			clear(d.idMap)
		}
		d.ids = d.ids[:0]
		for _, w := range words {
			id, ok := d.idMap[w]
			if !ok {
				id = uint32(len(d.idMap))
				d.idMap[w] = id
			}
			d.ids = append(d.ids, id)
		}
		d.have |= haveIDs
	}
	return d.ids
}

// wordLens returns the length in code points of each word.
func (d *Doc) wordLens() []int32 {
	if d.have&haveLens == 0 {
		words := d.Words()
		d.lens = d.lens[:0]
		for _, w := range words {
			d.lens = append(d.lens, int32(Len(w)))
		}
		d.have |= haveLens
	}
	return d.lens
}

// pyLines returns the lines of the text split as Python's splitlines().
func (d *Doc) pyLines() []string {
	if d.have&havePyLines == 0 {
		d.pyl = pyLines(d.pyl[:0], d.text)
		d.have |= havePyLines
	}
	return d.pyl
}

// gopherWords returns the number of words not made only of punctuation
// and symbols, and their summed length without edge punctuation.
func (d *Doc) gopherWords() (n, chars int) {
	if d.have&haveGopherWords == 0 {
		d.gwords, d.gchars = 0, 0
		for _, w := range d.Words() {
			if t := trimPunct(w); t != "" {
				d.gwords++
				d.gchars += Len(t)
			}
		}
		d.have |= haveGopherWords
	}
	return d.gwords, d.gchars
}

// prefixHashes returns the rolling hashes of the word-id prefixes:
// pre[i+1] = pre[i]·hashBase + mix(ids[i]), so that the hash of the n ids
// from i is pre[i+n] − pre[i]·hashBaseⁿ (mod 2⁶⁴).
func (d *Doc) prefixHashes() []uint64 {
	if d.have&havePre == 0 {
		ids := d.wordIDs()
		d.pre = append(d.pre[:0], 0)
		h := uint64(0)
		for _, id := range ids {
			h = h*hashBase + (uint64(id)+1)*0x9e3779b97f4a7c15
			d.pre = append(d.pre, h)
		}
		d.have |= havePre
	}
	return d.pre
}

// scratchSet returns an empty string set owned by d.
func (d *Doc) scratchSet() map[string]struct{} {
	if d.set == nil {
		d.set = make(map[string]struct{})
	} else {
		clear(d.set)
	}
	return d.set
}

// uniqueStats returns how many distinct strings xs holds and the summed
// code-point length of the distinct ones and of all.
func (d *Doc) uniqueStats(xs []string) (unique, uniqueChars, allChars int) {
	set := d.scratchSet()
	for _, x := range xs {
		n := Len(x)
		allChars += n
		if _, ok := set[x]; !ok {
			set[x] = struct{}{}
			unique++
			uniqueChars += n
		}
	}
	return unique, uniqueChars, allChars
}
