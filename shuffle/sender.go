package shuffle

import (
	"context"
	"fmt"
)

// A Transport delivers batches to the engine of another rank. Send must
// not retain b, or its bytes, after it returns: the Sender reuses it.
// Send should return promptly with ctx's error once ctx is done.
type Transport interface {
	Send(ctx context.Context, toRank int, b *Batch) error
}

// A Sender is the sending side of a shuffle for one rank: it routes each
// row to the rank that owns its partition, buffers rows per destination in
// a Batch, and sends a batch through the Transport once it reaches
// flushBytes encoded bytes. Call Flush after the last Add.
//
// A Sender is not safe for concurrent use; give each producing goroutine
// its own. After any error (including a cancelled context) the Sender is
// stopped: every later call returns that error.
type Sender struct {
	rank, numRanks, numPartitions int
	t                             Transport
	flushBytes                    int
	batches                       []Batch // one per destination rank
	err                           error
}

// NewSender returns a Sender for rank out of numRanks, routing to
// numPartitions partitions through t. flushBytes <= 0 means 1 MiB.
// It panics if numRanks < 1 or numPartitions < 1, which are programming
// errors.
func NewSender(rank, numRanks, numPartitions int, t Transport, flushBytes int) *Sender {
	if numRanks < 1 || numPartitions < 1 {
		panic(fmt.Sprintf("shuffle: NewSender: numRanks %d and numPartitions %d must be >= 1", numRanks, numPartitions))
	}
	if flushBytes <= 0 {
		flushBytes = 1 << 20
	}
	return &Sender{
		rank:          rank,
		numRanks:      numRanks,
		numPartitions: numPartitions,
		t:             t,
		flushBytes:    flushBytes,
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
	b.Append(partition, key, value)
	if b.Size() >= s.flushBytes {
		return s.send(ctx, to)
	}
	return nil
}

// Flush sends every non-empty buffered batch.
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
	return nil
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

// LocalTransport is the in-process Transport: Send inserts the batch
// straight into the destination rank's Engine. It is safe for concurrent
// use.
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
