// Package testcorpus generates small corpora of English-like documents with
// injected near-duplicates and their ground truth. Tests, examples and the
// shipped sample data use it, so nothing depends on external data.
package testcorpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Doc is one generated document.
type Doc struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	// Family is the id of the base document this one was derived from
	// (its own id for a base document).
	Family string `json:"family"`
	// Edit names the edit that made a copy: "", "exact", "substitute",
	// "delete", "insert", "truncate", "append".
	Edit string `json:"edit"`
}

// Options configures Generate.
type Options struct {
	Seed uint64
	// Bases is the number of distinct base documents.
	Bases int
	// WordsMin and WordsMax bound a base document's length in words.
	WordsMin, WordsMax int
	// DupFraction is the fraction of bases that get near-duplicate copies.
	DupFraction float64
	// CopiesMax is the most copies a duplicated base gets (at least 1).
	CopiesMax int
	// EditRate is the fraction of words a copy changes (0.01 keeps the
	// character-shingle Jaccard well above 0.8).
	EditRate float64
}

// DefaultOptions gives a corpus of 1,000 base documents of 150–600 words
// where a fifth have 1–3 light near-duplicates.
func DefaultOptions() Options {
	return Options{Seed: 7, Bases: 1000, WordsMin: 150, WordsMax: 600, DupFraction: 0.2, CopiesMax: 3, EditRate: 0.01}
}

// vocabulary: a few hundred common words, so texts read like prose and
// distinct documents share few 24-character windows.
var vocabulary = strings.Fields(`time person year way day thing man world life hand part child eye woman place
work week case point government company number group problem fact be have do say get make go know take see
come think look want give use find tell ask work seem feel try leave call good new first last long great little
own other old right big high different small large next early young important few public bad same able to of
in for on with at by from up about into over after beneath under above the and a that I it not he as you this
but his they her she or an will my one all would there their what so out if who which go me when can like no
just him people your some could them than then now only its also back after two how our well even because any
these give most us river mountain valley harbor engine signal garden library window market letter winter summer
autumn spring morning evening silver copper granite marble forest desert island ocean harbor bridge tower castle
village city county nation empire council senate court judge lawyer doctor teacher student writer painter singer
farmer sailor soldier captain pilot driver baker butcher tailor miner weaver potter smith carpenter mason clerk
quickly slowly quietly loudly carefully gently boldly bravely calmly eagerly fiercely happily sadly warmly coldly
red orange yellow green blue purple brown black white grey golden pale dark bright heavy light sharp soft rough
smooth ancient modern simple complex narrow wide deep shallow quiet noisy empty full rich poor strong weak`)

// Generate returns the documents (bases and copies, shuffled) and the pairs
// of ids that are near-duplicates of each other (every pair within a family).
func Generate(o Options) (docs []Doc, dupPairs [][2]string) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	families := map[string][]string{}
	for i := range o.Bases {
		n := o.WordsMin + rng.IntN(max(o.WordsMax-o.WordsMin, 1))
		words := make([]string, n)
		for j := range words {
			words[j] = vocabulary[rng.IntN(len(vocabulary))]
		}
		id := fmt.Sprintf("doc-%05d", i)
		base := Doc{ID: id, Text: sentences(words), Family: id}
		docs = append(docs, base)
		families[id] = append(families[id], id)
		if rng.Float64() >= o.DupFraction {
			continue
		}
		copies := 1 + rng.IntN(max(o.CopiesMax, 1))
		for c := range copies {
			edit, w := mutate(rng, words, o.EditRate)
			cid := fmt.Sprintf("%s-dup%d", id, c)
			docs = append(docs, Doc{ID: cid, Text: sentences(w), Family: id, Edit: edit})
			families[id] = append(families[id], cid)
		}
	}
	rng.Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
	for _, ids := range families {
		for i := range ids {
			for j := i + 1; j < len(ids); j++ {
				dupPairs = append(dupPairs, [2]string{ids[i], ids[j]})
			}
		}
	}
	return docs, dupPairs
}

func mutate(rng *rand.Rand, words []string, rate float64) (string, []string) {
	w := append([]string(nil), words...)
	k := max(1, int(float64(len(w))*rate))
	switch rng.IntN(5) {
	case 0:
		return "exact", w
	case 1:
		for range k {
			w[rng.IntN(len(w))] = vocabulary[rng.IntN(len(vocabulary))]
		}
		return "substitute", w
	case 2:
		for range k {
			i := rng.IntN(len(w))
			w = append(w[:i], w[i+1:]...)
		}
		return "delete", w
	case 3:
		for range k {
			i := rng.IntN(len(w))
			w = append(w[:i], append([]string{vocabulary[rng.IntN(len(vocabulary))]}, w[i:]...)...)
		}
		return "insert", w
	default:
		return "truncate", w[:len(w)-k]
	}
}

// sentences joins words into capitalised sentences. A sentence ends after a
// word chosen by the word itself (not its position), so a local edit changes
// the text only locally, as real near-duplicates do.
func sentences(words []string) string {
	var sb strings.Builder
	capital := true
	for i, w := range words {
		if i > 0 {
			sb.WriteByte(' ')
		}
		if capital {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		sb.WriteString(w)
		capital = len(w)%7 == 3
		if capital {
			sb.WriteByte('.')
		}
	}
	sb.WriteByte('.')
	return sb.String()
}
