// Command gen writes the fuzzy-dedup sample dataset shipped in
// examples/fuzzy: synthetic English-like documents, a fifth of which have
// one to three near-duplicate copies, plus the ground truth.
//
//	go run ./examples/fuzzy/gen -out examples/fuzzy
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-data/sluice/internal/testcorpus"
)

func main() {
	out := flag.String("out", "examples/fuzzy", "output directory")
	bases := flag.Int("bases", 1500, "distinct base documents")
	files := flag.Int("files", 3, "number of JSONL files")
	flag.Parse()
	o := testcorpus.DefaultOptions()
	o.Bases = *bases
	docs, pairs := testcorpus.Generate(o)
	if err := write(*out, *files, docs, pairs); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(dir string, n int, docs []testcorpus.Doc, pairs [][2]string) error {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	for i := range n {
		f, err := os.Create(filepath.Join(data, fmt.Sprintf("part-%02d.jsonl", i)))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		for j := i; j < len(docs); j += n {
			d := docs[j]
			b, err := json.Marshal(struct {
				ID     string `json:"id"`
				Text   string `json:"text"`
				Source string `json:"source"`
			}{d.ID, d.Text, "synthetic"})
			if err != nil {
				return err
			}
			w.Write(append(b, '\n'))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(dir, "truth_pairs.tsv"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "id_a\tid_b")
	for _, p := range pairs {
		fmt.Fprintf(w, "%s\t%s\n", p[0], p[1])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
