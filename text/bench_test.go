//go:build unix

package text

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchTexts returns the texts of $SLUICE_BENCH_CORPUS (a JSONL file,
// optionally .gz), or, without it, generated prose-like texts.
func benchTexts(b *testing.B) ([]string, int64) {
	var texts []string
	var n int64
	if path := os.Getenv("SLUICE_BENCH_CORPUS"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				b.Fatal(err)
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<30)
		for sc.Scan() {
			var rec struct{ Text string }
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				b.Fatal(err)
			}
			texts = append(texts, rec.Text)
			n += int64(len(rec.Text))
		}
		return texts, n
	}
	words := strings.Fields("the river flows past the old mill and the wheel turns while children watch from the bridge of stone in the quiet morning light")
	for i := range 2000 {
		var sb strings.Builder
		for j := range 300 {
			sb.WriteString(words[(i*7+j*13+j*j)%len(words)])
			if j%12 == 11 {
				sb.WriteString(".\n")
			} else {
				sb.WriteByte(' ')
			}
		}
		texts = append(texts, sb.String())
		n += int64(sb.Len())
	}
	return texts, n
}

// BenchmarkPresets measures each preset's rules over the texts, one
// Doc per document as the quality_filter stage uses them (every rule runs:
// nothing is dropped early).
func BenchmarkPresets(b *testing.B) {
	texts, n := benchTexts(b)
	for _, p := range Presets() {
		rules, _ := PresetRules(p.Name)
		b.Run(p.Name, func(b *testing.B) {
			b.SetBytes(n)
			d := NewDoc("")
			cpu0 := cpuTime()
			defer func() {
				b.ReportMetric(float64(n)*float64(b.N)/1e6/(cpuTime()-cpu0).Seconds(), "MB/cpu-s")
			}()
			for range b.N {
				for _, t := range texts {
					d.Reset(t)
					for _, r := range rules {
						switch r := r.(type) {
						case Filter:
							r.Score(d)
						case Rewriter:
							r.Rewrite(d)
							d.Reset(t)
						}
					}
				}
			}
		})
	}
}
