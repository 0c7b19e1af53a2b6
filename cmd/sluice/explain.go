package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	dataio "github.com/sluice-data/sluice/io"

	"github.com/spf13/cobra"

	"github.com/sluice-data/sluice/dedup/fuzzy"
	"github.com/sluice-data/sluice/dedup/idmap"
	"github.com/sluice-data/sluice/dedup/ledger"
)

type explainFlags struct {
	output string
	words  int
	color  string
	search bool
}

func (a *app) explainCmd() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain --output DIR ID",
		Short: "Explain why a document was removed: its ledger row and both texts",
		Long: `Look a document up, by its original id (the --id-field value), in the removal
ledger of a finished 'sluice dedup' run (DIR/ledger/part.N.parquet), and print:

  - its ledger row: the document kept in its place, the group and its size,
    the similarity of the two (exact or estimated) and the parameter hash;
  - the start of both texts, read again from the inputs, with the words that
    differ marked: [-words-] only in the removed document, {+words+} only in
    the kept one (coloured on a terminal).

An id that is not in the ledger was not removed: explain says whether it is
the kept document of a group, or else searches the run's inputs (listed in
DIR/id_map.json) to tell a kept document from an unknown id.

Exit codes: 0 the id was found (removed or kept); 1 the id is unknown, or an
error; 2 usage errors (no --output, no ledger in DIR, not one ID).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr(fmt.Errorf("explain needs exactly one document id, got %d", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return a.explain(cmd, &f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.output, "output", "", "output directory of a 'sluice dedup' run (required)")
	fl.IntVar(&f.words, "words", 60, "words of each text to show and compare")
	fl.StringVar(&f.color, "color", "auto", "mark differences with colour: auto (on a terminal), always or never")
	fl.BoolVar(&f.search, "search-inputs", true, "when the id is in no ledger row, search the run's inputs to tell a kept document from an unknown id")
	return cmd
}

// runParams are the settings explain needs from summary.json.
type runParams struct {
	TextField  string `json:"text_field"`
	IDField    string `json:"id_field"`
	CharNgrams int    `json:"char_ngrams"`
	Normalize  bool   `json:"normalize"`
	WorkDir    string `json:"-"`
}

func (a *app) explain(cmd *cobra.Command, f *explainFlags, id string) error {
	if f.output == "" {
		return usageErr(errors.New("explain: --output DIR is required (the output directory of a 'sluice dedup' run)"))
	}
	if f.words <= 0 {
		return usageErr(fmt.Errorf("--words %d: want at least 1", f.words))
	}
	color, err := useColor(f.color, a.stdout)
	if err != nil {
		return usageErr(err)
	}
	if fi, err := os.Stat(f.output); !dataio.IsURL(f.output) && (err != nil || !fi.IsDir()) {
		return configErr(fmt.Errorf("--output %s is not a directory", f.output))
	}
	parts, err := ledger.Parts(f.output)
	if errors.Is(err, os.ErrNotExist) {
		return configErr(fmt.Errorf("--output %s holds no removal ledger (%s/part.N.parquet): give the output directory of a finished 'sluice dedup' run",
			f.output, dataio.JoinPath(f.output, ledger.Dir)))
	}
	if err != nil {
		return failedErr(err)
	}
	p, err := readRunParams(f.output)
	if err != nil {
		return failedErr(err)
	}
	l, err := ledger.Find(cmd.Context(), parts, id)
	if err != nil {
		return failedErr(err)
	}
	w := a.stdout
	switch {
	case l.Removed != nil:
		a.explainRemoved(cmd, w, f, p, l.Removed, color)
		return nil
	case l.KeptCount > 0:
		r := l.KeptFor[0]
		fmt.Fprintf(w, "%s was kept: it is the document kept for group %d (%d documents; %s:%d, dedup id %d).\n",
			id, r.GroupID, r.GroupSize, r.KeptFile, r.KeptRecord, r.KeptDedupID)
		fmt.Fprintf(w, "%d documents were removed as its duplicates, for example:\n", l.KeptCount)
		for _, k := range l.KeptFor {
			fmt.Fprintf(w, "  %s  (similarity %.3f, %s)\n", describeID(k.OriginalID, k.DedupID), k.Similarity, k.SimilarityMethod)
		}
		fmt.Fprintf(w, "Run 'sluice explain --output %s ID' with one of them to compare the texts.\n", f.output)
		return nil
	}
	if !f.search {
		return failedErr(fmt.Errorf("%s is not in the removal ledger: it was not removed (kept, or not an id of this run's input; --search-inputs tells which)", id))
	}
	fmt.Fprintf(a.stderr, "%s is not in the removal ledger; searching the run's inputs for it (field %q)...\n", id, p.IDField)
	file, record, err := idmap.FindOriginalID(cmd.Context(), dataio.JoinPath(f.output, "id_map.json"), p.WorkDir, p.TextField, p.IDField, id)
	if err != nil {
		return failedErr(fmt.Errorf("searching the inputs: %w", err))
	}
	if file == "" {
		return failedErr(fmt.Errorf("%s is unknown: no record of this run's inputs has %s %q, and the ledger does not name it", id, p.IDField, id))
	}
	fmt.Fprintf(w, "%s was kept: it has no duplicates (%s:%d). Only removed documents have ledger rows.\n", id, file, record)
	return nil
}

// readRunParams reads the settings of the run from DIR/summary.json; an
// unfinished run has none, and gets the defaults.
func readRunParams(dir string) (runParams, error) {
	d := fuzzy.DefaultConfig()
	p := runParams{TextField: d.TextField, IDField: d.IDField, CharNgrams: d.CharNgrams}
	b, err := dataio.ReadFile(context.Background(), dataio.JoinPath(dir, "summary.json"))
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	var s struct {
		Params  runParams `json:"params"`
		WorkDir string    `json:"work_dir"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return p, fmt.Errorf("%s: %w", dataio.JoinPath(dir, "summary.json"), err)
	}
	if s.Params.TextField != "" {
		p = s.Params
	}
	p.WorkDir = s.WorkDir
	return p, nil
}

func describeID(orig *string, dedupID int64) string {
	if orig == nil {
		return fmt.Sprintf("(no id; dedup id %d)", dedupID)
	}
	return *orig
}

// explainRemoved prints a removed document's ledger row and both texts.
func (a *app) explainRemoved(cmd *cobra.Command, w io.Writer, f *explainFlags, p runParams, r *ledger.Row, color bool) {
	fmt.Fprintf(w, "%s was removed as a duplicate.\n\n", describeID(r.OriginalID, r.DedupID))
	fmt.Fprintf(w, "  removed     %s  %s:%d  (dedup id %d)\n", describeID(r.OriginalID, r.DedupID), r.File, r.Record, r.DedupID)
	fmt.Fprintf(w, "  kept        %s  %s:%d  (dedup id %d)\n", describeID(r.KeptOriginalID, r.KeptDedupID), r.KeptFile, r.KeptRecord, r.KeptDedupID)
	fmt.Fprintf(w, "  group       %d, %d documents\n", r.GroupID, r.GroupSize)
	how := "estimated from the MinHash signatures"
	if r.SimilarityMethod == ledger.SimilarityExact {
		how = "exact"
	}
	fmt.Fprintf(w, "  similarity  %.4f (%s)\n", r.Similarity, how)
	fmt.Fprintf(w, "  dedup       %s, parameters %s\n\n", r.Dedup, r.ParamsHash)

	texts, err := idmap.ReadDocuments(cmd.Context(), dataio.JoinPath(f.output, "id_map.json"), p.WorkDir, p.TextField, []int64{r.DedupID, r.KeptDedupID})
	a1, ok1 := texts[r.DedupID]
	a2, ok2 := texts[r.KeptDedupID]
	if err != nil || !ok1 || !ok2 {
		msg := "a record is no longer a document"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(w, "The texts cannot be read again: %s\n", msg)
		return
	}
	if r.Dedup == ledger.DedupFuzzy {
		now := fuzzy.TextSimilarity(a1, a2, p.CharNgrams, p.Normalize)
		fmt.Fprintf(w, "Exact shingle Jaccard of the texts as they are now: %.4f", now)
		if r.SimilarityMethod == ledger.SimilarityExact && math.Abs(now-r.Similarity) > 0.01 {
			fmt.Fprintf(w, " — differs from the ledger's: have the inputs changed since the run?")
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w)
	}
	wa, wb := strings.Fields(a1), strings.Fields(a2)
	ma, mb := diffWords(wa, wb, f.words)
	fmt.Fprintf(w, "Removed document (first %d of %d words; [-…-] not in the kept document):\n", min(f.words, len(wa)), len(wa))
	writeWrapped(w, markWords(wa[:min(f.words, len(wa))], ma, "[-", "-]", color, "\x1b[1;31m"), 100)
	fmt.Fprintf(w, "\nKept document (first %d of %d words; {+…+} not in the removed document):\n", min(f.words, len(wb)), len(wb))
	writeWrapped(w, markWords(wb[:min(f.words, len(wb))], mb, "{+", "+}", color, "\x1b[1;32m"), 100)
}

// useColor decides whether to colour the marks.
func useColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "auto":
		return isTerminal(w), nil
	case "always":
		return true, nil
	case "never":
		return false, nil
	}
	return false, fmt.Errorf("--color %q: want auto, always or never", mode)
}

// diffWords marks the words of the first n of a and of b that are not in a
// longest common subsequence of the two. The subsequence is computed over a
// few more words than are shown, so that the cut does not mark words whose
// partners lie just past it.
func diffWords(a, b []string, n int) (inA, inB []bool) {
	la, lb := min(len(a), n+n/4+5), min(len(b), n+n/4+5)
	// lcs[i][j]: length of an LCS of a[i:la] and b[j:lb].
	lcs := make([][]int32, la+1)
	for i := range lcs {
		lcs[i] = make([]int32, lb+1)
	}
	for i := la - 1; i >= 0; i-- {
		for j := lb - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	inA, inB = make([]bool, la), make([]bool, lb) // true: differs
	i, j := 0, 0
	for i < la && j < lb {
		switch {
		case a[i] == b[j]:
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			inA[i] = true
			i++
		default:
			inB[j] = true
			j++
		}
	}
	for ; i < la; i++ {
		inA[i] = true
	}
	for ; j < lb; j++ {
		inB[j] = true
	}
	return inA, inB
}

// markWords joins words, wrapping each run of differing words in open and
// close (and in colour, when asked).
func markWords(words []string, differs []bool, open, close string, color bool, ansi string) []string {
	var out []string
	for i := 0; i < len(words); {
		if i >= len(differs) || !differs[i] {
			out = append(out, words[i])
			i++
			continue
		}
		j := i
		for j < len(words) && j < len(differs) && differs[j] {
			j++
		}
		run := open + strings.Join(words[i:j], " ") + close
		if color {
			run = ansi + run + "\x1b[0m"
		}
		out = append(out, run)
		i = j
	}
	return out
}

// writeWrapped writes tokens separated by spaces, indented, in lines of
// about width characters (ANSI codes not counted).
func writeWrapped(w io.Writer, tokens []string, width int) {
	line := 0
	fmt.Fprint(w, "  ")
	for _, t := range tokens {
		n := visibleLen(t)
		if line > 0 && line+1+n > width {
			fmt.Fprint(w, "\n  ")
			line = 0
		}
		if line > 0 {
			fmt.Fprint(w, " ")
			line++
		}
		fmt.Fprint(w, t)
		line += n
	}
	fmt.Fprintln(w)
}

func visibleLen(s string) int {
	n, esc := 0, false
	for _, r := range s {
		switch {
		case r == '\x1b':
			esc = true
		case esc:
			esc = r != 'm'
		default:
			n++
		}
	}
	return n
}
