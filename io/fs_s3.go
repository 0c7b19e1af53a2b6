package dataio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
)

// s3FS is the s3:// backend, through minio-go. Objects are files; a
// "directory" is a key prefix ending in "/". Nothing is ever renamed:
// writes become visible on Commit (PutObject, or CompleteMultipartUpload),
// so a key holds a complete object or nothing.
type s3FS struct {
	core     minio.Core
	opts     S3Options
	attempts int
	// counters
	gets, getBytes, puts, putBytes, parts, lists, heads, deletes, aborts atomic.Int64
}

func newS3FS(o S3Options) (*s3FS, error) {
	host, secure, err := endpointHost(o.Endpoint)
	if err != nil {
		return nil, err
	}
	creds := o.Credentials
	if creds == nil {
		creds = credentialChain(o.Profile)
	}
	lookup := minio.BucketLookupAuto
	switch strings.ToLower(o.Addressing) {
	case "", "auto":
	case "path":
		lookup = minio.BucketLookupPath
	case "virtual":
		lookup = minio.BucketLookupDNS
	default:
		return nil, fmt.Errorf("%w: S3 addressing %q: want auto, path or virtual", ErrStorageSetup, o.Addressing)
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultS3MaxAttempts
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultS3PartSize
	}
	o.PartSize = max(o.PartSize, minS3PartSize)
	tr := o.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, err
		}
		t.MaxIdleConnsPerHost = 64
		tr = t
	}
	c, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: o.Region, BucketLookup: lookup,
		MaxRetries: o.MaxAttempts, Transport: tr})
	if err != nil {
		return nil, fmt.Errorf("%w: S3 client for %s: %v", ErrStorageSetup, host, err)
	}
	c.SetAppInfo("sluice", "")
	return &s3FS{core: minio.Core{Client: c}, opts: o, attempts: o.MaxAttempts}, nil
}

func (s *s3FS) counts() S3Counters {
	return S3Counters{Gets: s.gets.Load(), GetBytes: s.getBytes.Load(), Puts: s.puts.Load(), PutBytes: s.putBytes.Load(),
		Parts: s.parts.Load(), Lists: s.lists.Load(), Heads: s.heads.Load(), Deletes: s.deletes.Load(), Aborts: s.aborts.Load()}
}

// splitS3 splits s3://bucket/key.
func splitS3(p string) (bucket, key string, err error) {
	if !IsS3(p) {
		return "", "", fmt.Errorf("dataio: %s is not an s3:// URL", p)
	}
	rest := p[5:]
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", &fs.PathError{Op: "open", Path: p, Err: errors.New("no bucket: want s3://BUCKET/KEY")}
	}
	return bucket, key, nil
}

func s3URL(bucket, key string) string { return "s3://" + bucket + "/" + key }

// s3Error turns a client error into one that names the bucket and key and
// says what to do, wrapping fs.ErrNotExist for missing keys and
// ErrStorageSetup for set-up problems. It never holds credentials.
func s3Error(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &fs.PathError{Op: op, Path: s3URL(bucket, key), Err: err}
	}
	resp := minio.ToErrorResponse(err)
	if debugS3Errors {
		fmt.Printf("S3 ERROR %s code=%q status=%d msg=%q\n", op, resp.Code, resp.StatusCode, resp.Message)
	}
	where := s3URL(bucket, key)
	if resp.Code == "XAdminUserNotFound" { // versitygw's word for an unknown access key
		resp.Code = "InvalidAccessKeyId"
	}
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NotFound" && key != "":
		return &fs.PathError{Op: op, Path: where, Err: fs.ErrNotExist}
	case resp.Code == "NoSuchBucket" || resp.Code == "NotFound":
		return &S3Error{Op: op, Bucket: bucket, Key: key, Code: resp.Code, Status: resp.StatusCode, setup: true,
			msg: fmt.Sprintf("bucket %q does not exist (at the configured endpoint and region)", bucket), err: fs.ErrNotExist}
	case resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.Code == "InvalidToken" ||
		resp.Code == "ExpiredToken" || resp.Code == "TokenRefreshRequired":
		return &S3Error{Op: op, Bucket: bucket, Key: key, Code: resp.Code, Status: resp.StatusCode, setup: true,
			msg: "the S3 credentials were refused (" + resp.Code + "): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or AWS_PROFILE, and the endpoint"}
	case resp.Code == "AccessDenied" || resp.StatusCode == http.StatusForbidden:
		return &S3Error{Op: op, Bucket: bucket, Key: key, Code: resp.Code, Status: resp.StatusCode, setup: true,
			msg: "access denied (403): the credentials are valid but may not " + op + " here; check the bucket policy and the IAM role"}
	case resp.StatusCode == http.StatusPreconditionFailed:
		return &S3Error{Op: op, Bucket: bucket, Key: key, Code: resp.Code, Status: resp.StatusCode,
			msg: "the object changed while it was being read"}
	case resp.StatusCode == 0 && resp.Code == "" && unreachable(err):
		return &S3Error{Op: op, Bucket: bucket, Key: key, err: err,
			msg: "no answer from the S3 endpoint (retried; is the server up?): " + err.Error()}
	}
	return &S3Error{Op: op, Bucket: bucket, Key: key, Code: resp.Code, Status: resp.StatusCode, err: err}
}

// unreachable reports whether err is a failure to talk to the server at
// all (refused or broken connections, timeouts), not an answer.
func unreachable(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

var debugS3Errors = os.Getenv("SLUICE_DEBUG_S3") != ""

// S3Error is an S3 request that failed, naming the bucket and key.
type S3Error struct {
	Op, Bucket, Key string
	// Code and Status are the S3 error code and HTTP status, when the
	// server answered.
	Code   string
	Status int
	msg    string
	setup  bool
	err    error
}

func (e *S3Error) Error() string {
	msg := e.msg
	if msg == "" && e.err != nil {
		msg = e.err.Error()
	}
	return fmt.Sprintf("s3 %s %s: %s", e.Op, s3URL(e.Bucket, e.Key), msg)
}

// Unwrap returns the cause, and ErrStorageSetup for set-up problems.
func (e *S3Error) Unwrap() []error {
	out := []error{}
	if e.err != nil {
		out = append(out, e.err)
	}
	if e.setup {
		out = append(out, ErrStorageSetup)
	}
	return out
}

// ---- reading ----------------------------------------------------------------

// s3BlockSize is the unit small random reads (Parquet's magic bytes, its
// footer's length, page headers) are fetched and cached in; larger reads
// fetch exactly their range. s3Blocks is the number of blocks an open file
// caches. s3ParquetBuffer is the read buffer of a Parquet column reader on
// an object store: each fetches its column chunk 1 MiB at a time.
const (
	s3BlockSize     = 64 << 10
	s3Blocks        = 16
	s3ParquetBuffer = 1 << 20
)

// s3File reads an object by ranged GETs, pinned to the ETag it had when
// opened, so that a file replaced mid-read fails instead of mixing
// versions.
type s3File struct {
	fs          *s3FS
	ctx         context.Context
	bucket, key string
	size        int64
	etag        string
	mu          sync.Mutex
	blocks      map[int64][]byte
	order       []int64 // least recently used first
}

func (s *s3FS) stat(ctx context.Context, bucket, key string) (minio.ObjectInfo, error) {
	s.heads.Add(1)
	oi, err := s.core.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusForbidden {
		// A HEAD answer has no body to say why: refused credentials and
		// a denied access look the same. A listing says which.
		s.lists.Add(1)
		if _, lerr := s.core.ListObjectsV2(bucket, key, "", "", "/", 1); lerr != nil {
			return oi, s3Error("stat", bucket, key, lerr)
		}
	}
	return oi, s3Error("stat", bucket, key, err)
}

func (s *s3FS) Open(ctx context.Context, name string) (File, error) {
	bucket, key, err := splitS3(name)
	if err != nil {
		return nil, err
	}
	oi, err := s.stat(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	return &s3File{fs: s, ctx: ctx, bucket: bucket, key: key, size: oi.Size, etag: oi.ETag, blocks: make(map[int64][]byte)}, nil
}

func (f *s3File) Size() int64  { return f.size }
func (f *s3File) Close() error { f.blocks = nil; return nil }

// ReadAt implements io.ReaderAt.
func (f *s3File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("dataio: %s: negative offset", s3URL(f.bucket, f.key))
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), f.size-off)
	var n int
	var err error
	if want > s3BlockSize/4 {
		n, err = f.fs.getRange(f.ctx, f.bucket, f.key, f.etag, off, p[:want])
	} else {
		n, err = f.readCached(p[:want], off)
	}
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

func (f *s3File) readCached(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		b := (off + int64(n)) / s3BlockSize
		blk, err := f.block(b)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], blk[off+int64(n)-b*s3BlockSize:])
	}
	return n, nil
}

// block returns block b, fetching it on a miss.
func (f *s3File) block(b int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if blk, ok := f.blocks[b]; ok {
		for i, x := range f.order {
			if x == b {
				f.order = append(append(f.order[:i:i], f.order[i+1:]...), b)
				break
			}
		}
		return blk, nil
	}
	start := b * s3BlockSize
	blk := make([]byte, min(s3BlockSize, f.size-start))
	if _, err := f.fs.getRange(f.ctx, f.bucket, f.key, f.etag, start, blk); err != nil {
		return nil, err
	}
	if len(f.order) >= s3Blocks {
		delete(f.blocks, f.order[0])
		f.order = f.order[1:]
	}
	f.blocks[b] = blk
	f.order = append(f.order, b)
	return blk, nil
}

// getRange reads len(p) bytes from off with one ranged GET, retrying a
// transfer cut short (the client retries failed requests itself).
func (s *s3FS) getRange(ctx context.Context, bucket, key, etag string, off int64, p []byte) (int, error) {
	var last error
	for attempt := 0; attempt < s.attempts; attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, backoff(attempt)); err != nil {
				return 0, s3Error("read", bucket, key, err)
			}
		}
		body, err := s.get(ctx, bucket, key, etag, off, int64(len(p)))
		if err != nil {
			return 0, err
		}
		n, err := io.ReadFull(body, p)
		body.Close()
		s.getBytes.Add(int64(n))
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return 0, s3Error("read", bucket, key, ctx.Err())
		}
		last = err
	}
	return 0, s3Error("read", bucket, key, fmt.Errorf("transfer cut short %d times: %w", s.attempts, hideEOF(last)))
}

// get starts a GET of length bytes from off (to the end when length < 0).
func (s *s3FS) get(ctx context.Context, bucket, key, etag string, off, length int64) (io.ReadCloser, error) {
	body, _, _, err := s.getInfo(ctx, bucket, key, etag, off, length)
	return body, err
}

// getInfo is get, also returning the response's length and the object's
// ETag.
func (s *s3FS) getInfo(ctx context.Context, bucket, key, etag string, off, length int64) (io.ReadCloser, int64, string, error) {
	var o minio.GetObjectOptions
	if etag != "" {
		_ = o.SetMatchETag(etag)
	}
	switch {
	case length == 0:
		return io.NopCloser(bytes.NewReader(nil)), 0, "", nil
	case length > 0:
		_ = o.SetRange(off, off+length-1)
	case off > 0:
		_ = o.SetRange(off, 0)
	}
	s.gets.Add(1)
	if debugS3Errors {
		fmt.Printf("GET %s off=%d len=%d\n", key, off, length)
	}
	body, oi, _, err := s.core.GetObject(ctx, bucket, key, o)
	if err != nil {
		return nil, 0, "", s3Error("read", bucket, key, err)
	}
	return body, oi.Size, oi.ETag, nil
}

func backoff(attempt int) time.Duration {
	return min(100*time.Millisecond<<min(attempt, 5), 2*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// s3ReadAhead is the size of the chunks a stream reads ahead, and
// s3ReadAheadChunks how many it keeps ready.
const (
	s3ReadAhead       = 1 << 20
	s3ReadAheadChunks = 8
)

// s3Stream reads a range of an object sequentially. A goroutine keeps up to
// s3ReadAheadChunks chunks ready, so that parsing overlaps the transfer; a
// connection that breaks mid-body is resumed where it stopped.
type s3Stream struct {
	size   int64  // bytes in the range
	etag   string // the object's, so that a resumed read reads the same object
	cancel context.CancelFunc
	ready  chan streamChunk
	free   chan []byte
	cur    []byte
	buf    []byte
	err    error
	done   chan struct{}
}

type streamChunk struct {
	b   []byte
	err error
}

func (s *s3FS) OpenStream(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	bucket, key, err := splitS3(name)
	if err != nil {
		return nil, err
	}
	// The first request runs here, so that a missing object fails Open.
	body, size, etag, err := s.getInfo(ctx, bucket, key, "", off, length)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	st := &s3Stream{size: size, etag: etag, cancel: cancel, ready: make(chan streamChunk, s3ReadAheadChunks), free: make(chan []byte, s3ReadAheadChunks+2), done: make(chan struct{})}
	go st.fill(ctx, s, bucket, key, off, length, body)
	return st, nil
}

// fill reads the object into chunks until the range ends or ctx is done.
func (st *s3Stream) fill(ctx context.Context, s *s3FS, bucket, key string, off, length int64, body io.ReadCloser) {
	defer close(st.done)
	defer close(st.ready)
	end, pos, failures := off+st.size, off, 0
	if st.size < 0 { // no Content-Length: read to the end, without resuming
		end = math.MaxInt64
	}
	defer func() {
		if body != nil {
			body.Close()
		}
	}()
	for pos < end {
		var b []byte
		select {
		case b = <-st.free:
		default:
			b = make([]byte, s3ReadAhead)
		}
		n, err := io.ReadFull(body, b[:min(int64(cap(b)), end-pos)])
		s.getBytes.Add(int64(n))
		pos += int64(n)
		if n > 0 {
			failures = 0
			select {
			case st.ready <- streamChunk{b: b[:n]}:
			case <-ctx.Done():
				return
			}
		}
		if err == nil || pos >= end {
			continue
		}
		if st.size < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
			return
		}
		// The transfer broke: resume from pos, up to the attempt limit.
		body.Close()
		body = nil
		if ctx.Err() != nil {
			return
		}
		failures++
		if failures >= s.attempts {
			st.ready <- streamChunk{err: s3Error("read", bucket, key, fmt.Errorf("transfer cut short at byte %d of %d: %w", pos, end, hideEOF(err)))}
			return
		}
		if sleepCtx(ctx, backoff(failures)) != nil {
			return
		}
		if body, err = s.get(ctx, bucket, key, st.etag, pos, end-pos); err != nil {
			st.ready <- streamChunk{err: err}
			return
		}
	}
}

func (st *s3Stream) Read(p []byte) (int, error) {
	for len(st.cur) == 0 {
		if st.err != nil {
			return 0, st.err
		}
		if st.buf != nil {
			select {
			case st.free <- st.buf:
			default:
			}
			st.buf = nil
		}
		c, ok := <-st.ready
		switch {
		case !ok:
			st.err = io.EOF
		case c.err != nil:
			st.err = c.err
		default:
			st.cur, st.buf = c.b, c.b
		}
	}
	n := copy(p, st.cur)
	st.cur = st.cur[n:]
	return n, nil
}

// Size returns the number of bytes in the stream's range.
func (st *s3Stream) Size() int64 { return st.size }

func (st *s3Stream) Close() error {
	st.cancel()
	for range st.ready { // let fill finish
	}
	<-st.done
	if st.err == nil {
		st.err = errors.New("dataio: stream is closed")
	}
	return nil
}

// ---- metadata ---------------------------------------------------------------

func (s *s3FS) Stat(ctx context.Context, name string) (FileInfo, error) {
	bucket, key, err := splitS3(name)
	if err != nil {
		return FileInfo{}, err
	}
	key = strings.TrimSuffix(key, "/")
	if key != "" {
		oi, err := s.stat(ctx, bucket, key)
		if err == nil {
			return s3Info(bucket, oi), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrStorageSetup) {
			return FileInfo{}, err
		}
	}
	// A prefix holding objects is a directory; so is an existing bucket.
	s.lists.Add(1)
	prefix := key
	if prefix != "" {
		prefix += "/"
	}
	res, err := s.core.ListObjectsV2(bucket, prefix, "", "", "/", 1)
	if err != nil {
		return FileInfo{}, s3Error("list", bucket, prefix, err)
	}
	if key == "" || len(res.Contents) > 0 || len(res.CommonPrefixes) > 0 {
		return FileInfo{Path: strings.TrimSuffix(s3URL(bucket, key), "/"), Name: path.Base("/" + key), IsDir: true}, nil
	}
	return FileInfo{}, &fs.PathError{Op: "stat", Path: s3URL(bucket, key), Err: fs.ErrNotExist}
}

func (s *s3FS) Lstat(ctx context.Context, name string) (FileInfo, error) { return s.Stat(ctx, name) }

// s3Info describes an object. Modification times are cut to whole seconds,
// the precision every listing and HEAD of every S3 server agrees on.
func s3Info(bucket string, oi minio.ObjectInfo) FileInfo {
	return FileInfo{Path: s3URL(bucket, oi.Key), Name: path.Base(oi.Key), Size: oi.Size, ModTime: oi.LastModified.Truncate(time.Second),
		Regular: true, ETag: strings.Trim(oi.ETag, `"`)}
}

// Walk lists the objects below root ("root/…"), presenting the prefixes
// between as directories.
func (s *s3FS) Walk(ctx context.Context, root string, fn WalkFunc) error {
	bucket, key, err := splitS3(root)
	if err != nil {
		return err
	}
	prefix := strings.TrimSuffix(key, "/")
	if prefix != "" {
		prefix += "/"
	}
	s.lists.Add(1)
	seenDirs := make(map[string]bool)
	var skipped []string
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for oi := range s.core.ListObjectsIter(lctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return s3Error("list", bucket, prefix, oi.Err)
		}
		rel := strings.TrimPrefix(oi.Key, prefix)
		if rel == "" || strings.HasSuffix(rel, "/") {
			continue // a directory marker object
		}
		if underAny(rel, skipped) {
			continue
		}
		stop, err := s.walkDirs(bucket, prefix, rel, seenDirs, &skipped, fn)
		if err != nil || stop {
			return err
		}
		if underAny(rel, skipped) {
			continue
		}
		if err := fn(s3Info(bucket, oi)); err != nil {
			if err == fs.SkipAll {
				return nil
			}
			if err == fs.SkipDir {
				continue
			}
			return err
		}
	}
	return ctx.Err()
}

// walkDirs presents the directories of rel not presented yet.
func (s *s3FS) walkDirs(bucket, prefix, rel string, seen map[string]bool, skipped *[]string, fn WalkFunc) (bool, error) {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if seen[d] {
			continue
		}
		seen[d] = true
		err := fn(FileInfo{Path: s3URL(bucket, prefix+d), Name: parts[i-1], IsDir: true})
		switch err {
		case nil:
		case fs.SkipDir:
			*skipped = append(*skipped, d+"/")
			return false, nil
		case fs.SkipAll:
			return true, nil
		default:
			return true, err
		}
	}
	return false, nil
}

func underAny(rel string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

func (s *s3FS) Remove(ctx context.Context, name string) error {
	bucket, key, err := splitS3(name)
	if err != nil {
		return err
	}
	s.deletes.Add(1)
	return s3Error("delete", bucket, key, s.core.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}))
}

func (s *s3FS) MkdirAll(context.Context, string) error { return nil }

func (s *s3FS) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	bucket, key, err := splitS3(name)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(key, "/")
	if prefix != "" {
		prefix += "/"
	}
	s.lists.Add(1)
	var out []FileInfo
	for oi := range s.core.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if oi.Err != nil {
			return nil, s3Error("list", bucket, prefix, oi.Err)
		}
		rel := strings.TrimPrefix(oi.Key, prefix)
		switch {
		case rel == "":
		case strings.HasSuffix(rel, "/"): // a common prefix: a directory
			out = append(out, FileInfo{Path: s3URL(bucket, strings.TrimSuffix(oi.Key, "/")), Name: strings.TrimSuffix(rel, "/"), IsDir: true})
		default:
			out = append(out, s3Info(bucket, oi))
		}
	}
	return out, nil
}

func (s *s3FS) WriteFile(ctx context.Context, name string, data []byte) error {
	bucket, key, err := splitS3(name)
	if err != nil {
		return err
	}
	return s.put(ctx, bucket, key, data)
}

func (s *s3FS) put(ctx context.Context, bucket, key string, data []byte) error {
	return s3Error("write", bucket, key, s.retryUpload(ctx, func() error {
		s.puts.Add(1)
		s.putBytes.Add(int64(len(data)))
		_, err := s.core.PutObject(ctx, bucket, key, onceReader{bytes.NewReader(data)}, int64(len(data)), "", "", minio.PutObjectOptions{})
		return err
	}))
}

// onceReader hides a body's Seek, so that the client does not retry the
// upload itself: net/http may still be reading a failed attempt's body
// when the client rewinds it for the next attempt (a data race). Uploads
// are retried by retryUpload instead, each attempt with a fresh reader.
type onceReader struct{ r io.Reader }

func (o onceReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// retryUpload runs an upload up to the attempt limit while it fails with a
// retryable error (5xx, SlowDown and other throttling, a broken
// connection), with exponential backoff.
func (s *s3FS) retryUpload(ctx context.Context, upload func() error) error {
	var err error
	for attempt := 0; attempt < s.attempts; attempt++ {
		if attempt > 0 {
			if serr := sleepCtx(ctx, backoff(attempt)); serr != nil {
				return serr
			}
		}
		if err = upload(); err == nil || !retryable(ctx, err) {
			return err
		}
	}
	return err
}

// retryable reports whether a failed request may succeed if sent again.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "SlowDown", "SlowDownWrite", "SlowDownRead", "RequestTimeout", "Throttling", "ThrottlingException",
		"RequestLimitExceeded", "RequestThrottled", "InternalError", "ServiceUnavailable":
		return true
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
		return true
	}
	return resp.StatusCode == 0 // no answer: the connection failed
}

// check verifies that bucket of p exists and can be listed (and written
// under p, with write) with the configured credentials.
func (s *s3FS) check(ctx context.Context, p string, write bool) error {
	bucket, key, err := splitS3(p)
	if err != nil {
		return err
	}
	s.lists.Add(1)
	if _, err := s.core.ListObjectsV2(bucket, key, "", "", "/", 1); err != nil {
		return s3Error("list", bucket, key, err)
	}
	if !write {
		return nil
	}
	probe := strings.TrimSuffix(key, "/")
	if probe != "" {
		probe += "/"
	}
	probe += fmt.Sprintf("_sluice/.probe-%d", time.Now().UnixNano())
	if err := s.put(ctx, bucket, probe, []byte("sluice write probe\n")); err != nil {
		return err
	}
	return s.Remove(ctx, s3URL(bucket, probe))
}
