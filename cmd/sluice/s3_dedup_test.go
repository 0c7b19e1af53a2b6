package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/sluice/internal/s3test"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
)

// s3Proxy stands between sluice and the S3 server: it forwards every
// request, except those its hook takes (the hook returns true when it has
// answered).
type s3Proxy struct {
	rp       *httputil.ReverseProxy
	hs       *http.Server
	endpoint string
	mu       sync.Mutex
	hook     func(w http.ResponseWriter, r *http.Request) bool
}

func startS3Proxy(t *testing.T, target string) *s3Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &s3Proxy{rp: httputil.NewSingleHostReverseProxy(u)}
	p.rp.ErrorLog = nil
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.hs = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go p.hs.Serve(l)
	t.Cleanup(func() { p.hs.Close() })
	p.endpoint = "http://" + l.Addr().String()
	return p
}

func (p *s3Proxy) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	p.hook = h
	p.mu.Unlock()
}

func (p *s3Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	h := p.hook
	p.mu.Unlock()
	if h != nil && h(w, r) {
		return
	}
	p.rp.ServeHTTP(w, r)
}

// isUpload reports whether r writes an object (or a part) whose key holds
// sub.
func isUpload(r *http.Request, sub string) bool {
	return (r.Method == http.MethodPut || r.Method == http.MethodPost) && strings.Contains(r.URL.Path, sub)
}

// dedupFixture is the local input of the S3 dedup tests, its copy on the
// S3 server, and the result of a local run.
type dedupFixture struct {
	srv    *s3test.Server
	bucket string
	dir    string
	// local is the local run's output directory.
	local string
}

// newDedupFixture copies the first 250 records of two files of the shipped
// sample (with near-duplicates among them) to a local
// directory and to s3://BUCKET/in, and runs `sluice dedup fuzzy` locally
// with args.
func newDedupFixture(t *testing.T, args ...string) *dedupFixture {
	t.Helper()
	srv, bucket := s3Env(t)
	f := &dedupFixture{srv: srv, bucket: bucket, dir: t.TempDir()}
	for _, name := range []string{"part-00.jsonl", "part-01.jsonl"} {
		b, err := os.ReadFile(filepath.Join("../../examples/fuzzy/data", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(b), "\n")
		writeFile(t, filepath.Join(f.dir, "in", name), strings.Join(lines[:min(len(lines), 250)], ""))
	}
	uploadDir(t, filepath.Join(f.dir, "in"), f.url("in"))
	f.local = filepath.Join(f.dir, "local")
	r := timedSluice(t, append([]string{"dedup", "fuzzy", "--input", filepath.Join(f.dir, "in"), "--output", f.local,
		"--removed-ids-out", filepath.Join(f.local, "removed.txt")}, args...)...)
	if r.code != 0 {
		t.Fatalf("local run: %s", r)
	}
	return f
}

// timedSluice runs sluice and logs how long it took.
func timedSluice(t *testing.T, args ...string) result {
	t.Helper()
	start := time.Now()
	r := sluice(args...)
	t.Logf("%.2fs: sluice %s", time.Since(start).Seconds(), strings.Join(args, " "))
	return r
}

func (f *dedupFixture) url(key string) string { return "s3://" + f.bucket + "/" + key }

// sameAsLocal checks that the output at out (a local directory or an
// s3:// prefix) holds the same kept records, byte for byte, the same
// duplicate lists and the same removed ids as the local run, and returns
// its summary.
func (f *dedupFixture) sameAsLocal(t *testing.T, out string) fuzzySummary {
	t.Helper()
	ctx := context.Background()
	for _, rel := range []string{"deduplicated/part-00.jsonl", "deduplicated/part-01.jsonl", "duplicates/part.0.parquet", "duplicates/part.1.parquet", "removed.txt"} {
		want, err := os.ReadFile(filepath.Join(f.local, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := dataio.ReadFile(ctx, dataio.JoinPath(out, rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s: %d bytes differ from the local run's %d", dataio.JoinPath(out, rel), len(got), len(want))
		}
	}
	b, err := dataio.ReadFile(ctx, dataio.JoinPath(out, "summary.json"))
	if err != nil {
		t.Fatalf("no summary.json in %s: %v", out, err)
	}
	var sum fuzzySummary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	want, _ := readSummary(t, f.local)
	if sum.Records != want.Records || sum.Duplicates != want.Duplicates || sum.Duplicates == 0 || sum.RecordsWritten+sum.Duplicates != sum.Records {
		t.Fatalf("summary of %s: %+v; local: %+v", out, sum, want)
	}
	return sum
}

// TestS3DedupFuzzy runs `sluice dedup fuzzy` with input, output, cache and
// --removed-ids-out on a real S3 server (with --verify-threshold, whose
// stores are copied to local scratch): the kept records, duplicate lists
// and removed ids are byte-identical to a local run. S3 input with a local
// output does the same; a re-run resumes every phase from the S3 cache;
// and through a proxy answering every 25th request with 503 SlowDown the
// run retries and gives the same result.
func TestS3DedupFuzzy(t *testing.T) {
	common := []string{"--workers", "2", "--verify-threshold", "0.8"}
	f := newDedupFixture(t, common...)
	scratch := filepath.Join(f.dir, "scratch")
	s3Args := append([]string{"dedup", "fuzzy", "--input", f.url("in"), "--output", f.url("out"), "--cache", f.url("cache"),
		"--removed-ids-out", f.url("out/removed.txt"), "--scratch", scratch}, common...)
	r := timedSluice(t, s3Args...)
	if r.code != 0 {
		t.Fatalf("S3 run: %s", r)
	}
	sum := f.sameAsLocal(t, f.url("out"))
	if sum.Dir != f.url("out/deduplicated") {
		t.Errorf("summary names the output %q", sum.Dir)
	}
	if ents, err := os.ReadDir(scratch); err == nil && len(ents) > 0 {
		t.Errorf("scratch holds %d entries after the run", len(ents))
	}
	if keys := listObjects(t, f.srv, f.bucket, "cache/"); !slices.ContainsFunc(keys, func(k string) bool { return strings.HasSuffix(k, "minhash/_DONE.json") }) {
		t.Fatalf("no MinHash phase in the S3 cache: %v", keys)
	}
	// The removal ledger and report.html are on S3 too, and sluice explain
	// reads them, and the documents' texts, from there.
	if keys := listObjects(t, f.srv, f.bucket, "out/"); !slices.Contains(keys, "report.html") || !slices.Contains(keys, "ledger/part.0.parquet") {
		t.Fatalf("no report.html or ledger part in the S3 output: %v", keys)
	}
	removed, err := dataio.ReadFile(context.Background(), f.url("out/removed.txt"))
	if err != nil || len(removed) == 0 {
		t.Fatalf("removed ids: %q, %v", removed, err)
	}
	id := strings.Trim(strings.SplitN(string(removed), "\n", 2)[0], `"`)
	if r := sluice("explain", "--output", f.url("out"), id); r.code != 0 || !strings.Contains(r.stdout, id+" was removed as a duplicate") || !strings.Contains(r.stdout, "Kept document (first") {
		t.Fatalf("explain %s over S3: %s", id, r)
	}

	// S3 input, local output and cache.
	mixed := filepath.Join(f.dir, "mixed")
	r = timedSluice(t, append([]string{"dedup", "fuzzy", "--input", f.url("in"), "--output", mixed, "--removed-ids-out", filepath.Join(mixed, "removed.txt")}, common...)...)
	if r.code != 0 {
		t.Fatalf("S3 input, local output: %s", r)
	}
	f.sameAsLocal(t, mixed)

	// The same command with --overwrite resumes every phase from the cache.
	r = timedSluice(t, append(s3Args, "--overwrite")...)
	if r.code != 0 || strings.Count(r.stderr, "resumed from cache") != 4 {
		t.Fatalf("re-run: want 4 phases resumed from the S3 cache: %s", r)
	}
	f.sameAsLocal(t, f.url("out"))

	// Injected 503 SlowDown answers are retried: the run completes.
	proxy := startS3Proxy(t, f.srv.Endpoint)
	var n, injected atomic.Int64
	proxy.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if n.Add(1)%25 != 0 {
			return false
		}
		injected.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
		return true
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy.endpoint)
	t.Setenv("AWS_MAX_ATTEMPTS", "5")
	r = timedSluice(t, append([]string{"dedup", "fuzzy", "--input", f.url("in"), "--output", f.url("out503"), "--cache", f.url("cache503"),
		"--removed-ids-out", f.url("out503/removed.txt")}, common...)...)
	if r.code != 0 {
		t.Fatalf("through 503s: %s", r)
	}
	if injected.Load() < 3 {
		t.Fatalf("only %d 503s injected in %d requests: the test did not exercise retries", injected.Load(), n.Load())
	}
	f.sameAsLocal(t, f.url("out503"))
}

// TestS3DedupServerStopped stops the S3 server while the removal phase
// uploads the deduplicated dataset: the run fails (exit 1) with an error
// naming the object it failed on, leaves no summary.json (the mark of a finished run)
// and no object at the name being written; after a restart the same
// command resumes from the cached phases and gives the local run's result.
// Wrong credentials stop a run before any work, with exit code 2.
func TestS3DedupServerStopped(t *testing.T) {
	f := newDedupFixture(t, "--workers", "2")
	args := []string{"dedup", "fuzzy", "--input", f.url("in"), "--output", f.url("out"), "--cache", f.url("cache"),
		"--removed-ids-out", f.url("out/removed.txt"), "--workers", "2"}

	// Wrong credentials: exit 2 before any work, for input and output.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789")
	for _, a := range [][]string{args, {"dedup", "fuzzy", "--input", filepath.Join(f.dir, "in"), "--output", f.url("out")}} {
		r := timedSluice(t, a...)
		if r.code != 2 || !strings.Contains(r.stderr, "credentials were refused") || !strings.Contains(r.stderr, f.bucket) || strings.Contains(r.stderr, "not-the-secret") {
			t.Fatalf("wrong credentials: %s", r)
		}
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.Secret)
	if keys := listObjects(t, f.srv, f.bucket, ""); slices.ContainsFunc(keys, func(k string) bool { return !strings.HasPrefix(k, "in/") }) {
		t.Fatalf("runs refused for their credentials wrote objects: %v", keys)
	}

	proxy := startS3Proxy(t, f.srv.Endpoint)
	var stopped atomic.Bool
	proxy.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !stopped.Load() && !isUpload(r, "/out/deduplicated/") {
			return false
		}
		if !stopped.Swap(true) {
			f.srv.Stop()
		}
		panic(http.ErrAbortHandler) // the connection breaks, as with a dead server
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy.endpoint)
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	r := timedSluice(t, args...)
	if err := f.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if !stopped.Load() {
		t.Fatalf("the server was never stopped: %s", r)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "sluice: ") || !strings.Contains(r.stderr, f.url("")) || !strings.Contains(r.stderr, "no answer from the S3 endpoint") {
		t.Fatalf("run with the server stopped: want exit 1 and an error naming the object: %s", r)
	}
	keys := listObjects(t, f.srv, f.bucket, "out/")
	if slices.Contains(keys, "summary.json") || slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "deduplicated/") }) {
		t.Fatalf("the failed run left a finished-looking or partial output: %v", keys)
	}

	t.Setenv("AWS_ENDPOINT_URL", f.srv.Endpoint)
	r = timedSluice(t, args...)
	if r.code != 0 || strings.Count(r.stderr, "resumed from cache") != 4 {
		t.Fatalf("rerun after the restart: want exit 0, 4 phases resumed: %s", r)
	}
	f.sameAsLocal(t, f.url("out"))
}

// TestS3InterruptMidUpload sends SIGINT to a `sluice dedup exact` process
// while a multipart upload of its output is in flight: it exits 1 saying
// it was interrupted, and leaves no object at the output's names, no
// summary.json and no incomplete multipart upload. The same command then
// completes, with the output of a local run.
func TestS3InterruptMidUpload(t *testing.T) {
	srv, bucket := s3Env(t)
	dir := t.TempDir()
	// One input of about 9 MiB: its output is uploaded in parts (8 MiB).
	var b strings.Builder
	for i := 0; b.Len() < 9<<20; i++ {
		fmt.Fprintf(&b, `{"id":%d,"text":"document %d %s"}`+"\n", i, i%50000, strings.Repeat("lorem ipsum ", 20))
	}
	in := writeFile(t, filepath.Join(dir, "in", "big.jsonl"), b.String())
	proxy := startS3Proxy(t, srv.Endpoint)
	inFlight, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	proxy.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("partNumber") == "" || !strings.Contains(r.URL.Path, "/out/deduplicated/") {
			return false
		}
		once.Do(func() { close(inFlight) })
		select { // hold the part until the client gives up on it
		case <-r.Context().Done():
		case <-release:
		case <-time.After(20 * time.Second):
		}
		panic(http.ErrAbortHandler)
	})
	a, _ := json.Marshal([]string{"dedup", "exact", "--input", in, "--output", "s3://" + bucket + "/out", "--workers", "1"})
	env := append(srv.Env(), "AWS_ENDPOINT_URL="+proxy.endpoint, "SLUICE_ARGS="+string(a))
	child := natstest.StartChild(t, "sluice", env...)
	select {
	case <-inFlight:
	case <-time.After(60 * time.Second):
		t.Fatalf("no part upload seen:\n%s", child.Output())
	}
	if err := child.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited, _ := child.Wait(30 * time.Second)
	close(release)
	if !exited {
		t.Fatalf("still running 30 s after SIGINT:\n%s", child.Output())
	}
	if code := child.Cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(child.Output(), "interrupted") {
		t.Fatalf("after SIGINT: exit %d\n%s", code, child.Output())
	}
	keys := listObjects(t, srv, bucket, "out/")
	if slices.Contains(keys, "summary.json") || slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "deduplicated/") }) {
		t.Fatalf("the interrupted run left output objects: %v", keys)
	}
	for u := range srv.Client(t).ListIncompleteUploads(context.Background(), bucket, "out/", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Fatalf("an incomplete multipart upload is left: %s", u.Key)
	}

	// The same command, run again, completes: the S3 output equals a
	// local run's, byte for byte.
	if r := sluice("dedup", "exact", "--input", in, "--output", "s3://"+bucket+"/out", "--workers", "1"); r.code != 0 {
		t.Fatalf("rerun after the interrupt: %s", r)
	}
	local := filepath.Join(dir, "local")
	if r := sluice("dedup", "exact", "--input", in, "--output", local, "--workers", "1"); r.code != 0 {
		t.Fatalf("local run: %s", r)
	}
	want := readFile(t, filepath.Join(local, "deduplicated", "big.jsonl"))
	got, err := dataio.ReadFile(context.Background(), "s3://"+bucket+"/out/deduplicated/big.jsonl")
	if err != nil || string(got) != want || len(want) < 8<<20 {
		t.Fatalf("S3 output: %d bytes (%v); local: %d bytes", len(got), err, len(want))
	}
}
