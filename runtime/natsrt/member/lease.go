package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Why a lease ended (Lease.Err wraps one of these).
var (
	// ErrLeaseExpired: no renewal reached the server for one TTL.
	ErrLeaseExpired = errors.New("member: lease expired: no renewal for one TTL")
	// ErrLeaseRevoked: the key changed under the lease (the head declared
	// this incarnation lost and deleted it, or its value expired).
	ErrLeaseRevoked = errors.New("member: lease revoked")
	// ErrLeaseReleased: Release was called.
	ErrLeaseReleased = errors.New("member: lease released")
)

// Lease keeps one key alive in a membership bucket by renewing it every
// beat with a compare-and-set. It ends (Done is closed) when a renewal
// finds the key changed (revoked), when no renewal succeeded for one TTL
// (counted from when the last successful renewal was sent, so the lease
// always ends no later than the server expires the key), when the
// connection closes, or on Release. A lease that ended stays ended: the
// holder must stop what the lease protects and, to continue, acquire a new
// lease under a new key.
type Lease struct {
	kv        jetstream.KeyValue
	key       string
	value     []byte
	beat, ttl time.Duration

	done     chan struct{}
	stop     chan struct{}
	stopped  sync.WaitGroup
	once     sync.Once
	stopOnce sync.Once
	err      error // set before done is closed
}

// Register acquires the lease of a worker incarnation: key
// node.<info.Incarnation> with info as JSON.
func Register(ctx context.Context, kv jetstream.KeyValue, info NodeInfo, beat, ttl time.Duration) (*Lease, error) {
	data, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("member: register: %w", err)
	}
	return Acquire(ctx, kv, NodeKey(info.Incarnation), data, beat, ttl)
}

// Acquire creates key with value (failing if it exists) and keeps it alive.
// beat and ttl default to DefaultBeat and DefaultTTL; ttl should be the
// bucket's TTL and at least 3 beats.
func Acquire(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, beat, ttl time.Duration) (*Lease, error) {
	if beat <= 0 {
		beat = DefaultBeat
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	sent := time.Now()
	rev, err := kv.Create(ctx, key, value)
	if err != nil {
		return nil, fmt.Errorf("member: acquire %s: %w", key, err)
	}
	l := &Lease{kv: kv, key: key, value: value, beat: beat, ttl: ttl, done: make(chan struct{}), stop: make(chan struct{})}
	l.stopped.Add(1)
	go l.renew(rev, sent)
	return l, nil
}

// Key is the leased key.
func (l *Lease) Key() string { return l.key }

// Done is closed when the lease has ended.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err says why the lease ended (nil while it holds).
func (l *Lease) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

func (l *Lease) end(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.done)
	})
}

// renew renews the key every beat until the lease ends.
func (l *Lease) renew(rev uint64, lastOK time.Time) {
	defer l.stopped.Done()
	tick := time.NewTicker(l.beat)
	defer tick.Stop()
	expiry := time.NewTimer(time.Until(lastOK.Add(l.ttl)))
	defer expiry.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-expiry.C:
			l.end(fmt.Errorf("%w (last renewal sent %v ago)", ErrLeaseExpired, time.Since(lastOK).Round(time.Millisecond)))
			return
		case <-tick.C:
		}
		sent := time.Now()
		wait := min(l.beat, time.Until(lastOK.Add(l.ttl)))
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		r, err := l.kv.Update(ctx, l.key, l.value, rev)
		cancel()
		switch {
		case err == nil:
			rev, lastOK = r, sent
			expiry.Reset(time.Until(lastOK.Add(l.ttl)))
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound):
			l.end(fmt.Errorf("%w: %s changed under the lease: %v", ErrLeaseRevoked, l.key, err))
			return
		case errors.Is(err, nats.ErrConnectionClosed):
			l.end(fmt.Errorf("%w: connection closed", ErrLeaseRevoked))
			return
		}
		// Other errors (timeouts, a slow server) are retried until expiry.
	}
}

// Release ends the lease and deletes its key (a graceful leave), unless
// the lease had already ended.
func (l *Lease) Release(ctx context.Context) error {
	select {
	case <-l.done:
		l.halt()
		return nil
	default:
	}
	l.halt()
	l.end(ErrLeaseReleased)
	if err := l.kv.Delete(ctx, l.key); err != nil {
		return fmt.Errorf("member: release %s: %w", l.key, err)
	}
	return nil
}

// Stop ends the lease without deleting its key: it expires after one TTL.
func (l *Lease) Stop() {
	l.halt()
	l.end(ErrLeaseReleased)
}

func (l *Lease) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	l.stopped.Wait()
}
