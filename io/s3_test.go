package dataio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/sluice-data/sluice/internal/s3test"
	"github.com/sluice-data/sluice/task"
)

// useS3 points the s3:// backend at the shared versitygw (through endpoint
// when given, such as a fault proxy) and returns the server and a fresh
// bucket.
func useS3(t *testing.T, endpoint string) (*s3test.Server, string) {
	t.Helper()
	srv := s3test.Shared(t)
	if endpoint == "" {
		endpoint = srv.Endpoint
	}
	SetS3Options(S3Options{Endpoint: endpoint, Region: "us-east-1", MaxAttempts: 4, PartSize: minS3PartSize, Credentials: s3test.Credentials()})
	t.Cleanup(func() { SetS3Options(S3Options{}) })
	return srv, srv.Bucket(t)
}

// jsonlLines returns n JSONL records of about size bytes each.
func jsonlLines(n, size int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"id":%d,"text":"doc %d %s"}`+"\n", i, i, strings.Repeat("x", size))
		if i%7 == 3 {
			b.WriteString("\n") // blank lines take no record index
		}
	}
	return b.Bytes()
}

func putObject(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := WriteFile(context.Background(), p, data); err != nil {
		t.Fatal(err)
	}
}

// TestS3JSONLRoundTrip writes JSONL objects (plain, gzip, zstd; one large
// enough for a multipart upload) through the writers and reads them back
// with the reader: the bytes and the records are those of a local run.
func TestS3JSONLRoundTrip(t *testing.T) {
	srv, bucket := useS3(t, "")
	local := t.TempDir()
	data := jsonlLines(20000, 600) // ~12.5 MiB: three parts of 5 MiB
	for _, name := range []string{"a.jsonl", "b.jsonl.gz", "c.jsonl.zst"} {
		lp := writeFile(t, local, name, data)
		want := mustReadAll(t, mustJSONL(t, []string{lp}), 1<<30)
		url := "s3://" + bucket + "/in/" + name
		w, err := CreateJSONL(url, JSONLWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(want); err != nil {
			t.Fatal(err)
		}
		before := S3RequestCounts()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if name == "a.jsonl" && S3RequestCounts().Parts-before.Parts == 0 && w.Rows() > 0 {
			// the parts were uploaded during Write; check the total instead
			if S3RequestCounts().Parts == 0 {
				t.Fatalf("a 12 MiB object was written without a multipart upload")
			}
		}
		got := mustReadAll(t, mustJSONL(t, []string{url}), 1<<30)
		if g, w := col(t, got, "text").Strings, col(t, want, "text").Strings; !slices.Equal(g, w) {
			t.Fatalf("%s: %d texts read back, want %d (or they differ)", name, len(g), len(w))
		}
		if g, w := col(t, got, RowColumn).Ints, col(t, want, RowColumn).Ints; !slices.Equal(g, w) {
			t.Fatalf("%s: record indexes differ", name)
		}
		// The object holds exactly the bytes a local writer writes (no
		// aws-chunked framing stored, nothing lost).
		objFile := filepath.Join(srv.Dir, bucket, "in", name)
		raw, err := os.ReadFile(objFile)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(readDecompressedBytes(t, name, raw), bytes.ReplaceAll(data, []byte("\n\n"), []byte("\n"))) {
			t.Fatalf("%s: stored object's content differs from the records written", name)
		}
	}
	if c := S3RequestCounts(); c.Parts < 3 {
		t.Fatalf("%d parts uploaded, want a multipart upload of the 12 MiB object", c.Parts)
	}
}

func mustJSONL(t *testing.T, paths []string) *JSONLReader {
	t.Helper()
	r, err := NewJSONLReader(paths, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func readDecompressedBytes(t *testing.T, name string, raw []byte) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return readDecompressed(t, p)
}

// TestS3SectionsMatchWholeRead cuts a JSONL object into byte-range
// sections and a Parquet object into row-group sections: the sections'
// records, indexes and lines are those of a whole-file read.
func TestS3SectionsMatchWholeRead(t *testing.T) {
	_, bucket := useS3(t, "")
	data := jsonlLines(3000, 300)
	url := "s3://" + bucket + "/big.jsonl"
	putObject(t, url, data)
	secs, err := SplitJSONL(url, 128<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) < 4 {
		t.Fatalf("%d sections, want several", len(secs))
	}
	whole := mustReadAll(t, mustJSONL(t, []string{url}), 1<<30)
	var rows []int64
	for _, s := range secs {
		r, err := NewJSONLSectionReader(url, s, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b := mustReadAll(t, r, 1<<30)
		r.Close()
		rows = append(rows, col(t, b, RowColumn).Ints...)
	}
	if !slices.Equal(rows, col(t, whole, RowColumn).Ints) {
		t.Fatalf("sections give %d records, a whole read %d", len(rows), whole.NumRows())
	}
	if n, err := CountRecords(url); err != nil || n != int64(whole.NumRows()) {
		t.Fatalf("CountRecords = %d, %v; want %d", n, err, whole.NumRows())
	}
}

// writeParquetObject writes n rows in row groups of rg rows to url.
func writeParquetObject(t *testing.T, url string, n, rg int) {
	t.Helper()
	w, err := CreateParquet(url, ParquetWriterOptions{RowGroupRows: int64(rg), Compression: "none"})
	if err != nil {
		t.Fatal(err)
	}
	texts, ids := make([]string, n), make([]int64, n)
	for i := range n {
		texts[i] = fmt.Sprintf("document %d %s", i, strings.Repeat("y", 200+i%50))
		ids[i] = int64(i)
	}
	b := &task.DocumentBatch{TextColumn: "text", Columns: []*task.Column{
		{Name: "text", Type: task.String, Strings: texts}, {Name: "n", Type: task.Int64, Ints: ids}}}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestS3ParquetRangedReads reads a Parquet object's footer, and one
// section of its row groups, with ranged GETs: far fewer bytes than the
// object are fetched.
func TestS3ParquetRangedReads(t *testing.T) {
	_, bucket := useS3(t, "")
	url := "s3://" + bucket + "/p/data.parquet"
	writeParquetObject(t, url, 40000, 5000) // ~10 MB, 8 row groups
	fi, err := Stat(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	before := S3RequestCounts()
	n, err := CountRecords(url)
	if err != nil || n != 40000 {
		t.Fatalf("CountRecords = %d, %v", n, err)
	}
	footer := S3RequestCounts().GetBytes - before.GetBytes
	if footer > 2<<20 || footer*4 > fi.Size {
		t.Fatalf("reading the footer fetched %d of %d bytes", footer, fi.Size)
	}
	secs, err := SplitParquet(url, 1)
	if err != nil || len(secs) != 8 {
		t.Fatalf("SplitParquet: %d sections, %v", len(secs), err)
	}
	before = S3RequestCounts()
	r, err := NewParquetSectionReader(url, secs[5], ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := mustReadAll(t, r, 1<<30)
	r.Close()
	if got := col(t, b, "n").Ints; len(got) != 5000 || got[0] != 25000 {
		t.Fatalf("section 5 read %d rows starting at %v", len(got), got[:1])
	}
	if rows := col(t, b, RowColumn).Ints; rows[0] != 25000 {
		t.Fatalf("section 5's first record index is %d, want 25000", rows[0])
	}
	fetched := S3RequestCounts().GetBytes - before.GetBytes
	if fetched*3 > fi.Size {
		t.Fatalf("reading one of 8 row groups fetched %d of %d bytes", fetched, fi.Size)
	}
	// A whole read gives every row, as a local read does.
	whole := mustReadAll(t, mustParquet(t, url), 1<<30)
	if whole.NumRows() != 40000 {
		t.Fatalf("whole read: %d rows", whole.NumRows())
	}
}

func mustParquet(t *testing.T, paths ...string) *ParquetReader {
	t.Helper()
	r, err := NewParquetReader(paths, ReadOptions{IDField: "-"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestS3Partition lists an S3 prefix by the rules of a local walk.
func TestS3Partition(t *testing.T) {
	_, bucket := useS3(t, "")
	root := "s3://" + bucket + "/data"
	for _, k := range []string{"a.jsonl", "sub/b.jsonl.gz", "sub/deep/c.parquet", "_hidden/d.jsonl", ".tmp.jsonl",
		"notes.txt", "out/e.jsonl", "sub/_SUCCESS"} {
		putObject(t, root+"/"+k, []byte(`{"text":"x"}`+"\n"))
	}
	l, err := FilePartitioning{Paths: []string{root}, Exclude: []string{root + "/out"}}.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{root + "/a.jsonl", root + "/sub/b.jsonl.gz", root + "/sub/deep/c.parquet"}
	if !slices.Equal(l.Files, want) {
		t.Fatalf("files %v, want %v", l.Files, want)
	}
	if len(l.Skipped) != 5 {
		t.Fatalf("skipped %v, want 5 entries", l.Skipped)
	}
	// A single object is taken as is; a missing prefix is an error
	// naming it.
	l, err = FilePartitioning{Paths: []string{root + "/notes.txt"}}.List()
	if err != nil || len(l.Files) != 1 {
		t.Fatalf("single object: %v, %v", l.Files, err)
	}
	if _, err := (FilePartitioning{Paths: []string{root + "/nope"}}).List(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), root+"/nope") {
		t.Fatalf("missing prefix: %v", err)
	}
	groups, err := FilePartitioning{Paths: []string{root}, BlockSize: 1}.Groups()
	if err != nil || len(groups) != 4 {
		t.Fatalf("block-size groups %v, %v", groups, err)
	}
}

// TestS3OutputRules applies the output rules to an S3 prefix: records
// under _sluice/, a foreign object refused and never deleted, an earlier
// run's objects removed by overwrite, append renaming.
func TestS3OutputRules(t *testing.T) {
	_, bucket := useS3(t, "")
	dir := "s3://" + bucket + "/out"
	ctx := context.Background()
	write := func(mode OutputMode, name, body string) string {
		t.Helper()
		o, err := OpenOutput(dir, mode)
		if err != nil {
			t.Fatal(err)
		}
		p, err := o.Begin(name)
		if err != nil {
			t.Fatal(err)
		}
		w, err := Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := o.Commit(p, 1); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := PrepareOutput(dir, PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	p1 := write(OutputError, "part.jsonl", "one\n")
	if p1 != dir+"/part.jsonl" {
		t.Fatalf("Begin returned %s", p1)
	}
	// A second run in error mode is refused, naming the file.
	if _, err := PrepareOutput(dir, PrepareOptions{Remedy: "pass --overwrite"}); !errors.Is(err, ErrOutputRejected) || !strings.Contains(err.Error(), "part.jsonl") {
		t.Fatalf("occupied output: %v", err)
	}
	putObject(t, dir+"/theirs.jsonl", []byte("not sluice's\n"))
	p, err := PrepareOutput(dir, PrepareOptions{Mode: OutputOverwrite})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Removed) != 1 || p.Removed[0].Path != "part.jsonl" || !slices.Equal(p.Kept, []string{"theirs.jsonl"}) {
		t.Fatalf("overwrite removed %v, kept %v", p.Removed, p.Kept)
	}
	if _, err := Stat(ctx, dir+"/theirs.jsonl"); err != nil {
		t.Fatalf("the foreign object is gone: %v", err)
	}
	// Begin refuses to overwrite the foreign object in every mode but append.
	o, _ := OpenOutput(dir, OutputOverwrite)
	if _, err := o.Begin("theirs.jsonl"); !errors.Is(err, ErrOutputRejected) {
		t.Fatalf("Begin over a foreign object: %v", err)
	}
	write(OutputOverwrite, "part.jsonl", "two\n")
	if _, err := PrepareOutput(dir, PrepareOptions{Mode: OutputAppend}); err != nil {
		t.Fatal(err)
	}
	if got := write(OutputAppend, "part.jsonl", "three\n"); got != dir+"/part-1.jsonl" {
		t.Fatalf("append wrote %s", got)
	}
	scan, err := ScanOutput(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(scan.Ours) != 2 || !slices.Equal(scan.Foreign, []string{"theirs.jsonl"}) {
		t.Fatalf("scan: ours %v, foreign %v", scan.Ours, scan.Foreign)
	}
	// A record whose object was replaced by someone else no longer proves
	// the object is Sluice's.
	putObject(t, dir+"/part.jsonl", []byte("replaced by hand, longer\n"))
	scan, err = ScanOutput(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(scan.Foreign, "part.jsonl") {
		t.Fatalf("a replaced object still counts as Sluice's: ours %v", scan.Ours)
	}
}

// TestS3Errors: a missing key wraps fs.ErrNotExist and names bucket and
// key; a missing bucket and refused credentials are set-up errors that say
// so, and never show the secret.
func TestS3Errors(t *testing.T) {
	srv, bucket := useS3(t, "")
	ctx := context.Background()
	_, err := Open(ctx, "s3://"+bucket+"/no/such.jsonl")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "s3://"+bucket+"/no/such.jsonl") {
		t.Fatalf("missing key: %v", err)
	}
	_, err = NewJSONLReader([]string{"s3://nosuchbucket-x/a.jsonl"}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = CheckStorage(ctx, "s3://nosuchbucket-x/a", false)
	if !errors.Is(err, ErrStorageSetup) || !strings.Contains(err.Error(), `bucket "nosuchbucket-x" does not exist`) {
		t.Fatalf("missing bucket: %v", err)
	}
	if err := CheckStorage(ctx, "s3://"+bucket+"/out", true); err != nil {
		t.Fatalf("CheckStorage with good credentials: %v", err)
	}
	const secret = "WRONGSECRETwrongsecret"
	SetS3Options(S3Options{Endpoint: srv.Endpoint, Region: "us-east-1", MaxAttempts: 2, Credentials: credentials.NewStaticV4("wrongkey", secret, "")})
	err = CheckStorage(ctx, "s3://"+bucket+"/out", true)
	if !errors.Is(err, ErrStorageSetup) || !strings.Contains(err.Error(), "credentials were refused") || !strings.Contains(err.Error(), bucket) {
		t.Fatalf("wrong credentials: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error shows the secret: %v", err)
	}
	// The right key with a wrong secret.
	SetS3Options(S3Options{Endpoint: srv.Endpoint, Region: "us-east-1", MaxAttempts: 2, Credentials: credentials.NewStaticV4(s3test.Access, secret, "")})
	err = CheckStorage(ctx, "s3://"+bucket+"/out", false)
	if !errors.Is(err, ErrStorageSetup) || !strings.Contains(err.Error(), "credentials were refused") || strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := Open(ctx, "s3://"+bucket+"/x"); !errors.Is(err, ErrStorageSetup) {
		t.Fatalf("open with a wrong secret: %v", err)
	}
	if _, _, err := endpointHost("http://user:pw@127.0.0.1:1"); err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("endpoint with user info: %v", err)
	}
}

// faultProxy forwards to target and answers the first `fail` requests of
// every 3 with 503 SlowDown, and cuts the body of GETs short once every
// cutEvery GETs.
type faultProxy struct {
	target            *url.URL
	n, injected, cuts atomic.Int64
	cutEvery          int64
	rp                *httputil.ReverseProxy
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.n.Add(1)
	if n%3 == 1 {
		p.injected.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
		return
	}
	if r.Method == http.MethodGet && p.cutEvery > 0 && n%p.cutEvery == 0 && r.URL.Query().Get("list-type") == "" && r.URL.Path != "/" {
		p.cuts.Add(1)
		p.rp.ServeHTTP(&cutWriter{ResponseWriter: w, left: 100 << 10}, r)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// cutWriter passes on left bytes of the body, then breaks the connection.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if c.left <= 0 {
		panic(http.ErrAbortHandler)
	}
	if len(b) > c.left {
		c.ResponseWriter.Write(b[:c.left])
		c.left = 0
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	c.left -= len(b)
	return c.ResponseWriter.Write(b)
}

func startProxy(t *testing.T, target string, cutEvery int64) (*faultProxy, string) {
	t.Helper()
	u, _ := url.Parse(target)
	p := &faultProxy{target: u, cutEvery: cutEvery, rp: httputil.NewSingleHostReverseProxy(u)}
	p.rp.ErrorLog = nil
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	return p, "http://" + l.Addr().String()
}

// TestS3RetriesFaults writes and reads through a proxy that answers every
// third request with 503 SlowDown and cuts GET bodies short: everything is
// retried or resumed, and the data comes back whole.
func TestS3RetriesFaults(t *testing.T) {
	srv := s3test.Shared(t)
	proxy, endpoint := startProxy(t, srv.Endpoint, 4)
	_, bucket := useS3(t, endpoint)
	data := jsonlLines(12000, 600) // multipart
	url := "s3://" + bucket + "/f/a.jsonl"
	w, err := Create(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, wrote %d", len(got), len(data))
	}
	n, err := CountRecords(url)
	if err != nil || n != 12000 {
		t.Fatalf("CountRecords through faults = %d, %v", n, err)
	}
	if proxy.injected.Load() < 3 || proxy.cuts.Load() < 1 {
		t.Fatalf("the proxy injected %d 503s and %d cut bodies; the test did not exercise retries", proxy.injected.Load(), proxy.cuts.Load())
	}
}

// TestS3AbortLeavesNothing: an aborted writer and a writer whose context is
// cancelled mid-upload leave no object and no multipart upload.
func TestS3AbortLeavesNothing(t *testing.T) {
	srv, bucket := useS3(t, "")
	data := jsonlLines(10000, 600) // ~6 MiB: a part is uploaded before Commit
	for _, how := range []string{"abort", "cancel"} {
		ctx, cancel := context.WithCancel(context.Background())
		key := "x/" + how + ".jsonl"
		w, err := Create(ctx, "s3://"+bucket+"/"+key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if how == "abort" {
			w.Abort()
		} else {
			cancel()
			if _, err := w.Write(data); err == nil {
				t.Fatal("Write after cancel succeeded")
			}
			if err := w.Commit(); err == nil {
				t.Fatal("Commit after cancel succeeded")
			}
		}
		cancel()
		if _, err := Stat(context.Background(), "s3://"+bucket+"/"+key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: the object exists: %v", how, err)
		}
	}
	c := srv.Client(t)
	for u := range c.ListIncompleteUploads(context.Background(), bucket, "x/", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Fatalf("an incomplete multipart upload is left: %s", u.Key)
	}
	if S3RequestCounts().Aborts < 2 {
		t.Fatalf("%d multipart uploads aborted, want 2", S3RequestCounts().Aborts)
	}
	objs := 0
	for o := range c.ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err == nil {
			objs++
		}
	}
	if objs != 0 {
		t.Fatalf("%d objects in the bucket after aborted writes", objs)
	}
}

// TestS3ServerStopped: with the server gone, a commit fails with an error
// naming the object, and nothing appears; after a restart the same write
// succeeds.
func TestS3ServerStopped(t *testing.T) {
	srv, bucket := useS3(t, "")
	SetS3Options(S3Options{Endpoint: srv.Endpoint, Region: "us-east-1", MaxAttempts: 2, Credentials: s3test.Credentials()})
	url := "s3://" + bucket + "/s/part.jsonl"
	w, err := Create(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "{\"text\":\"a\"}\n")
	srv.Stop()
	err = w.Commit()
	if rerr := srv.Restart(); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("commit with the server stopped: %v", err)
	}
	if _, err := Stat(context.Background(), url); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an object appeared: %v", err)
	}
	if err := WriteFile(context.Background(), url, []byte("{\"text\":\"a\"}\n")); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
