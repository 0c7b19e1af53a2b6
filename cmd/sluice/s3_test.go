package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/sluice-data/sluice/internal/s3test"
	dataio "github.com/sluice-data/sluice/io"
)

// s3Env points this process's S3 settings (as a user would: environment
// variables) at the shared versitygw and returns it with a fresh bucket.
func s3Env(t *testing.T) (*s3test.Server, string) {
	t.Helper()
	srv := s3test.Shared(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	dataio.SetS3Options(dataio.S3Options{})
	t.Cleanup(func() { dataio.SetS3Options(dataio.S3Options{}) })
	return srv, srv.Bucket(t)
}

// uploadDir copies the files under dir to the prefix url.
func uploadDir(t *testing.T, dir, url string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		return dataio.WriteFile(context.Background(), url+"/"+filepath.ToSlash(rel), b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listObjects returns the keys under prefix, relative to it.
func listObjects(t *testing.T, srv *s3test.Server, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range srv.Client(t).ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, strings.TrimPrefix(o.Key, prefix))
	}
	slices.Sort(keys)
	return keys
}

// outputLines returns the sorted lines of the data files under dir (a
// local directory or an s3:// prefix), skipping "_" names.
func outputLines(t *testing.T, dir string) ([]string, int) {
	t.Helper()
	l, err := dataio.FilePartitioning{Paths: []string{dir}}.List()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range l.Files {
		b, err := dataio.ReadFile(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	slices.Sort(lines)
	return lines, len(l.Files)
}

func s3PipelineYAML(in, out string) string {
	return fmt.Sprintf(`name: s3
stages:
  - type: jsonl_reader
    name: read
    config: { dir: %q, batch_rows: 250 }
  - type: jsonl_writer
    name: write
    config: { dir: %q }
`, in, out)
}

// TestS3RunPipeline runs a pipeline with an S3 reader and an S3 writer
// against a real S3 server: the output holds exactly the records of a
// local run, byte for byte, and is committed by _SUCCESS; a second run is
// refused (exit 2) without touching it.
func TestS3RunPipeline(t *testing.T) {
	srv, bucket := s3Env(t)
	dir := t.TempDir()
	var all []string
	for f := range 3 {
		var b strings.Builder
		for i := range 400 {
			line := fmt.Sprintf(`{"id":"f%d-%d","text":"record %d of file %d \u00e9"}`, f, i, i, f)
			b.WriteString(line + "\n")
			all = append(all, line)
		}
		writeFile(t, filepath.Join(dir, "in", fmt.Sprintf("part-%d.jsonl", f)), b.String())
	}
	slices.Sort(all)
	uploadDir(t, filepath.Join(dir, "in"), "s3://"+bucket+"/in")

	local := writeFile(t, filepath.Join(dir, "local.yaml"), s3PipelineYAML(filepath.Join(dir, "in"), filepath.Join(dir, "out")))
	if r := sluice("run", local); r.code != 0 {
		t.Fatalf("local run: %s", r)
	}
	remote := writeFile(t, filepath.Join(dir, "s3.yaml"), s3PipelineYAML("s3://"+bucket+"/in", "s3://"+bucket+"/out"))
	if r := sluice("run", remote); r.code != 0 {
		t.Fatalf("S3 run: %s", r)
	}
	want, nLocal := outputLines(t, filepath.Join(dir, "out"))
	got, nS3 := outputLines(t, "s3://"+bucket+"/out")
	if !slices.Equal(want, all) || !slices.Equal(got, want) || nS3 != nLocal || nS3 != 6 {
		t.Fatalf("S3 output: %d lines in %d files; local: %d lines in %d files; input %d lines", len(got), nS3, len(want), nLocal, len(all))
	}
	keys := listObjects(t, srv, bucket, "out/")
	if !slices.Contains(keys, "_SUCCESS") || !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "_sluice/files/") }) {
		t.Fatalf("output objects %v: want _SUCCESS and records under _sluice/files/", keys)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "_SUCCESS")); err != nil {
		t.Fatalf("local output has no _SUCCESS: %v", err)
	}
	// A second run into the same output is refused before any work.
	r := sluice("run", remote)
	if r.code != 2 || !strings.Contains(r.stderr, "s3://"+bucket+"/out") || !strings.Contains(r.stderr, "mode: overwrite") {
		t.Fatalf("second run: %s", r)
	}
	if again := listObjects(t, srv, bucket, "out/"); !slices.Equal(again, keys) {
		t.Fatalf("the refused run changed the output: %v, was %v", again, keys)
	}
}

// TestS3WrongCredentials: wrong credentials or a missing bucket stop a run
// before any work, with exit code 2 and a message that names the bucket
// and never the secret.
func TestS3WrongCredentials(t *testing.T) {
	srv, bucket := s3Env(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), `{"text":"a"}`+"\n")
	uploadDir(t, filepath.Join(dir, "in"), "s3://"+bucket+"/in")
	const secret = "not-the-secret-0123456789"
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	for _, c := range []struct{ in, out, want string }{
		{"s3://" + bucket + "/in", filepath.Join(dir, "out1"), "credentials were refused"},
		{filepath.Join(dir, "in"), "s3://" + bucket + "/out", "credentials were refused"},
	} {
		p := writeFile(t, filepath.Join(dir, "p.yaml"), s3PipelineYAML(c.in, c.out))
		r := sluice("run", p)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, bucket) || strings.Contains(r.stderr, secret) {
			t.Fatalf("%s → %s: %s", c.in, c.out, r)
		}
		if _, err := os.Stat(filepath.Join(dir, "out1")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a refused run created its output: %v", err)
		}
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.Secret)
	dataio.SetS3Options(dataio.S3Options{})
	p := writeFile(t, filepath.Join(dir, "p.yaml"), s3PipelineYAML(filepath.Join(dir, "in"), "s3://no-such-bucket-zz/out"))
	if r := sluice("run", p); r.code != 2 || !strings.Contains(r.stderr, `bucket "no-such-bucket-zz" does not exist`) {
		t.Fatalf("missing bucket: %s", r)
	}
	if keys := listObjects(t, srv, bucket, "out/"); len(keys) != 0 {
		t.Fatalf("objects written by refused runs: %v", keys)
	}
}

// TestS3PipelineStep: a dedup step keeps its files on local disk, so a
// pipeline whose only writer is on S3 is refused (exit 2, saying to set a
// local cache) until a local --cache is given; then it runs, and the S3
// output is committed with _SUCCESS.
func TestS3PipelineStep(t *testing.T) {
	srv, bucket := s3Env(t)
	dir := t.TempDir()
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, `{"id":%d,"text":"text number %d"}`+"\n", i, i%200) // 100 exact duplicates
	}
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), b.String())
	p := writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`stages:
  - { type: jsonl_reader, name: read, config: { paths: [%q] } }
  - { type: dedup_exact, name: exact }
  - { type: jsonl_writer, name: write, config: { dir: "s3://%s/out" } }
`, filepath.Join(dir, "in"), bucket))
	r := sluice("run", p)
	if r.code != 2 || !strings.Contains(r.stderr, "a step's cache must be a local directory") {
		t.Fatalf("S3 writer without a local cache: %s", r)
	}
	if keys := listObjects(t, srv, bucket, "out/"); len(keys) != 0 {
		t.Fatalf("the refused run wrote %v", keys)
	}
	if r = sluice("run", p, "--cache", filepath.Join(dir, "cache")); r.code != 0 {
		t.Fatalf("with a local cache: %s", r)
	}
	lines, _ := outputLines(t, "s3://"+bucket+"/out")
	if len(lines) != 200 || !slices.Contains(listObjects(t, srv, bucket, "out/"), "_SUCCESS") {
		t.Fatalf("S3 output: %d lines (want 200), objects %v", len(lines), listObjects(t, srv, bucket, "out/"))
	}
}
