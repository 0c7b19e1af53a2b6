package executor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"
)

// CallFunc applies one unit of work to one actor. The Pool calls it in its
// own goroutine with an idle actor and a submitted value; the actor counts as
// busy until the call returns. ctx is cancelled when the pool is closed; a
// call that can block should watch it.
//
// The returned error belongs to the call: GetNext and GetNextUnordered hand it
// back to the caller together with the result, unless PoolOptions.IsDead
// classifies it as the actor's death (see PoolOptions). A panic in a CallFunc
// is not recovered: like any goroutine's, it ends the program.
type CallFunc[A any, V any, R any] func(ctx context.Context, actor A, v V) (R, error)

// DefaultPoolMaxPending is the capacity of the pending queue when
// PoolOptions.MaxPending is zero or negative.
const DefaultPoolMaxPending = 1024

// PoolNoTimeout passed as the timeout of GetNext or GetNextUnordered waits
// for a result with no limit other than the context. Any negative duration
// has the same meaning. A timeout of zero does not wait at all: it returns a
// result that is already available or ErrPoolTimeout.
const PoolNoTimeout time.Duration = -1

// poolFreeListMax bounds how many finished task records a Pool keeps for
// reuse, so a burst of submissions does not pin its memory forever.
const poolFreeListMax = 256

// Errors returned by Pool methods. Test for them with errors.Is: some are
// wrapped with the operation that failed.
var (
	// ErrPoolTimeout reports that GetNext or GetNextUnordered gave up after
	// its timeout. The pool is left as it was: the awaited call stays
	// outstanding and a later get can still return its result.
	ErrPoolTimeout = errors.New("executor: pool: timed out waiting for a result")

	// ErrNoActors reports that work is waiting for an actor but the pool
	// has none left (they were evicted as dead or removed with PopIdle), so
	// waiting would never end. The queued work is kept: Push an actor and it
	// runs.
	ErrNoActors = errors.New("executor: pool: work is queued but the pool has no actors")

	// ErrPoolEmpty reports a get with no outstanding call to return, the
	// counterpart of the StopIteration raised by Ray's ActorPool.
	ErrPoolEmpty = errors.New("executor: pool: no outstanding calls")

	// ErrPoolOrder reports a GetNext whose ordered cursor has been moved
	// past every outstanding call by earlier GetNextUnordered calls; those
	// calls can only be collected with GetNextUnordered now.
	ErrPoolOrder = errors.New("executor: pool: GetNext cannot reach the remaining calls after GetNextUnordered")

	// ErrPoolFull reports that TrySubmit found no idle actor and no room
	// in the pending queue.
	ErrPoolFull = errors.New("executor: pool: pending queue is full")

	// ErrPoolClosed reports use of a pool after Close.
	ErrPoolClosed = errors.New("executor: pool: closed")

	// ErrPoolDuplicateActor reports a Push of an actor the pool already
	// holds, idle or busy.
	ErrPoolDuplicateActor = errors.New("executor: pool: actor already belongs to the pool")
)

// PoolOptions configures a Pool. The zero value is ready to use: a pending
// queue of DefaultPoolMaxPending calls and no notion of dead actors.
type PoolOptions struct {
	// MaxPending bounds the number of submitted calls that wait for an
	// idle actor. Submit blocks while the queue is full; TrySubmit fails
	// with ErrPoolFull. Zero or negative selects DefaultPoolMaxPending.
	// Calls requeued after an actor's death (RequeueOnDeath) may briefly
	// exceed the bound: they were admitted before.
	//
	// The bound covers calls that have not started. Results of finished
	// calls are kept until collected with GetNext or GetNextUnordered and
	// are not counted, so a caller may submit everything before collecting
	// anything; the price is that a producer that runs ahead of its
	// consumer holds that many results in memory.
	MaxPending int

	// IsDead, if set, is asked about every non-nil error a call returns.
	// When it reports true the actor that ran the call is considered dead
	// and is evicted: it is never handed work again and NumActors drops.
	// IsDead runs in the call's goroutine, outside the pool's lock.
	IsDead func(err error) bool

	// RequeueOnDeath chooses what happens to the call that revealed a dead
	// actor. When true, its value is put back at the front of the pending
	// queue and the remaining actors run it; the caller never sees the
	// death (a value that kills every actor it meets is thus retried once
	// per actor, after which gets report ErrNoActors). When false, the call completes with the error and the result
	// the CallFunc returned, and GetNext delivers both to the caller.
	RequeueOnDeath bool
}

// poolTaskState is the life cycle of one submitted call.
type poolTaskState uint8

const (
	poolTaskQueued  poolTaskState = iota // waiting in the pending queue
	poolTaskRunning                      // running on an actor
	poolTaskDone                         // finished; result not yet returned
)

// poolTask is the record of one submitted call. Records are recycled through
// the pool's free list once their result is returned or discarded.
type poolTask[A any, V any, R any] struct {
	fn        CallFunc[A, V, R]
	v         V
	res       R
	err       error
	seq       uint64 // submission index
	state     poolTaskState
	abandoned bool // result to be discarded (see Pool.Abandon)

	prev, next *poolTask[A, V, R] // links in the completion list
}

// Pool runs calls on a fixed but adjustable set of actors, at most one call
// per actor at a time. It is the Go counterpart of Ray's
// ray.util.ActorPool, which NeMo Curator's actor-pool executor builds on:
// an actor is any comparable handle (a worker index, a connection, a model
// replica), a call is a CallFunc applied to an actor and a value, and results
// come back either in submission order (GetNext) or as they finish
// (GetNextUnordered).
//
// Each busy actor is driven by one goroutine that runs its call and then, if
// work is queued, the next queued call, so a backlog is drained without a
// goroutine hand-off per call. Idle actors are handed work in FIFO order.
//
// Differences from Ray's ActorPool, all deliberate:
//   - An actor becomes idle as soon as its call returns, not when the caller
//     collects the result, so queued work never waits on a slow consumer.
//   - The pending queue is bounded (PoolOptions.MaxPending) and Submit
//     blocks while it is full.
//   - Idle actors are reused in FIFO order, not LIFO, so an actor that fails
//     instantly cannot absorb every task (ray-project/ray#50313).
//   - Dead actors (PoolOptions.IsDead) are evicted and, optionally, their
//     work requeued; when work is queued and no actor is left, gets fail with
//     ErrNoActors instead of hanging.
//   - Giving up on outstanding calls (Abandon, Map) keeps their actors busy
//     until the calls really return; Ray hands such actors out again while
//     they still run.
//
// A Pool is safe for concurrent use. Map and MapUnordered assume no other
// goroutine submits or gets while their sequence is consumed.
//
// Cost: starting a call on an idle actor starts a goroutine; a call taken
// from the queue by an actor that just finished costs only a lock round. The
// task record of each call is recycled once its result is collected.
type Pool[A comparable, V any, R any] struct {
	maxPending int
	isDead     func(error) bool
	requeue    bool

	ctx    context.Context // passed to every call; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // one count per running actor goroutine

	mu          sync.Mutex
	getCond     sync.Cond // signalled when a result or the actor set changes
	roomCond    sync.Cond // signalled when the pending queue shrinks
	getWaiters  int
	roomWaiters int
	wakeGet     func() // prebuilt callbacks for context.AfterFunc / time.AfterFunc
	wakeRoom    func()

	closed  bool
	members map[A]struct{} // every live actor, idle or busy
	// parked holds, for idle actors whose goroutine is still waiting for
	// more work, the channel that hands it the next call (see drive).
	parked map[A]chan *poolTask[A, V, R]
	idle   poolRing[A]                  // idle actors, longest idle first
	queue  poolRing[*poolTask[A, V, R]] // calls waiting for an actor
	// order holds the outstanding calls by submission index: order.at(i) is
	// the call with seq base+i, or nil once returned. Outstanding means
	// submitted, not abandoned and not yet returned to the caller.
	order       poolRing[*poolTask[A, V, R]]
	base        uint64
	nextSeq     uint64             // seq of the next submission
	cursor      uint64             // seq GetNext returns next
	outstanding int                // non-nil entries in order
	doneHead    *poolTask[A, V, R] // finished calls, oldest first
	doneTail    *poolTask[A, V, R]
	free        []*poolTask[A, V, R]
}

// NewPool returns a pool over actors; all of them start idle. It panics if an
// actor appears twice, a programming error. Close the pool when done with it.
func NewPool[A comparable, V any, R any](actors []A, opts PoolOptions) *Pool[A, V, R] {
	p := &Pool[A, V, R]{
		maxPending: opts.MaxPending,
		isDead:     opts.IsDead,
		requeue:    opts.RequeueOnDeath,
		members:    make(map[A]struct{}, len(actors)),
		parked:     make(map[A]chan *poolTask[A, V, R]),
	}
	if p.maxPending <= 0 {
		p.maxPending = DefaultPoolMaxPending
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.getCond.L = &p.mu
	p.roomCond.L = &p.mu
	p.wakeGet = func() { p.mu.Lock(); p.getCond.Broadcast(); p.mu.Unlock() }
	p.wakeRoom = func() { p.mu.Lock(); p.roomCond.Broadcast(); p.mu.Unlock() }
	for _, a := range actors {
		if _, dup := p.members[a]; dup {
			panic(fmt.Sprintf("executor: NewPool: actor %v listed twice", a))
		}
		p.members[a] = struct{}{}
		p.idle.pushBack(a)
	}
	return p
}

// Submit schedules fn(actor, v). If an actor is idle the call starts at once;
// otherwise it joins the pending queue, and if that queue is full Submit
// blocks until a call finishes and makes room, ctx is done, or the pool is
// closed. It fails with ErrNoActors if the queue is full and the pool has no
// actor left to drain it.
//
// The call's result is collected with GetNext or GetNextUnordered.
func (p *Pool[A, V, R]) Submit(ctx context.Context, fn CallFunc[A, V, R], v V) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if p.closed {
			return ErrPoolClosed
		}
		if p.admitLocked(fn, v) {
			return nil
		}
		var err error
		switch {
		case len(p.members) == 0:
			err = ErrNoActors
		case ctx.Err() != nil:
			err = fmt.Errorf("executor: pool submit: %w", ctx.Err())
		}
		if err != nil {
			// A wake-up meant for a submitter may have been spent on us;
			// pass it on so room is not left unused.
			if p.roomWaiters > 0 && p.queue.len() < p.maxPending {
				p.roomCond.Signal()
			}
			return err
		}
		if stop == nil && ctx.Done() != nil {
			stop = context.AfterFunc(ctx, p.wakeRoom)
		}
		p.roomWaiters++
		p.roomCond.Wait()
		p.roomWaiters--
	}
}

// TrySubmit is Submit without waiting: it fails with ErrPoolFull when no
// actor is idle and the pending queue is full.
func (p *Pool[A, V, R]) TrySubmit(fn CallFunc[A, V, R], v V) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrPoolClosed
	}
	if !p.admitLocked(fn, v) {
		return ErrPoolFull
	}
	return nil
}

// admitLocked starts fn(v) on the longest-idle actor, or queues it if there
// is room. It reports false, changing nothing, when neither is possible.
func (p *Pool[A, V, R]) admitLocked(fn CallFunc[A, V, R], v V) bool {
	// Invariant: the queue is empty whenever an actor is idle.
	if p.idle.len() == 0 && p.queue.len() >= p.maxPending {
		return false
	}
	t := p.newTaskLocked(fn, v)
	p.order.pushBack(t)
	p.outstanding++
	if p.idle.len() > 0 {
		p.startLocked(p.idle.popFront(), t)
	} else {
		p.queue.pushBack(t)
	}
	return true
}

// newTaskLocked returns a fresh task record, reusing a recycled one if any.
func (p *Pool[A, V, R]) newTaskLocked(fn CallFunc[A, V, R], v V) *poolTask[A, V, R] {
	var t *poolTask[A, V, R]
	if n := len(p.free); n > 0 {
		t = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	} else {
		t = new(poolTask[A, V, R])
	}
	t.fn, t.v, t.seq = fn, v, p.nextSeq
	p.nextSeq++
	return t
}

// recycleLocked clears t and keeps it for reuse.
func (p *Pool[A, V, R]) recycleLocked(t *poolTask[A, V, R]) {
	*t = poolTask[A, V, R]{}
	if len(p.free) < poolFreeListMax {
		p.free = append(p.free, t)
	}
}

// startLocked runs t on actor: it hands t to the actor's parked goroutine
// if it has one, or starts a new goroutine.
func (p *Pool[A, V, R]) startLocked(actor A, t *poolTask[A, V, R]) {
	t.state = poolTaskRunning
	if ch, ok := p.parked[actor]; ok {
		delete(p.parked, actor)
		ch <- t // buffered: never blocks
		return
	}
	p.wg.Add(1)
	go p.drive(actor, t)
}

// poolParkTime is how long an actor's goroutine waits for more work after
// its actor went idle before it exits. Reusing the goroutine saves a
// goroutine start and its stack growth per call when calls are short.
const poolParkTime = 20 * time.Millisecond

// drive runs t on actor, then keeps the actor busy with queued calls until
// the queue is empty, the actor dies or the pool is closed. When the actor
// goes idle the goroutine parks for a while, so that the next call handed to
// the actor reuses it.
func (p *Pool[A, V, R]) drive(actor A, t *poolTask[A, V, R]) {
	defer p.wg.Done()
	var ch chan *poolTask[A, V, R]
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for t != nil {
		res, err := t.fn(p.ctx, actor, t.v)
		dead := err != nil && p.isDead != nil && p.isDead(err)
		p.mu.Lock()
		t = p.finishLocked(actor, t, res, err, dead)
		if t != nil {
			p.mu.Unlock()
			continue
		}
		if _, member := p.members[actor]; p.closed || dead || !member {
			p.mu.Unlock()
			return
		}
		if ch == nil {
			ch = make(chan *poolTask[A, V, R], 1)
			timer = time.NewTimer(poolParkTime)
		} else {
			timer.Reset(poolParkTime)
		}
		p.parked[actor] = ch
		p.mu.Unlock()
		select {
		case t = <-ch:
			continue // a call, or nil: exit (PopIdle took the actor)
		case <-timer.C:
		case <-p.ctx.Done():
		}
		p.mu.Lock()
		if cur, ok := p.parked[actor]; ok && cur == ch {
			delete(p.parked, actor) // nobody handed us work: exit
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		t = <-ch // a hand-off raced with the timeout; nil means "exit"
	}
}

// unparkLocked tells actor's parked goroutine, if any, to exit.
func (p *Pool[A, V, R]) unparkLocked(actor A) {
	if ch, ok := p.parked[actor]; ok {
		delete(p.parked, actor)
		ch <- nil
	}
}

// finishLocked records the outcome of t on actor and returns the next call
// the actor should run, or nil if the actor goes idle, died or the pool is
// closed.
func (p *Pool[A, V, R]) finishLocked(actor A, t *poolTask[A, V, R], res R, err error, dead bool) *poolTask[A, V, R] {
	if p.closed {
		return nil
	}
	if dead {
		delete(p.members, actor)
		switch {
		case t.abandoned:
			p.recycleLocked(t)
		case p.requeue:
			t.state = poolTaskQueued
			p.queue.pushFront(t)
			if p.idle.len() > 0 {
				p.startLocked(p.idle.popFront(), p.queue.popFront())
			}
		default:
			p.completeLocked(t, res, err)
		}
		// The actor count changed: waiters may now have to give up with
		// ErrNoActors.
		p.getCond.Broadcast()
		p.roomCond.Broadcast()
		return nil
	}
	if t.abandoned {
		p.recycleLocked(t)
	} else {
		p.completeLocked(t, res, err)
	}
	if p.queue.len() > 0 {
		next := p.queue.popFront()
		next.state = poolTaskRunning
		if p.roomWaiters > 0 {
			p.roomCond.Signal()
		}
		return next
	}
	p.idle.pushBack(actor)
	return nil
}

// completeLocked stores a finished call's outcome and appends it to the
// completion list.
func (p *Pool[A, V, R]) completeLocked(t *poolTask[A, V, R], res R, err error) {
	t.res, t.err, t.state = res, err, poolTaskDone
	t.prev, t.next = p.doneTail, nil
	if p.doneTail != nil {
		p.doneTail.next = t
	} else {
		p.doneHead = t
	}
	p.doneTail = t
	if p.getWaiters > 0 {
		p.getCond.Broadcast()
	}
}

// takeLocked removes the finished call t from the pool's books and returns
// its outcome.
func (p *Pool[A, V, R]) takeLocked(t *poolTask[A, V, R]) (R, error) {
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		p.doneHead = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		p.doneTail = t.prev
	}
	p.order.set(int(t.seq-p.base), nil)
	for p.order.len() > 0 && p.order.at(0) == nil {
		p.order.popFront()
		p.base++
	}
	p.outstanding--
	res, err := t.res, t.err
	p.recycleLocked(t)
	return res, err
}

// HasNext reports whether any submitted call has a result still to collect
// (queued, running or finished). Calls given up by Abandon or Map do not
// count.
func (p *Pool[A, V, R]) HasNext() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && p.outstanding > 0
}

// GetNext returns the result of the oldest submitted call not yet returned
// by GetNext, waiting for it to finish. If the call failed, its error is
// returned along with whatever result it produced.
//
// timeout bounds the wait: zero only checks, a negative value
// (PoolNoTimeout) waits as long as ctx allows. On timeout GetNext returns
// ErrPoolTimeout and the call stays outstanding. Other pool errors:
// ErrPoolEmpty when nothing is outstanding, ErrPoolOrder when
// GetNextUnordered has already moved past every outstanding call (Ray's rule
// for mixing the two), ErrNoActors when the awaited call is queued and no
// actor is left, ErrPoolClosed, or ctx's error.
func (p *Pool[A, V, R]) GetNext(ctx context.Context, timeout time.Duration) (R, error) {
	res, callErr, poolErr := p.get(ctx, timeout, true)
	if poolErr != nil {
		return res, poolErr
	}
	return res, callErr
}

// GetNextUnordered returns the result of whichever outstanding call finished
// first, waiting for one if none has. Its timeout, errors and result
// semantics are those of GetNext. Afterwards GetNext continues after the
// returned call's position in submission order; calls before it remain
// reachable only through GetNextUnordered.
func (p *Pool[A, V, R]) GetNextUnordered(ctx context.Context, timeout time.Duration) (R, error) {
	res, callErr, poolErr := p.get(ctx, timeout, false)
	if poolErr != nil {
		return res, poolErr
	}
	return res, callErr
}

// get implements GetNext and GetNextUnordered, keeping the call's own error
// apart from the pool's so Map can tell them apart.
func (p *Pool[A, V, R]) get(ctx context.Context, timeout time.Duration, ordered bool) (res R, callErr, poolErr error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var (
		stop     func() bool
		timer    *time.Timer
		deadline time.Time
	)
	defer func() {
		if stop != nil {
			stop()
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if p.closed {
			return res, nil, ErrPoolClosed
		}
		if p.outstanding == 0 {
			return res, nil, ErrPoolEmpty
		}
		if ordered {
			if p.cursor >= p.nextSeq {
				return res, nil, ErrPoolOrder
			}
			t := p.order.at(int(p.cursor - p.base))
			if t.state == poolTaskDone {
				p.cursor++
				res, callErr = p.takeLocked(t)
				return res, callErr, nil
			}
			if t.state == poolTaskQueued && len(p.members) == 0 {
				return res, nil, ErrNoActors
			}
		} else {
			if t := p.doneHead; t != nil {
				p.cursor = max(p.cursor, t.seq+1)
				res, callErr = p.takeLocked(t)
				return res, callErr, nil
			}
			// With no actor nothing runs, so everything outstanding is
			// queued and would wait forever.
			if len(p.members) == 0 {
				return res, nil, ErrNoActors
			}
		}
		if timeout == 0 {
			return res, nil, ErrPoolTimeout
		}
		if err := ctx.Err(); err != nil {
			return res, nil, fmt.Errorf("executor: pool get: %w", ctx.Err())
		}
		if timeout > 0 {
			if timer == nil {
				deadline = time.Now().Add(timeout)
				timer = time.AfterFunc(timeout, p.wakeGet)
			} else if !time.Now().Before(deadline) {
				return res, nil, ErrPoolTimeout
			}
		}
		if stop == nil && ctx.Done() != nil {
			stop = context.AfterFunc(ctx, p.wakeGet)
		}
		p.getWaiters++
		p.getCond.Wait()
		p.getWaiters--
	}
}

// Abandon gives up on every outstanding call and returns how many there
// were: queued calls are dropped without running, finished results are
// discarded, and running calls keep their actors busy until they return but
// their results are discarded. Afterwards HasNext is false until the next
// submission. Ray's ignore_if_timedout corresponds to a get that timed out
// followed by Abandon.
func (p *Pool[A, V, R]) Abandon() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.abandonLocked()
}

func (p *Pool[A, V, R]) abandonLocked() int {
	n := p.outstanding
	if p.closed || n == 0 {
		return 0
	}
	for i := 0; i < p.order.len(); i++ {
		t := p.order.at(i)
		switch {
		case t == nil:
		case t.state == poolTaskRunning:
			t.abandoned = true // its actor's goroutine recycles it
		default:
			p.recycleLocked(t)
		}
	}
	p.queue.clear()
	p.order.clear()
	p.doneHead, p.doneTail = nil, nil
	p.base, p.cursor, p.outstanding = p.nextSeq, p.nextSeq, 0
	p.roomCond.Broadcast()
	p.getCond.Broadcast()
	return n
}

// Map applies fn to every value and returns the results in the order of
// values as a single-use sequence; each element carries the call's result and
// its own error.
//
// Like Ray's ActorPool.map, Map first gives up on every earlier outstanding
// call (see Abandon), so the sequence never yields a result of an earlier
// Submit (ray-project/ray#23107). It then submits eagerly, before the
// sequence is consumed, as many values as idle actors and pending room allow;
// the rest are submitted while the sequence is consumed. If the pool fails
// (ErrNoActors, ErrPoolClosed, ctx done) the sequence yields one element
// with that error and ends. Stopping the iteration early abandons the
// remaining calls. The sequence is single-use: ranging over it again yields
// nothing.
func (p *Pool[A, V, R]) Map(ctx context.Context, fn CallFunc[A, V, R], values []V) iter.Seq2[R, error] {
	return p.mapValues(ctx, fn, values, true)
}

// MapUnordered is Map with results in completion order.
func (p *Pool[A, V, R]) MapUnordered(ctx context.Context, fn CallFunc[A, V, R], values []V) iter.Seq2[R, error] {
	return p.mapValues(ctx, fn, values, false)
}

func (p *Pool[A, V, R]) mapValues(ctx context.Context, fn CallFunc[A, V, R], values []V, ordered bool) iter.Seq2[R, error] {
	p.mu.Lock()
	p.abandonLocked()
	next := p.admitManyLocked(fn, values)
	p.mu.Unlock()
	used := false
	return func(yield func(R, error) bool) {
		if used {
			return
		}
		used = true
		var zero R
		for {
			if next < len(values) {
				p.mu.Lock()
				next += p.admitManyLocked(fn, values[next:])
				p.mu.Unlock()
			}
			res, callErr, poolErr := p.get(ctx, PoolNoTimeout, ordered)
			switch {
			case poolErr == nil:
				if !yield(res, callErr) {
					p.Abandon()
					return
				}
			case errors.Is(poolErr, ErrPoolEmpty) && next == len(values):
				return
			case errors.Is(poolErr, ErrPoolEmpty):
				// Nothing outstanding yet values remain: the queue was
				// full of someone else's work. Wait for room.
				if err := p.Submit(ctx, fn, values[next]); err != nil {
					p.Abandon()
					yield(zero, err)
					return
				}
				next++
			default:
				p.Abandon()
				yield(zero, poolErr)
				return
			}
		}
	}
}

// admitManyLocked admits a prefix of values without blocking and returns its
// length.
func (p *Pool[A, V, R]) admitManyLocked(fn CallFunc[A, V, R], values []V) int {
	if p.closed {
		return 0
	}
	for i, v := range values {
		if !p.admitLocked(fn, v) {
			return i
		}
	}
	return len(values)
}

// HasFree reports whether an actor is idle and no call is waiting, that is
// whether a Submit would start at once.
func (p *Pool[A, V, R]) HasFree() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idle.len() > 0 && p.queue.len() == 0
}

// PopIdle removes an idle actor from the pool and returns it. It reports
// false, removing nothing, when HasFree would be false.
func (p *Pool[A, V, R]) PopIdle() (A, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.idle.len() == 0 || p.queue.len() > 0 {
		var zero A
		return zero, false
	}
	a := p.idle.popBack() // the one that would get work last
	delete(p.members, a)
	p.unparkLocked(a)
	return a, true
}

// Remove takes actor out of the pool if it is idle, and reports whether it
// did. A busy actor stays: it leaves the pool only if its call reveals it
// dead. The executor uses Remove for the idle actors of a lost node.
func (p *Pool[A, V, R]) Remove(actor A) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	found := false
	for range p.idle.len() {
		a := p.idle.popFront()
		if a == actor && !found {
			found = true
			continue
		}
		p.idle.pushBack(a)
	}
	if found {
		delete(p.members, actor)
		p.unparkLocked(actor)
	}
	return found
}

// Push adds actor to the pool. If calls are queued it starts the oldest on
// actor at once; otherwise actor joins the idle set. It fails with
// ErrPoolDuplicateActor if actor already belongs to the pool (an evicted or
// popped actor may be pushed again) and with ErrPoolClosed after Close.
func (p *Pool[A, V, R]) Push(actor A) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrPoolClosed
	}
	if _, ok := p.members[actor]; ok {
		return fmt.Errorf("executor: pool push %v: %w", actor, ErrPoolDuplicateActor)
	}
	p.members[actor] = struct{}{}
	if p.queue.len() > 0 {
		p.startLocked(actor, p.queue.popFront())
		if p.roomWaiters > 0 {
			p.roomCond.Signal()
		}
		return nil
	}
	p.idle.pushBack(actor)
	return nil
}

// NumActors returns the number of live actors in the pool, idle or busy.
func (p *Pool[A, V, R]) NumActors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members)
}

// NumQueued returns the number of submitted calls waiting for an actor.
func (p *Pool[A, V, R]) NumQueued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queue.len()
}

// Close shuts the pool down. It cancels the context passed to calls, drops
// queued calls and uncollected results, wakes blocked Submit and get calls
// (they return ErrPoolClosed), and then waits for every running call to
// return, so no pool goroutine outlives Close. A call that ignores its
// context delays Close until it returns; calling Close from inside a
// CallFunc deadlocks. Close is idempotent and always returns nil.
func (p *Pool[A, V, R]) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.cancel()
		for p.queue.len() > 0 {
			p.recycleLocked(p.queue.popFront())
		}
		p.order.clear()
		p.doneHead, p.doneTail = nil, nil
		p.outstanding = 0
		p.getCond.Broadcast()
		p.roomCond.Broadcast()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
