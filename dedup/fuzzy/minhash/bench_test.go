package minhash

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// benchCorpusPath is the shared benchmark corpus (JSON lines with a "text"
// field), next to the repository checkout. Override with
// SLUICE_BENCH_CORPUS. Benchmarks that need it are skipped when it is absent;
// tests never read it.
func benchCorpusPath() string {
	if p := os.Getenv("SLUICE_BENCH_CORPUS"); p != "" {
		return p
	}
	return filepath.Join("..", "..", "..", "..", "shared", "bench", "corpus", "corpus.jsonl.gz")
}

// loadBenchCorpus returns up to maxBytes of document texts from the corpus.
func loadBenchCorpus(b *testing.B, maxBytes int) [][]byte {
	b.Helper()
	f, err := os.Open(benchCorpusPath())
	if err != nil {
		b.Skipf("benchmark corpus not available: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatalf("open corpus %s: %v", benchCorpusPath(), err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var docs [][]byte
	total := 0
	for sc.Scan() && total < maxBytes {
		var rec struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			b.Fatalf("decode corpus line: %v", err)
		}
		docs = append(docs, []byte(rec.Text))
		total += len(rec.Text)
	}
	if err := sc.Err(); err != nil {
		b.Fatalf("read corpus: %v", err)
	}
	return docs
}

// syntheticEnglish returns English-like ASCII documents (words drawn from a
// small vocabulary, with punctuation), used when the corpus is absent.
func syntheticEnglish(n, docLen int) [][]byte {
	words := strings.Fields(`the of and to a in is it you that he was for on are with as I his they be at one
		have this from or had by hot word but what some we can out other were all there when up use your how said an
		each she which do their time if will way about many then them write would like so these her long make thing
		see him two has look more day could go come did number sound no most people my over know water than call
		first who may down side been now find any new work part take get place made live where after back little only`)
	r := rand.New(rand.NewPCG(42, 42))
	docs := make([][]byte, n)
	for i := range docs {
		var sb strings.Builder
		for sb.Len() < docLen {
			sb.WriteString(words[r.IntN(len(words))])
			switch r.IntN(12) {
			case 0:
				sb.WriteString(". ")
			case 1:
				sb.WriteString(", ")
			default:
				sb.WriteByte(' ')
			}
		}
		docs[i] = []byte(sb.String())
	}
	return docs
}

// measureCPU runs the benchmark loop body f while locked to one OS thread
// and reports MB per CPU-second (the thread's own CPU time) as "cpuMB/s".
func measureCPU(b *testing.B, bytesPerOp int, f func()) {
	lockThread()
	defer unlockThread()
	b.SetBytes(int64(bytesPerOp))
	start, ok := threadCPU()
	n := 0
	b.ResetTimer()
	for b.Loop() {
		f()
		n++
	}
	b.StopTimer()
	if end, ok2 := threadCPU(); ok && ok2 && end > start {
		b.ReportMetric(float64(bytesPerOp)*float64(n)/(end-start).Seconds()/1e6, "cpuMB/s")
	}
}

func benchSignature32(b *testing.B, docs [][]byte, simd bool) {
	h, err := NewHasher(DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	if simd && !simdAvailable() {
		b.Skip("SIMD kernel unavailable (amd64 with AVX2, without the purego tag)")
	}
	h.simd = simd
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	dst := make([]uint32, DefaultNumPerm)
	measureCPU(b, total, func() {
		for _, d := range docs {
			dst = h.Signature32(d, dst)
		}
	})
}

// BenchmarkSignature32 reports text throughput (MB/s) of the default scheme
// (260 permutations, 24-character shingles) with the SIMD and scalar
// kernels, on the shared corpus and on synthetic English-like text.
func BenchmarkSignature32(b *testing.B) {
	for _, simd := range []bool{true, false} {
		b.Run(kernelName(simd)+"/corpus", func(b *testing.B) {
			benchSignature32(b, loadBenchCorpus(b, 4<<20), simd)
		})
		b.Run(kernelName(simd)+"/synthetic", func(b *testing.B) {
			benchSignature32(b, syntheticEnglish(400, 3000), simd)
		})
	}
}

// BenchmarkSignature64 reports throughput of the 64-bit scheme, with the
// vector kernel and with the scalar one.
func BenchmarkSignature64(b *testing.B) {
	for _, simd := range []bool{true, false} {
		b.Run(kernelName(simd), func(b *testing.B) {
			if simd && !simd64Available() {
				b.Skip("no 64-bit vector kernel in this build or on this CPU")
			}
			p := DefaultParams()
			p.HashBits = 64
			h, err := NewHasher(p)
			if err != nil {
				b.Fatal(err)
			}
			h.simd64 = simd
			docs := syntheticEnglish(100, 3000)
			total := 0
			for _, d := range docs {
				total += len(d)
			}
			dst := make([]uint64, p.NumPerm)
			measureCPU(b, total, func() {
				for _, d := range docs {
					dst = h.Signature64(d, dst)
				}
			})
		})
	}
}

// BenchmarkShingleHash32 isolates shingle hashing (no permutations):
// MB/s of text hashed into 24-character window hashes.
func BenchmarkShingleHash32(b *testing.B) {
	docs := syntheticEnglish(400, 3000)
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	out := make([]uint32, blockLen)
	for _, vec := range []bool{true, false} {
		b.Run(kernelName(vec), func(b *testing.B) {
			if vec && !simdAvailable() {
				b.Skip("SIMD unavailable")
			}
			measureCPU(b, total, func() {
				for _, d := range docs {
					w := newWindows(d, DefaultCharNgrams)
					for w.hash32(d, out, 42, vec) > 0 {
					}
				}
			})
		})
	}
}

// BenchmarkKernel32 isolates the permutation kernel: one block of hashes
// against 260 permutations. Reported bytes are shingles (≈ ASCII bytes).
func BenchmarkKernel32(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	a, c := randomCoefficients(r, DefaultNumPerm)
	acc := make([]uint32, len(a))
	hs := make([]uint32, blockLen)
	for i := range hs {
		hs[i] = r.Uint32()
	}
	for _, simd := range []bool{true, false} {
		b.Run(kernelName(simd), func(b *testing.B) {
			if simd && !simdAvailable() {
				b.Skip("SIMD kernel unavailable")
			}
			measureCPU(b, len(hs), func() {
				if simd {
					minUpdate32SIMD(acc, a, c, hs)
				} else {
					minUpdate32Scalar(acc, a, c, hs)
				}
			})
		})
	}
}

// BenchmarkSignature32Parallel runs the default scheme on every core at
// once (one Hasher clone per goroutine), to compare all-core throughput with
// the single-core figures (run with -cpu 1,2).
func BenchmarkSignature32Parallel(b *testing.B) {
	for _, simd := range []bool{true, false} {
		b.Run(kernelName(simd)+"/corpus", func(b *testing.B) {
			if simd && !simdAvailable() {
				b.Skip("SIMD kernel unavailable (amd64 with AVX2, without the purego tag)")
			}
			docs := loadBenchCorpus(b, 4<<20)
			h, err := NewHasher(DefaultParams())
			if err != nil {
				b.Fatal(err)
			}
			h.simd = simd
			total := 0
			for _, d := range docs {
				total += len(d)
			}
			// One op is one document; bytes per op is the mean document size.
			b.SetBytes(int64(total / len(docs)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				hc := h.Clone()
				hc.simd = simd
				dst := make([]uint32, DefaultNumPerm)
				i := 0
				for pb.Next() {
					dst = hc.Signature32(docs[i%len(docs)], dst)
					i++
				}
			})
		})
	}
}

// BenchmarkScheme compares the two signature schemes on the same documents
// in one run: NeMo's with the default build's kernels (AVX2 where the CPU
// has it), OPH with its AVX-512 window kernel (where the CPU has it) and
// with the pure-Go loop. Run it several times in a loop, e.g.
//
//	for i in 1 2 3 4 5; do GOMAXPROCS=1 go test -run '^$' -bench Scheme -count 1 ./dedup/fuzzy/minhash/; done
//
// so that machine noise hits both schemes alike.
func BenchmarkScheme(b *testing.B) {
	inputs := []struct {
		name string
		docs func(b *testing.B) [][]byte
	}{
		{"corpus", func(b *testing.B) [][]byte { return loadBenchCorpus(b, 4<<20) }},
		{"synthetic", func(*testing.B) [][]byte { return syntheticEnglish(400, 3000) }},
	}
	for _, in := range inputs {
		for _, v := range []struct {
			name   string
			scheme Scheme
			vec    bool
		}{{"nemo", SchemeNeMo, false}, {"oph", SchemeOPH, true}, {"oph-purego", SchemeOPH, false}} {
			b.Run(in.name+"/"+v.name, func(b *testing.B) {
				docs := in.docs(b)
				p := DefaultParams()
				p.Scheme = v.scheme
				h, err := NewHasher(p)
				if err != nil {
					b.Fatal(err)
				}
				if v.vec && !h.vec {
					b.Skip("no OPH vector kernel in this build or on this CPU")
				}
				h.vec = v.vec
				total := 0
				for _, d := range docs {
					total += len(d)
				}
				dst := make([]uint32, DefaultNumPerm)
				measureCPU(b, total, func() {
					for _, d := range docs {
						dst = h.Signature32(d, dst)
					}
				})
			})
		}
	}
}

// wy24 is ascii24 with a cheaper window hash, two dependent 64×64→128-bit
// multiplies folded wyhash-style, instead of XXH3's two independent ones
// plus its avalanche multiply. It is not used: BenchmarkOPHWindowHash
// measures what XXH3, a standard hash with reference implementations,
// costs against it.
func wy24(src unsafe.Pointer, n int, key *[4]uint64, acc unsafe.Pointer, k uint64) {
	mum := func(a, b uint64) uint64 { hi, lo := bits.Mul64(a, b); return hi ^ lo }
	k0, k1, k2 := key[0], key[1], key[2]
	for range n {
		a, b, c := *(*uint64)(src), *(*uint64)(unsafe.Add(src, 8)), *(*uint64)(unsafe.Add(src, 16))
		x := mum(mum(a^k0, b^k1)^c, k2)
		slot := (*uint32)(unsafe.Add(acc, ophBin(x, k)*4))
		*slot = min(*slot, ophValue(x))
		src = unsafe.Add(src, 1)
	}
}

// BenchmarkOPHWindowHash isolates OPH's ASCII window loop (hash, bin,
// minimum; no densification), with XXH3 and with the cheaper wy24 mix.
func BenchmarkOPHWindowHash(b *testing.B) {
	docs := syntheticEnglish(400, 3000)
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	o := newOPHTables(ophParams(DefaultNumPerm, 24, DefaultSeed))
	acc := make([]uint32, DefaultNumPerm)
	for name, loop := range map[string]func(unsafe.Pointer, int, *[4]uint64, unsafe.Pointer, uint64){"xxh3": ascii24, "wy": wy24} {
		b.Run(name, func(b *testing.B) {
			measureCPU(b, total, func() {
				for _, d := range docs {
					for i := range acc {
						acc[i] = ophEmpty
					}
					loop(unsafe.Pointer(&d[0]), len(d)-23, &o.key, unsafe.Pointer(&acc[0]), uint64(len(acc)))
				}
			})
		})
	}
}
