package dataio

import (
	"bufio"
	"io"
	"sync"
)

// Buffers for reading small files, shared between readers: a corpus kept as
// many small files would otherwise allocate (and collect) a read buffer and
// an unescaping buffer for every file on every pass.

// pooledReadBuffer is the size of the shared read buffers: files whose
// buffer (readBufferSize) fits in it read through one.
const pooledReadBuffer = 64 << 10

// maxPooledScratch bounds the unescaping buffers kept for reuse.
const maxPooledScratch = 1 << 20

var (
	bufioPool   = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, pooledReadBuffer) }}
	bytesPool   = sync.Pool{New: func() any { b := make([]byte, pooledReadBuffer); return &b }}
	scratchPool = sync.Pool{New: func() any { return new([]byte) }}
)

// getBufio returns a shared buffered reader of pooledReadBuffer bytes
// reading from r.
func getBufio(r io.Reader) *bufio.Reader {
	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// putBufio gives back a reader from getBufio (or of the same size); the
// caller must not use it, or what it returned, again.
func putBufio(br *bufio.Reader) {
	if br == nil || br.Size() != pooledReadBuffer {
		return
	}
	br.Reset(nil)
	bufioPool.Put(br)
}

// getBytes returns a shared buffer of pooledReadBuffer bytes.
func getBytes() *[]byte { return bytesPool.Get().(*[]byte) }

// putBytes gives back a buffer from getBytes.
func putBytes(b *[]byte) { bytesPool.Put(b) }

// getScratch returns an empty shared buffer to append to.
func getScratch() []byte { return (*scratchPool.Get().(*[]byte))[:0] }

// putScratch gives back a buffer from getScratch, unless it grew large.
func putScratch(b []byte) {
	if b == nil || cap(b) > maxPooledScratch {
		return
	}
	scratchPool.Put(&b)
}
