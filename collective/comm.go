package collective

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
)

// Communicator is what a collective stage sees: the group's collective
// operations. [*Comm] implements it over any [Transport].
type Communicator interface {
	// Rank is the caller's rank, in [0, Size()).
	Rank() int
	// Size is the number of ranks in the group.
	Size() int
	// Barrier returns once every rank has entered it.
	Barrier(ctx context.Context) error
	// Broadcast returns root's data on every rank; data is ignored on the
	// other ranks.
	Broadcast(ctx context.Context, root int, data []byte) ([]byte, error)
	// AllGather returns every rank's data: result[i] is rank i's data.
	AllGather(ctx context.Context, data []byte) ([][]byte, error)
	// AllToAll sends send[j] to rank j (len(send) must be Size()) and
	// returns what the others sent: result[i] came from rank i.
	AllToAll(ctx context.Context, send [][]byte) ([][]byte, error)
	// AllReduceInt64 combines v element-wise across ranks with op.
	AllReduceInt64(ctx context.Context, op Op, v []int64) ([]int64, error)
	// AllReduceUint64 combines v element-wise across ranks with op.
	AllReduceUint64(ctx context.Context, op Op, v []uint64) ([]uint64, error)
	// AllReduceFloat64 combines v element-wise across ranks with op.
	AllReduceFloat64(ctx context.Context, op Op, v []float64) ([]float64, error)
}

// Op is an element-wise reduction operator for the AllReduce collectives.
// The zero Op is invalid.
type Op int

// The reduction operators.
const (
	Sum Op = iota + 1 // sum; integer sums wrap around on overflow
	Min               // minimum; for floats a NaN anywhere gives NaN
	Max               // maximum; for floats a NaN anywhere gives NaN
)

// String returns the operator's name.
func (o Op) String() string {
	switch o {
	case Sum:
		return "sum"
	case Min:
		return "min"
	case Max:
		return "max"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

func (o Op) valid() bool { return o == Sum || o == Min || o == Max }

// Tags: every collective call takes the next sequence number and uses
// seq<<phaseBits | phase as its tags, so the messages of two calls never mix
// even when a fast rank is already one call ahead.
const phaseBits = 8

// Comm runs collective algorithms over a [Transport]. It implements
// [Communicator].
//
// Contract: every rank of the group must call the collectives of its Comm in
// the same order, with the same root (Broadcast), op and vector length
// (AllReduce*). Each call consumes one fresh tag sequence on every rank, so
// consecutive calls never mix their messages. A Comm is not safe for
// concurrent use: one goroutine per rank drives it. After a collective
// returns an error (cancellation, closed transport, bad arguments) the group
// is in an undefined state and should be torn down.
//
// Buffers: slices passed in are never modified or retained, except that the
// caller's own entry of a result (result[Rank()] of AllGather and AllToAll,
// and the result of Broadcast at root) is the caller's input slice itself.
// All other returned slices are owned by the caller.
//
// Algorithms (n = Size()): Barrier is a dissemination barrier (ceil(log2 n)
// rounds); Broadcast is a binomial tree; AllGather and AllToAll are pairwise
// exchanges in which every rank sends n-1 messages and receives n-1; the
// AllReduce family reduces up a binomial tree to rank 0 in a fixed order and
// broadcasts the result down, so every rank gets bit-identical floats.
type Comm struct {
	t    Transport
	rank int
	size int
	seq  uint64
}

var _ Communicator = (*Comm)(nil)

// New returns a Comm over t. The Comm does not own t: the caller closes it.
func New(t Transport) *Comm {
	return &Comm{t: t, rank: t.Rank(), size: t.Size()}
}

// Rank is the caller's rank.
func (c *Comm) Rank() int { return c.rank }

// Size is the number of ranks in the group.
func (c *Comm) Size() int { return c.size }

// begin starts a collective call: it takes the call's base tag and checks ctx.
func (c *Comm) begin(ctx context.Context, name string) (uint64, error) {
	c.seq++
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("collective: %s at rank %d: %w", name, c.rank, err)
	}
	return c.seq << phaseBits, nil
}

func (c *Comm) send(ctx context.Context, name string, to int, tag uint64, msg []byte) error {
	if err := c.t.Send(ctx, to, tag, msg); err != nil {
		return fmt.Errorf("collective: %s at rank %d: send to rank %d: %w", name, c.rank, to, err)
	}
	return nil
}

func (c *Comm) recv(ctx context.Context, name string, from int, tag uint64) ([]byte, error) {
	msg, err := c.t.Recv(ctx, from, tag)
	if err != nil {
		return nil, fmt.Errorf("collective: %s at rank %d: recv from rank %d: %w", name, c.rank, from, err)
	}
	return msg, nil
}

// Barrier blocks until every rank has called Barrier. In round k each rank
// signals rank+2^k and waits for rank-2^k (modulo n); after ceil(log2 n)
// rounds every rank has transitively heard from all others.
func (c *Comm) Barrier(ctx context.Context) error {
	const name = "barrier"
	tag, err := c.begin(ctx, name)
	if err != nil {
		return err
	}
	n, r := c.size, c.rank
	for k, dist := uint64(0), 1; dist < n; k, dist = k+1, dist*2 {
		if err := c.send(ctx, name, (r+dist)%n, tag|k, nil); err != nil {
			return err
		}
		if _, err := c.recv(ctx, name, (r-dist+n)%n, tag|k); err != nil {
			return err
		}
	}
	return nil
}

// Broadcast sends root's data to every rank along a binomial tree rooted at
// root (ceil(log2 n) steps). At root the result is data itself; elsewhere it
// is a fresh slice and data is ignored.
func (c *Comm) Broadcast(ctx context.Context, root int, data []byte) ([]byte, error) {
	const name = "broadcast"
	tag, err := c.begin(ctx, name)
	if err != nil {
		return nil, err
	}
	if root < 0 || root >= c.size {
		return nil, fmt.Errorf("collective: %s at rank %d: root %d outside [0, %d)", name, c.rank, root, c.size)
	}
	return c.bcast(ctx, name, tag, root, data)
}

// bcast is the binomial-tree broadcast shared by Broadcast and AllReduce.
// Ranks are renumbered so root is virtual rank 0; virtual rank v receives
// from v minus its lowest set bit and forwards to v+2^j for every 2^j below
// that bit.
func (c *Comm) bcast(ctx context.Context, name string, tag uint64, root int, data []byte) ([]byte, error) {
	n := c.size
	vr := (c.rank - root + n) % n
	buf := data
	mask := 1
	for mask < n {
		if vr&mask != 0 {
			src := (vr - mask + root) % n
			var err error
			if buf, err = c.recv(ctx, name, src, tag); err != nil {
				return nil, err
			}
			break
		}
		mask <<= 1
	}
	for mask >>= 1; mask > 0; mask >>= 1 {
		if vr+mask < n {
			if err := c.send(ctx, name, (vr+mask+root)%n, tag, bytes.Clone(buf)); err != nil {
				return nil, err
			}
		}
	}
	return buf, nil
}

// AllGather returns every rank's data (result[i] is rank i's). In step k
// (1 <= k < n) each rank sends its data to rank+k and receives from rank-k,
// so each rank sends and receives n-1 messages and nothing funnels through
// one rank.
func (c *Comm) AllGather(ctx context.Context, data []byte) ([][]byte, error) {
	const name = "allgather"
	tag, err := c.begin(ctx, name)
	if err != nil {
		return nil, err
	}
	n, r := c.size, c.rank
	out := make([][]byte, n)
	out[r] = data
	for k := 1; k < n; k++ {
		to, from := (r+k)%n, (r-k+n)%n
		if err := c.send(ctx, name, to, tag, bytes.Clone(data)); err != nil {
			return nil, err
		}
		if out[from], err = c.recv(ctx, name, from, tag); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AllToAll sends send[j] to rank j and returns result[i], the slice rank i
// sent to the caller. It uses the same pairwise schedule as AllGather: n-1
// messages out and n-1 in per rank. A nil or empty send[j] is delivered as
// an empty message.
func (c *Comm) AllToAll(ctx context.Context, send [][]byte) ([][]byte, error) {
	const name = "alltoall"
	tag, err := c.begin(ctx, name)
	if err != nil {
		return nil, err
	}
	n, r := c.size, c.rank
	if len(send) != n {
		return nil, fmt.Errorf("collective: %s at rank %d: %d send buffers for %d ranks", name, r, len(send), n)
	}
	out := make([][]byte, n)
	out[r] = send[r]
	for k := 1; k < n; k++ {
		to, from := (r+k)%n, (r-k+n)%n
		if err := c.send(ctx, name, to, tag, bytes.Clone(send[to])); err != nil {
			return nil, err
		}
		if out[from], err = c.recv(ctx, name, from, tag); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AllReduceInt64 returns the element-wise reduction of v over all ranks.
// Every rank must pass the same op and a vector of the same length; a length
// mismatch is detected and reported on every rank.
func (c *Comm) AllReduceInt64(ctx context.Context, op Op, v []int64) ([]int64, error) {
	return allReduce(ctx, c, "allreduce int64", op, v,
		func(x int64) uint64 { return uint64(x) }, func(u uint64) int64 { return int64(u) })
}

// AllReduceUint64 returns the element-wise reduction of v over all ranks;
// see AllReduceInt64.
func (c *Comm) AllReduceUint64(ctx context.Context, op Op, v []uint64) ([]uint64, error) {
	return allReduce(ctx, c, "allreduce uint64", op, v,
		func(x uint64) uint64 { return x }, func(u uint64) uint64 { return u })
}

// AllReduceFloat64 returns the element-wise reduction of v over all ranks;
// see AllReduceInt64. The combination order is fixed (a binomial tree over
// ranks), so results are bit-identical on all ranks and reproducible across
// runs with the same inputs.
func (c *Comm) AllReduceFloat64(ctx context.Context, op Op, v []float64) ([]float64, error) {
	return allReduce(ctx, c, "allreduce float64", op, v, math.Float64bits, math.Float64frombits)
}

type number interface {
	~int64 | ~uint64 | ~float64
}

// Reduction messages are a status byte followed by the vector as fixed
// 8-byte little-endian words. A bad status marks a length mismatch somewhere
// below in the tree; it travels up to rank 0 and back down so that every
// rank fails instead of some of them hanging.
const (
	statusOK       = 0
	statusMismatch = 1
)

func allReduce[T number](ctx context.Context, c *Comm, name string, op Op, v []T,
	enc func(T) uint64, dec func(uint64) T) ([]T, error) {
	tag, err := c.begin(ctx, name)
	if err != nil {
		return nil, err
	}
	if !op.valid() {
		return nil, fmt.Errorf("collective: %s at rank %d: invalid op %v", name, c.rank, op)
	}
	combine := func(acc, in []T) {
		switch op {
		case Sum:
			for i := range acc {
				acc[i] += in[i]
			}
		case Min:
			for i := range acc {
				acc[i] = min(acc[i], in[i])
			}
		case Max:
			for i := range acc {
				acc[i] = max(acc[i], in[i])
			}
		}
	}
	acc := append([]T(nil), v...)
	status := byte(statusOK)
	n, r := c.size, c.rank
	in := make([]T, len(v))
	// Reduce: binomial tree towards rank 0. Rank r first absorbs the
	// partial results of r+1, r+2, r+4, ... (while those bits of r are 0),
	// then sends its partial result to r minus its lowest set bit.
	for mask := 1; mask < n; mask <<= 1 {
		if r&mask != 0 {
			if err := c.send(ctx, name, r-mask, tag, encodeVec(status, acc, enc)); err != nil {
				return nil, err
			}
			break
		}
		if r+mask < n {
			msg, err := c.recv(ctx, name, r+mask, tag)
			if err != nil {
				return nil, err
			}
			st, ok := decodeVec(msg, in, dec)
			if !ok || st != statusOK {
				status = statusMismatch
				continue
			}
			combine(acc, in)
		}
	}
	// Broadcast the result from rank 0.
	var root []byte
	if r == 0 {
		root = encodeVec(status, acc, enc)
	}
	msg, err := c.bcast(ctx, name, tag|1, 0, root)
	if err != nil {
		return nil, err
	}
	if st, ok := decodeVec(msg, acc, dec); !ok || st != statusOK {
		return nil, fmt.Errorf("collective: %s at rank %d: vector length differs between ranks (this rank has %d)", name, r, len(v))
	}
	return acc, nil
}

// encodeVec encodes status and v into a fresh buffer.
func encodeVec[T number](status byte, v []T, enc func(T) uint64) []byte {
	b := make([]byte, 1, 1+8*len(v))
	b[0] = status
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, enc(x))
	}
	return b
}

// decodeVec decodes msg into out, reporting false if the lengths differ.
func decodeVec[T number](msg []byte, out []T, dec func(uint64) T) (byte, bool) {
	if len(msg) != 1+8*len(out) {
		return statusMismatch, false
	}
	for i := range out {
		out[i] = dec(binary.LittleEndian.Uint64(msg[1+8*i:]))
	}
	return msg[0], true
}
