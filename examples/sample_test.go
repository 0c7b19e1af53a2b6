package examples

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite data/sample.jsonl from the generator")

// words is the vocabulary of the synthetic documents.
var words = strings.Fields(`river stone sluice gate water flow channel mill wheel grain
	bread field harvest season rain cloud wind valley hill forest path bridge town market
	lantern morning evening quiet bright slow steady careful simple small large old new`)

// sampleJSONL generates n synthetic records deterministically: an id, a text
// of a few sentences from a small vocabulary, and a source field. Every
// seventh record is very short, so that a length filter has work to do.
func sampleJSONL(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for i := range n {
		nWords := 8 + r.IntN(40)
		if i%7 == 3 {
			nWords = 1 + r.IntN(3)
		}
		ws := make([]string, nWords)
		for j := range ws {
			ws[j] = words[r.IntN(len(words))]
		}
		text := strings.ToUpper(ws[0][:1]) + strings.Join(ws, " ")[1:] + "."
		fmt.Fprintf(&b, "{\"id\":\"doc-%05d\",\"text\":%q,\"source\":\"synthetic\"}\n", i, text)
	}
	return b.Bytes()
}

// TestSampleData checks that data/sample.jsonl is what the generator makes;
// run with -update to rewrite it.
func TestSampleData(t *testing.T) {
	want := sampleJSONL(300)
	if *update {
		if err := os.WriteFile("data/sample.jsonl", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("data/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("data/sample.jsonl differs from the generator; run go test ./examples/ -update")
	}
}
