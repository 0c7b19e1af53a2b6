package p2p

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/subject"
	"github.com/sluice-data/sluice/shuffle"
)

// DefaultInFlight is how many data messages a DataSender leaves
// unacknowledged before Send waits.
const DefaultInFlight = 8

// DataOptions tune a DataSender.
type DataOptions struct {
	// Stream tunes the streams to the ranks (Gone is set from PeerGone).
	Stream Options
	// InFlight bounds the unacknowledged messages over all ranks (0:
	// DefaultInFlight), and so the sender's memory: InFlight messages.
	InFlight int
	// PeerGone, when set, returns a channel closed when rank's node is lost.
	PeerGone func(rank int) <-chan struct{}
	// GoneErr is what sends to a lost rank fail with (wrapped; nil:
	// ErrPeerGone). A shuffle sets its own peer-closed error here.
	GoneErr error
}

// dataMember is the receiving subject token of a rank's data endpoint.
func dataMember(rank int) string { return "d" + strconv.Itoa(rank) }

// DataSender delivers byte messages from one rank to the data receivers
// ([ListenData]) of the other ranks of a group: the point-to-point path
// of a shuffle. A message is acknowledged once the receiver's handler has
// returned (for a shuffle: the batch is in the destination's engine), so
// after Flush returns nil every message sent is where it belongs; that is
// what makes "insert finished" a barrier across processes.
type DataSender struct {
	nc    *nats.Conn
	run   subject.Run
	group string
	rank  int
	opts  DataOptions
	slots chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	streams []*Stream
	err     error // the first failure, sticky
}

// NewDataSender returns rank's sender in group (size ranks).
func NewDataSender(nc *nats.Conn, run subject.Run, group string, rank, size int, opts DataOptions) (*DataSender, error) {
	if err := subject.ValidToken(group); err != nil {
		return nil, fmt.Errorf("p2p: data group: %w", err)
	}
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("p2p: data group %s: rank %d outside [0, %d)", group, rank, size)
	}
	if opts.InFlight <= 0 {
		opts.InFlight = DefaultInFlight
	}
	return &DataSender{nc: nc, run: run, group: group, rank: rank, opts: opts,
		slots: make(chan struct{}, opts.InFlight), streams: make([]*Stream, size)}, nil
}

func (d *DataSender) stream(to int) *Stream {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.streams[to] == nil {
		o := d.opts.Stream
		if d.opts.PeerGone != nil {
			o.Gone = d.opts.PeerGone(to)
		}
		if d.opts.GoneErr != nil {
			o.GoneErr = d.opts.GoneErr
		}
		d.streams[to] = NewStream(d.nc, d.run.P2P(d.group, dataMember(to)), strconv.Itoa(d.rank), o)
	}
	return d.streams[to]
}

func (d *DataSender) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Send copies data and sends it to rank to. It waits while InFlight
// messages are unacknowledged, and returns the first failure of any
// earlier message (a receiver's handler error, a lost peer).
func (d *DataSender) Send(ctx context.Context, to int, data []byte) error {
	if to < 0 || to >= len(d.streams) {
		return fmt.Errorf("p2p: data send from rank %d: destination rank %d outside [0, %d)", d.rank, to, len(d.streams))
	}
	if err := d.failed(); err != nil {
		return err
	}
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("p2p: data send from rank %d to rank %d: %w", d.rank, to, ctx.Err())
	}
	ack := d.stream(to).Send("", append([]byte(nil), data...))
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		<-ack.Done()
		if err := ack.Err(); err != nil {
			d.mu.Lock()
			if d.err == nil {
				d.err = fmt.Errorf("p2p: data from rank %d to rank %d: %w", d.rank, to, err)
			}
			d.mu.Unlock()
		}
		<-d.slots
	}()
	return nil
}

// Flush waits until every message sent is acknowledged and returns the
// first failure.
func (d *DataSender) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return d.failed()
	case <-ctx.Done():
		return fmt.Errorf("p2p: data flush at rank %d: %w", d.rank, ctx.Err())
	}
}

// Close fails what is unacknowledged and releases the streams.
func (d *DataSender) Close() {
	d.mu.Lock()
	streams := d.streams
	d.mu.Unlock()
	for _, s := range streams {
		if s != nil {
			s.Close()
		}
	}
	d.wg.Wait()
}

// ListenData subscribes rank's data endpoint in group; handle receives
// each message with its sender's rank. Messages from one sender are
// handled in order; different senders' concurrently.
func ListenData(nc *nats.Conn, run subject.Run, group string, rank int, handle func(from int, data []byte) error) (*Receiver, error) {
	if err := subject.ValidToken(group); err != nil {
		return nil, fmt.Errorf("p2p: data group: %w", err)
	}
	return Listen(nc, run.P2P(group, dataMember(rank)), func(m Message) error {
		from, err := strconv.Atoi(m.From)
		if err != nil {
			return fmt.Errorf("p2p: data from unknown rank %q", m.From)
		}
		return handle(from, m.Data)
	})
}

// MaxMessage is the largest message that travels as one NATS message
// (larger ones are chunked).
func (d *DataSender) MaxMessage() int { return ChunkSize(d.nc, d.opts.Stream) }

// ShuffleTransport adapts a DataSender to shuffle.Transport: a Batch is
// sent as its encoding (copied, so the Sender may reuse it). Its methods
// are those of the acknowledged shuffle.Transport of issue 8 (Send, Flush,
// MaxBatchBytes).
type ShuffleTransport struct{ D *DataSender }

var _ shuffle.Transport = ShuffleTransport{}

// Send sends b's encoding to toRank.
func (t ShuffleTransport) Send(ctx context.Context, toRank int, b *shuffle.Batch) error {
	return t.D.Send(ctx, toRank, b.Bytes())
}

// Flush waits for every batch's ack.
func (t ShuffleTransport) Flush(ctx context.Context) error { return t.D.Flush(ctx) }

// MaxBatchBytes keeps every batch within one NATS message.
func (t ShuffleTransport) MaxBatchBytes() int { return t.D.MaxMessage() }

// BatchReceiver is what stores a rank's batches (a *shuffle.Engine is one).
type BatchReceiver interface {
	InsertBatch(b *shuffle.Batch) error
}

// InsertInto is a ListenData handler that decodes each message as a
// shuffle.Batch and inserts it into e; the sender's ack waits for it.
func InsertInto(e BatchReceiver) func(from int, data []byte) error {
	return func(from int, data []byte) error {
		var b shuffle.Batch
		if err := b.SetBytes(data); err != nil {
			return fmt.Errorf("batch from rank %d: %w", from, err)
		}
		return e.InsertBatch(&b)
	}
}
