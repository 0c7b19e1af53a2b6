// Command filterscores prints, for each JSONL record of the input, the
// scores of every rule of a preset, one tab-separated line per document:
// the id, then one score per rule (rewriters print their drop reason or
// "keep"). It is the Go side of bench/nemo_crosscheck.py, which recomputes
// NeMo Curator's scores from its definitions in Python.
//
//	go run ./bench/filterscores -preset nemo < corpus.jsonl > go.tsv
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"

	"github.com/sluice-data/sluice/text"
)

func main() {
	preset := flag.String("preset", "nemo", "preset whose rules are scored")
	flag.Parse()
	rules, err := text.PresetRules(*preset)
	if err != nil {
		log.Fatal(err)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	fmt.Fprint(out, "id")
	for _, r := range rules {
		fmt.Fprint(out, "\t", r.Name())
	}
	fmt.Fprintln(out)
	d := text.NewDoc("")
	for in.Scan() {
		var rec struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(in.Bytes(), &rec); err != nil {
			log.Fatal(err)
		}
		fmt.Fprint(out, rec.ID)
		d.Reset(rec.Text)
		for _, r := range rules {
			switch r := r.(type) {
			case text.Filter:
				fmt.Fprint(out, "\t", strconv.FormatFloat(r.Score(d), 'g', 12, 64))
			case text.Rewriter:
				_, _, reason := r.Rewrite(d)
				d.Reset(rec.Text) // the score of the original text, not the rewritten one
				if reason == "" {
					reason = "keep"
				}
				fmt.Fprint(out, "\t", reason)
			}
		}
		fmt.Fprintln(out)
	}
	if err := in.Err(); err != nil {
		log.Fatal(err)
	}
}
