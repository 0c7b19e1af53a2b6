package shuffle

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Transport carries the batches of one rank's Senders to the receivers of
// the other ranks (see Receiver), with acknowledged delivery: a batch counts
// as delivered once its receiver has stored it.
//
// Send may return before the batch is delivered; Flush waits until every
// batch sent so far is. So once every rank's Flush has returned, every row
// of the shuffle is in its owner's engine, whether the transport delivers
// synchronously (LocalTransport) or through a network.
type Transport interface {
	// Send hands b to the transport for delivery to toRank. It must not
	// retain b, or its bytes, after it returns: the Sender reuses it. Send
	// should return promptly with ctx's error once ctx is done. A
	// delivery that fails is reported by this Send or by a later Send or
	// Flush.
	Send(ctx context.Context, toRank int, b *Batch) error
	// Flush waits until every batch sent so far has been acknowledged by
	// its receiver, and returns the first delivery error.
	Flush(ctx context.Context) error
	// MaxBatchBytes is the largest encoded batch (Batch.Size) that one Send
	// may carry, or 0 for no limit. Senders keep their batches within it.
	MaxBatchBytes() int
}

// A Receiver stores the batches sent to one rank. An Engine is one. The
// transport acknowledges a batch to its sender once InsertBatch has returned
// nil; InsertBatch must not retain b.
type Receiver interface {
	InsertBatch(b *Batch) error
}

// ErrPeerClosed is wrapped by the errors of sends to a rank whose receiver
// has left the shuffle (its actor stopped or its node was lost).
var ErrPeerClosed = errors.New("shuffle: peer closed")

// A Sender is the sending side of a shuffle for one rank: it routes each
// row to the rank that owns its partition, buffers rows per destination in
// a Batch, and sends a batch through the Transport once it reaches
// flushBytes encoded bytes (never more than the transport's MaxBatchBytes).
// Call Flush after the last Add: it sends what is buffered and waits until
// the transport has delivered everything.
//
// A Sender is not safe for concurrent use; give each producing goroutine
// its own. After any error (including a cancelled context) the Sender is
// stopped: every later call returns that error.
type Sender struct {
	rank, numRanks, numPartitions int
	t                             Transport
	flushBytes                    int
	maxBytes                      int     // the transport's limit per batch; 0 = none
	batches                       []Batch // one per destination rank
	err                           error
}

// NewSender returns a Sender for rank out of numRanks, routing to
// numPartitions partitions through t. flushBytes <= 0 means 1 MiB; when the
// transport limits the size of a batch, flushBytes is at most half of that
// limit, and no batch ever exceeds it.
// It panics if numRanks < 1 or numPartitions < 1, which are programming
// errors.
func NewSender(rank, numRanks, numPartitions int, t Transport, flushBytes int) *Sender {
	if numRanks < 1 || numPartitions < 1 {
		panic(fmt.Sprintf("shuffle: NewSender: numRanks %d and numPartitions %d must be >= 1", numRanks, numPartitions))
	}
	if flushBytes <= 0 {
		flushBytes = 1 << 20
	}
	maxBytes := t.MaxBatchBytes()
	if maxBytes > 0 {
		flushBytes = max(min(flushBytes, maxBytes/2), 1)
	}
	return &Sender{
		rank:          rank,
		numRanks:      numRanks,
		numPartitions: numPartitions,
		t:             t,
		flushBytes:    flushBytes,
		maxBytes:      maxBytes,
		batches:       make([]Batch, numRanks),
	}
}

// Add sends key and value to partition PartitionOf(key, numPartitions).
func (s *Sender) Add(ctx context.Context, key, value []byte) error {
	return s.AddToPartition(ctx, PartitionOf(key, s.numPartitions), key, value)
}

// AddToPartition sends key and value to partition. The key and value are
// copied before AddToPartition returns.
func (s *Sender) AddToPartition(ctx context.Context, partition int, key, value []byte) error {
	if s.err != nil {
		return s.err
	}
	if err := ctx.Err(); err != nil {
		s.err = fmt.Errorf("shuffle: sender rank %d stopped: %w", s.rank, err)
		return s.err
	}
	if partition < 0 || partition >= s.numPartitions {
		return fmt.Errorf("shuffle: sender rank %d: partition %d out of range [0, %d)", s.rank, partition, s.numPartitions)
	}
	to := Owner(partition, s.numRanks)
	b := &s.batches[to]
	if s.maxBytes > 0 {
		n := rowSize(partition, key, value)
		if 1+n > s.maxBytes {
			return fmt.Errorf("shuffle: sender rank %d: a row of %d bytes (key %d, value %d) does not fit in the transport's %d-byte message limit", s.rank, n, len(key), len(value), s.maxBytes)
		}
		if b.Rows() > 0 && b.Size()+n > s.maxBytes {
			if err := s.send(ctx, to); err != nil {
				return err
			}
		}
	}
	if b.Size() == 0 {
		// A batch is sent once it reaches flushBytes: room for that and one
		// more row at once, instead of growing by doubling (copies, and
		// page faults on every new buffer), in a buffer a finished Sender
		// left (shuffles run one after another: LSH band ranges).
		n := s.flushBytes + rowSize(partition, key, value)
		if cap(b.buf) == 0 {
			b.buf = takeBuffer(n)
		}
		b.Grow(n)
	}
	b.Append(partition, key, value)
	if b.Size() >= s.flushBytes {
		return s.send(ctx, to)
	}
	return nil
}

// Flush sends every non-empty buffered batch and waits until the transport
// has delivered every batch sent so far.
func (s *Sender) Flush(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	for to := range s.batches {
		if s.batches[to].Rows() > 0 {
			if err := s.send(ctx, to); err != nil {
				return err
			}
		}
	}
	if err := s.t.Flush(ctx); err != nil {
		s.err = fmt.Errorf("shuffle: sender rank %d: flush: %w", s.rank, err)
		return s.err
	}
	for to := range s.batches { // empty now, and reused by the next Sender
		if b := &s.batches[to]; cap(b.buf) > 0 && b.Rows() == 0 {
			putBuffer(b.buf)
			b.buf = nil
		}
	}
	return nil
}

// batchBuffers holds the buffers of flushed Senders for the next ones.
var batchBuffers sync.Pool

// takeBuffer returns an empty buffer from a flushed Sender, or nil, so that
// a shuffle after another does not fault in fresh memory for its batches.
func takeBuffer(n int) []byte {
	if p, ok := batchBuffers.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return nil
}

func putBuffer(b []byte) {
	b = b[:0]
	batchBuffers.Put(&b)
}

// rowSize is the encoded size of one row in a Batch.
func rowSize(partition int, key, value []byte) int {
	return uvarintLen(partition) + uvarintLen(len(key)) + uvarintLen(len(value)) + len(key) + len(value)
}

func (s *Sender) send(ctx context.Context, to int) error {
	if err := ctx.Err(); err != nil {
		s.err = fmt.Errorf("shuffle: sender rank %d stopped: %w", s.rank, err)
		return s.err
	}
	if err := s.t.Send(ctx, to, &s.batches[to]); err != nil {
		s.err = fmt.Errorf("shuffle: sender rank %d: send to rank %d: %w", s.rank, to, err)
		return s.err
	}
	s.batches[to].Reset()
	return nil
}

// LocalTransport is the simplest Transport: Send inserts the batch straight
// into the destination rank's Engine, in the sender's goroutine, so a batch
// is delivered when Send returns. It is safe for concurrent use. A runtime
// that builds each rank's engine on its own uses a LocalHub instead.
type LocalTransport struct {
	engines []*Engine
}

// NewLocalTransport returns a transport delivering to engines, indexed by
// rank.
func NewLocalTransport(engines []*Engine) *LocalTransport {
	return &LocalTransport{engines: engines}
}

// Send inserts b into the engine of toRank.
func (t *LocalTransport) Send(ctx context.Context, toRank int, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if toRank < 0 || toRank >= len(t.engines) {
		return fmt.Errorf("shuffle: local transport: rank %d out of range [0, %d)", toRank, len(t.engines))
	}
	return t.engines[toRank].InsertBatch(b)
}

// Flush implements Transport: every Send has delivered already.
func (t *LocalTransport) Flush(ctx context.Context) error { return ctx.Err() }

// MaxBatchBytes implements Transport: no limit.
func (t *LocalTransport) MaxBatchBytes() int { return 0 }
