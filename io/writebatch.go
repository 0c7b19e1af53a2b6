package dataio

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// A WriteBatch writes many files that appear together, for a writer that
// produces many small files at once (the dedup removal copies one output
// file per input file, and real corpora come as thousands of small
// shards). Each local file is written under a hidden temporary name, as by
// Create; its Commit closes it without syncing or renaming it, and Publish
// then makes all of them durable with one file-system sync (syncfs on
// Linux, where one sync costs about what a single fsync does, against an
// fsync per file) and renames them into place. So a path still holds a
// complete, synced file or nothing, as with Create, at a fraction of the
// cost per file. Files on object stores are published by their own Commit,
// as with Create.
//
// A WriteBatch is used by one goroutine. Call Abort when giving up (it is a
// no-op after Publish): it removes the files not yet published.
type WriteBatch struct {
	pending []*atomicFile // committed local files awaiting Publish
	closed  bool
}

// NewWriteBatch returns an empty batch.
func NewWriteBatch() *WriteBatch { return &WriteBatch{} }

// create opens the Writer of one file of the batch.
func (b *WriteBatch) create(ctx context.Context, p string) (Writer, error) {
	if b.closed {
		return nil, fmt.Errorf("dataio: create %s: write batch already published or aborted", p)
	}
	if IsURL(p) {
		return createWriter(ctx, p)
	}
	a, err := createAtomic(LocalPath(p))
	if err != nil {
		return nil, err
	}
	a.batch = b
	return a, nil
}

// add takes a committed file, closed by the caller unless this fails.
func (b *WriteBatch) add(a *atomicFile) error {
	if err := syncOnCommit(a.f); err != nil {
		a.f.Close()
		os.Remove(a.f.Name())
		return fmt.Errorf("dataio: sync %s: %w", a.f.Name(), err)
	}
	if err := a.f.Close(); err != nil {
		os.Remove(a.f.Name())
		return fmt.Errorf("dataio: close %s: %w", a.f.Name(), err)
	}
	b.pending = append(b.pending, a)
	return nil
}

// CopyFiltered is CopyFiltered into the batch: dst appears on Publish.
func (b *WriteBatch) CopyFiltered(ctx context.Context, src, dst string, drop func(row int64) bool) (CopyStats, error) {
	return copyFiltered(ctx, b.create, src, dst, drop)
}

// WriteFile writes data to p as a file of the batch.
func (b *WriteBatch) WriteFile(ctx context.Context, p string, data []byte) error {
	w, err := b.create(ctx, p)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return fmt.Errorf("dataio: write %s: %w", p, err)
	}
	return w.Commit()
}

// Publish syncs the batch's files and renames each into place, in the
// order they were committed. On an error the files not yet renamed are
// removed; those renamed stay (each is complete).
func (b *WriteBatch) Publish(ctx context.Context) error {
	if b.closed {
		return errors.New("dataio: write batch already published or aborted")
	}
	b.closed = true
	if err := ctx.Err(); err != nil {
		b.removePending(0)
		return err
	}
	if err := syncFiles(b.pending); err != nil {
		b.removePending(0)
		return err
	}
	for i, a := range b.pending {
		if err := os.Rename(a.f.Name(), a.final); err != nil {
			b.removePending(i)
			return fmt.Errorf("dataio: rename %s to %s: %w", a.f.Name(), a.final, err)
		}
	}
	b.pending = nil
	return nil
}

// Abort removes the files not yet published. It is a no-op after Publish.
func (b *WriteBatch) Abort() {
	if b.closed {
		return
	}
	b.closed = true
	b.removePending(0)
}

func (b *WriteBatch) removePending(from int) {
	for _, a := range b.pending[from:] {
		os.Remove(a.f.Name())
	}
	b.pending = nil
}
