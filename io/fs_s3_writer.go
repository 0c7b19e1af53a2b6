package dataio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// s3Writer writes an object atomically. Up to one part's worth it buffers
// and Commit PUTs it whole; beyond that it starts a multipart upload,
// uploads parts in the background (one in flight while the next fills)
// and completes the upload on Commit. On Abort, a failed write or a
// cancelled context the upload is aborted, so that no part is left
// stored and no object appears.
type s3Writer struct {
	fs          *s3FS
	bucket, key string
	ctx         context.Context
	cancel      context.CancelFunc
	buf         []byte
	partNo      int
	uploadID    string
	parts       []minio.CompletePart
	inflight    sync.WaitGroup
	mu          sync.Mutex // guards parts and err
	err         error
	done        bool
}

func (s *s3FS) Create(ctx context.Context, name string) (Writer, error) {
	bucket, key, err := splitS3(name)
	if err != nil {
		return nil, err
	}
	if key == "" || key[len(key)-1] == '/' {
		return nil, fmt.Errorf("dataio: create %s: not an object name", name)
	}
	ctx, cancel := context.WithCancel(ctx)
	return &s3Writer{fs: s, bucket: bucket, key: key, ctx: ctx, cancel: cancel, buf: make([]byte, 0, s.partSize(1))}, nil
}

// partSize is the size of part n (1-based): PartSize for the first 1,000
// parts, then one PartSize more every 1,000 parts.
func (s *s3FS) partSize(n int) int {
	return int(s.opts.PartSize) * (1 + (n-1)/1000)
}

func (w *s3Writer) Name() string { return s3URL(w.bucket, w.key) }

func (w *s3Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *s3Writer) setErr(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("dataio: %s is closed", w.Name())
	}
	if err := w.failed(); err != nil {
		return 0, err
	}
	if err := w.ctx.Err(); err != nil {
		return 0, s3Error("write", w.bucket, w.key, err)
	}
	n := 0
	for len(p) > 0 {
		room := cap(w.buf) - len(w.buf)
		k := min(room, len(p))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == cap(w.buf) {
			if err := w.flushPart(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flushPart uploads the buffer as the next part, in the background, after
// the previous part finished.
func (w *s3Writer) flushPart() error {
	if w.uploadID == "" {
		id, err := w.fs.core.NewMultipartUpload(w.ctx, w.bucket, w.key, minio.PutObjectOptions{})
		if err != nil {
			err = s3Error("write", w.bucket, w.key, err)
			w.setErr(err)
			return err
		}
		w.uploadID = id
	}
	w.inflight.Wait() // one part in flight at a time
	if err := w.failed(); err != nil {
		return err
	}
	w.partNo++
	data, no := w.buf, w.partNo
	w.buf = make([]byte, 0, w.fs.partSize(no+1))
	w.inflight.Add(1)
	go func() {
		defer w.inflight.Done()
		var p minio.ObjectPart
		err := w.fs.retryUpload(w.ctx, func() error {
			w.fs.parts.Add(1)
			w.fs.putBytes.Add(int64(len(data)))
			var err error
			p, err = w.fs.core.PutObjectPart(w.ctx, w.bucket, w.key, w.uploadID, no, onceReader{bytes.NewReader(data)}, int64(len(data)), minio.PutObjectPartOptions{})
			return err
		})
		if err != nil {
			w.setErr(s3Error("write", w.bucket, w.key, fmt.Errorf("part %d: %w", no, err)))
			return
		}
		w.mu.Lock()
		w.parts = append(w.parts, minio.CompletePart{PartNumber: no, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32,
			ChecksumCRC32C: p.ChecksumCRC32C, ChecksumSHA1: p.ChecksumSHA1, ChecksumSHA256: p.ChecksumSHA256,
			ChecksumCRC64NVME: p.ChecksumCRC64NVME})
		w.mu.Unlock()
	}()
	return nil
}

// Commit makes the object visible: one PUT for a small object, or the last
// part and CompleteMultipartUpload.
func (w *s3Writer) Commit() error {
	if w.done {
		return fmt.Errorf("dataio: %s already closed", w.Name())
	}
	if err := w.failed(); err != nil {
		w.Abort()
		return err
	}
	if w.uploadID == "" {
		w.done = true
		defer w.cancel()
		err := w.fs.put(w.ctx, w.bucket, w.key, w.buf)
		w.buf = nil
		return err
	}
	if len(w.buf) > 0 {
		if err := w.flushPart(); err != nil {
			w.Abort()
			return err
		}
	}
	w.inflight.Wait()
	if err := w.failed(); err != nil {
		w.Abort()
		return err
	}
	w.done = true
	defer w.cancel()
	w.fs.puts.Add(1)
	slices.SortFunc(w.parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	_, err := w.fs.core.CompleteMultipartUpload(w.ctx, w.bucket, w.key, w.uploadID, w.parts, minio.PutObjectOptions{})
	if err != nil {
		w.abortUpload()
		return s3Error("write", w.bucket, w.key, err)
	}
	return nil
}

// Abort discards the object: it cancels parts in flight and aborts the
// multipart upload (with a context of its own, since the writer's may be
// the one that was cancelled).
func (w *s3Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	w.inflight.Wait()
	w.buf = nil
	if w.uploadID != "" {
		w.abortUpload()
	}
}

func (w *s3Writer) abortUpload() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.fs.aborts.Add(1)
	if err := w.fs.core.AbortMultipartUpload(ctx, w.bucket, w.key, w.uploadID); err != nil && !errors.Is(err, context.Canceled) {
		// Nothing more can be done here: the parts stay stored, invisible,
		// until a lifecycle rule removes them (see docs/storage.md).
		_ = err
	}
}
