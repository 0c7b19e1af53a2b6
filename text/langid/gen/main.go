// Command gen writes text/langid's model (model.bin.zst) from lingua-go's
// unigram, bigram and trigram models (Apache-2.0, see text/langid/NOTICE):
// for every n-gram, the languages that have it and its probability in each,
// as -ln(p) in 1/1024 nats; and each language's script. Run from the
// repository root:
//
//	go run ./text/langid/gen            (lingua-go's directory from go list)
//	go run ./text/langid/gen -lingua DIR -out text/langid/model.bin.zst
package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/klauspost/compress/zstd"
	"github.com/pemistahl/lingua-go/serialization"
	"google.golang.org/protobuf/proto"
)

// scripts are the scripts a language can be assigned, by name (as in
// package unicode).
var scripts = []string{"Latin", "Cyrillic", "Arabic", "Devanagari", "Greek", "Han", "Hiragana", "Katakana", "Hangul",
	"Armenian", "Georgian", "Hebrew", "Thai", "Bengali", "Gujarati", "Gurmukhi", "Tamil", "Telugu"}

type entry struct {
	lang uint8
	q    uint16
}

func main() {
	dir := flag.String("lingua", "", "lingua-go's module directory (default: go list -m)")
	out := flag.String("out", "text/langid/model.bin.zst", "model file to write")
	flag.Parse()
	if *dir == "" {
		b, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/pemistahl/lingua-go").Output()
		if err != nil {
			log.Fatalf("go list -m github.com/pemistahl/lingua-go: %v", err)
		}
		*dir = strings.TrimSpace(string(b))
	}
	root := filepath.Join(*dir, "language-models")
	dirs, err := os.ReadDir(root)
	if err != nil {
		log.Fatal(err)
	}
	var codes, langScripts []string
	ngrams := map[string][]entry{}
	for _, d := range dirs {
		code := d.Name()
		li := uint8(len(codes))
		codes = append(codes, code)
		var uni map[string]float64
		for _, n := range []string{"unigram", "bigram", "trigram"} {
			m, err := readModel(filepath.Join(root, code, n+"s.pb.bin.zip"))
			if err != nil {
				log.Fatalf("%s %s: %v", code, n, err)
			}
			if n == "unigram" {
				uni = m
			}
			for g, p := range m {
				ngrams[g] = append(ngrams[g], entry{li, quantize(p)})
			}
		}
		langScripts = append(langScripts, dominantScript(uni))
	}
	data := encode(codes, langScripts, ngrams)
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d languages, %d n-grams, %d bytes (%d compressed) -> %s\n", len(codes), len(ngrams), len(data), buf.Len(), *out)
}

// readModel reads one of lingua's zipped protobuf models (a missing file is
// an empty model: languages with a script of their own have no trigrams).
func readModel(path string) (map[string]float64, error) {
	z, err := zip.OpenReader(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer z.Close()
	r, err := z.File[0].Open()
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var m serialization.SerializableLanguageModel
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range m.NgramSets {
		for _, g := range s.Ngrams {
			out[g] = s.Probability
		}
	}
	return out, nil
}

// quantize returns -ln(p) in units of 1/1024 nat.
func quantize(p float64) uint16 {
	q := math.Round(-math.Log(p) * 1024)
	if q < 0 || q > math.MaxUint16 {
		log.Fatalf("probability %g out of range", p)
	}
	return uint16(q)
}

// dominantScript is the script carrying most of a unigram model's mass.
func dominantScript(uni map[string]float64) string {
	mass := map[string]float64{}
	for g, p := range uni {
		for _, s := range scripts {
			if r := []rune(g); len(r) == 1 && unicode.Is(unicode.Scripts[s], r[0]) {
				mass[s] += p
			}
		}
	}
	best := ""
	for _, s := range scripts {
		if mass[s] > mass[best] {
			best = s
		}
	}
	if best == "" {
		log.Fatal("a language without a known script")
	}
	return best
}

// encode writes the model: a header line, the languages (code, script),
// the numbers of n-grams and of entries, then the n-grams in byte order, each with its (language, -ln p) entries
// in language order. Counts and lengths are uvarints; -ln p is a
// little-endian uint16.
func encode(codes, langScripts []string, ngrams map[string][]entry) []byte {
	var b []byte
	b = append(b, "sluice-langid 1\n"...)
	b = binary.AppendUvarint(b, uint64(len(codes)))
	for i, c := range codes {
		b = appendString(b, c)
		b = appendString(b, langScripts[i])
	}
	keys := make([]string, 0, len(ngrams))
	for g := range ngrams {
		keys = append(keys, g)
	}
	sort.Strings(keys)
	total := 0
	for _, es := range ngrams {
		total += len(es)
	}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	b = binary.AppendUvarint(b, uint64(total))
	for _, g := range keys {
		es := ngrams[g]
		sort.Slice(es, func(i, j int) bool { return es[i].lang < es[j].lang })
		b = appendString(b, g)
		b = binary.AppendUvarint(b, uint64(len(es)))
		for _, e := range es {
			b = append(b, e.lang)
			b = binary.LittleEndian.AppendUint16(b, e.q)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
