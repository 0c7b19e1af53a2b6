package dataio

import (
	"context"
	"fmt"
	"sync"
)

// LazyQuarantine is a Quarantine file created on the first bad record (and
// its directory with it), so that reads without bad records leave nothing
// behind.
type LazyQuarantine struct {
	path string
	mu   sync.Mutex
	f    *QuarantineFile
	err  error
}

// NewLazyQuarantine returns a quarantine that creates path when it first
// receives a record.
func NewLazyQuarantine(path string) *LazyQuarantine { return &LazyQuarantine{path: path} }

// Put implements Quarantine.
func (q *LazyQuarantine) Put(rec *BadRecordError) error {
	q.mu.Lock()
	if q.f == nil && q.err == nil {
		if err := MkdirAll(context.Background(), DirOf(q.path)); err != nil {
			q.err = fmt.Errorf("quarantine: %w", err)
		} else {
			q.f, q.err = CreateQuarantineFile(q.path)
		}
	}
	f, err := q.f, q.err
	q.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Put(rec)
}

// Close commits the file if ok (the read it served succeeded); otherwise
// it discards it, so that a retry starts afresh.
func (q *LazyQuarantine) Close(ok bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return nil
	}
	if !ok {
		q.f.abort()
		return nil
	}
	return q.f.Close()
}
