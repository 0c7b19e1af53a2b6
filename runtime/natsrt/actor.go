package natsrt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/stage"
)

// actor is the head's handle of an actor that lives in a worker. Every
// method is an RPC to the worker's endpoint, addressed by key (the actor's
// id plus a sequence number: ids may repeat across executions, keys never
// do).
type actor struct {
	r              *Runtime
	id, stage      string
	node, inc, key string
	group          string // guarded by r.mu
	rank           int    // guarded by r.mu
	inGroup        bool   // guarded by r.mu

	mu            sync.Mutex
	dead, stopped bool
	state         string
	since         time.Time
	calls         int64
}

var _ runtime.Actor = (*actor)(nil)

func (a *actor) ID() string { return a.id }

// CreateRendezvous implements runtime.Actor: a new group id (it names the
// group's subjects).
func (a *actor) CreateRendezvous(context.Context) (string, error) {
	return collective.NewGroupID(), nil
}

func (a *actor) setState(s string) {
	a.mu.Lock()
	a.state, a.since = s, time.Now()
	a.mu.Unlock()
}

func (a *actor) status() ActorStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return ActorStatus{ID: a.id, Stage: a.stage, State: a.state, Since: a.since, Calls: a.calls}
}

// Setup implements runtime.Actor: the worker joins the group (its
// transports subscribe before Setup returns) and runs the stage's Setup.
func (a *actor) Setup(ctx context.Context, g *runtime.Group) error {
	if g != nil {
		a.r.joinGroup(a, g)
	}
	body, err := json.Marshal(setupReq{Group: g})
	if err != nil {
		return fmt.Errorf("actor %s: setup: encode: %w", a.id, err)
	}
	a.setState("setting up")
	_, err = a.r.request(ctx, a.inc, a.node, rpc.Request{Actor: a.key, Method: methodSetup, Body: body})
	a.setState("idle")
	if err != nil {
		return fmt.Errorf("actor %s: %w", a.id, err)
	}
	return nil
}

// begin marks a call started, unless the actor is dead or stopped.
func (a *actor) begin() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead || a.stopped {
		return &runtime.DiedError{ActorID: a.id, Reason: runtime.DiedLost, Err: errors.New("actor is no longer running")}
	}
	a.calls++
	a.state, a.since = "busy", time.Now()
	return nil
}

func (a *actor) end() {
	a.mu.Lock()
	if a.state == "busy" {
		a.state, a.since = "idle", time.Now()
	}
	a.mu.Unlock()
}

func (a *actor) markDead() {
	a.mu.Lock()
	a.dead = true
	a.state, a.since = "dead", time.Now()
	a.mu.Unlock()
}

// Call implements runtime.Actor. The call and its reply cross in their
// runtime.Wire encodings, so the tasks are moved and the outputs are fresh
// by construction. A stage error comes back inside the reply; a death is
// a *runtime.DiedError: a panic (reported by the worker), the call's
// deadline or cancellation (the cancel reaches the worker), or the
// worker's loss (the call fails at once).
func (a *actor) Call(ctx context.Context, c runtime.Call) (runtime.Result, error) {
	if err := a.begin(); err != nil {
		return runtime.Result{}, err
	}
	defer a.end()
	msg := runtime.CallMsg{ID: strconv.FormatUint(a.r.callSeq.Add(1), 36), Actor: a.id, Call: c}
	msg.Deadline, _ = ctx.Deadline()
	body, err := a.r.wire.MarshalCall(msg)
	if err != nil {
		return runtime.Result{}, stage.Permanent(err) // no retry can encode it
	}
	out, err := a.r.h.Endpoint.Call(ctx, a.inc, rpc.Request{Actor: a.key, Method: methodCall, Attempt: c.Attempt, Body: body})
	if err != nil {
		return runtime.Result{}, a.failed(ctx, err)
	}
	m, err := a.r.wire.UnmarshalReply(out)
	if err != nil {
		return runtime.Result{}, stage.Permanent(fmt.Errorf("actor %s: %w", a.id, err))
	}
	if m.ID != msg.ID {
		return runtime.Result{}, fmt.Errorf("actor %s: reply %s to call %s", a.id, m.ID, msg.ID)
	}
	if runtime.IsDied(m.Err) {
		a.markDead()
	}
	return m.Result, m.Err
}

// failed turns a call that got no reply into the actor's death, unless
// the worker refused it with an ordinary error.
func (a *actor) failed(ctx context.Context, err error) error {
	reason, cause := runtime.DiedLost, err
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		reason, cause = runtime.DiedTimeout, ctx.Err()
	case ctx.Err() != nil:
		reason, cause = runtime.DiedCancelled, ctx.Err()
	case rpc.KindOf(err) == rpc.KindLost:
		cause = lostErr(a.node, err)
	case rpc.KindOf(err) == rpc.KindPanic:
		reason = runtime.DiedPanic
	case rpc.KindOf(err) == "":
		return err // the worker's own error (a call it could not decode)
	}
	a.markDead()
	return &runtime.DiedError{ActorID: a.id, Reason: reason, Err: cause}
}

// Stop implements runtime.Actor: the worker tears the actor down (after an
// abandoned call returns, if one still runs). On a lost node there is
// nothing left to stop.
func (a *actor) Stop(ctx context.Context) error {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return nil
	}
	a.stopped = true
	a.state, a.since = "stopping", time.Now()
	a.mu.Unlock()
	defer a.r.forget(a)
	_, err := a.r.request(ctx, a.inc, a.node, rpc.Request{Actor: a.key, Method: methodStop})
	a.r.leaveGroup(a)
	if err != nil && !errors.Is(err, runtime.ErrNodeLost) {
		return fmt.Errorf("actor %s: stop: %w", a.id, err)
	}
	return nil
}
