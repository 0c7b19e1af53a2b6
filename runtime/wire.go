package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-data/sluice/collective"
	"github.com/sluice-data/sluice/shuffle"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// Wire encodes what crosses between the executor's process and the process
// that runs an actor: calls, their replies and errors. ActorSpec, Group,
// NodeEvent and stage.Node are plain JSON; tasks use the codecs of the
// registry (so custom task types cross once registered), errors the
// ErrorCodec. Both ends must build their Wire from the same registry.
//
// A Wire is safe for concurrent use.
type Wire struct {
	Tasks  *task.Codecs
	Errors *ErrorCodec
}

// NewWire returns the wire encodings of reg's task codecs and named errors.
// A nil reg means the built-in task types and errors only.
func NewWire(reg *stage.Registry) *Wire {
	if reg == nil {
		return &Wire{Tasks: task.NewCodecs(), Errors: NewErrorCodec(nil)}
	}
	return &Wire{Tasks: reg.Codecs(), Errors: NewErrorCodec(reg.Errors())}
}

// wireVersion is the first byte of every call and reply message.
const wireVersion = 1

// CallMsg is a call on its way to an actor.
type CallMsg struct {
	// ID identifies the call, so that its reply and a cancellation ("cancel
	// call ID") can be matched to it. The runtime chooses it.
	ID string
	// Actor is the id of the actor that runs the call.
	Actor string
	Call  Call
	// Deadline is when the caller abandons the call (zero: none). The actor
	// side should stop the stage's work then too (its context's deadline).
	Deadline time.Time
}

// ReplyMsg is the answer to a call.
type ReplyMsg struct {
	ID     string
	Result Result
	// Err is the call's error: a stage error or a *DiedError (a panic is
	// reported by the actor's process as DiedPanic).
	Err error
}

// MarshalCall encodes m: a version byte, the id, the actor, the method, the
// attempt and the deadline, then the tasks as task.Codecs.MarshalList.
func (w *Wire) MarshalCall(m CallMsg) ([]byte, error) {
	var wr task.Writer
	wr.Byte(wireVersion)
	wr.String(m.ID)
	wr.String(m.Actor)
	wr.Byte(byte(m.Call.Method))
	wr.Uvarint(uint64(max(m.Call.Attempt, 0)))
	var dl int64
	if !m.Deadline.IsZero() {
		dl = m.Deadline.UnixNano()
	}
	wr.Varint(dl)
	tasks, err := w.Tasks.MarshalList(m.Call.Tasks)
	if err != nil {
		return nil, fmt.Errorf("encode call %s: %w", m.ID, err)
	}
	return append(wr.Bytes(), tasks...), nil
}

// UnmarshalCall decodes a message written by MarshalCall. The tasks are new
// values that share nothing with the caller's.
func (w *Wire) UnmarshalCall(b []byte) (CallMsg, error) {
	r := task.NewReader(b)
	var m CallMsg
	if v := r.Byte(); v != wireVersion && r.Err() == nil {
		return m, fmt.Errorf("decode call: wire version %d, want %d", v, wireVersion)
	}
	m.ID = r.String()
	m.Actor = r.String()
	m.Call.Method = Method(r.Byte())
	m.Call.Attempt = int(r.Uvarint())
	if dl := r.Varint(); dl != 0 {
		m.Deadline = time.Unix(0, dl)
	}
	if err := r.Err(); err != nil {
		return m, fmt.Errorf("decode call: header: %w", err)
	}
	ts, err := w.Tasks.UnmarshalList(b[len(b)-r.Len():])
	if err != nil {
		return m, fmt.Errorf("decode call %s: %w", m.ID, err)
	}
	m.Call.Tasks = ts
	return m, nil
}

// MarshalReply encodes m: a version byte, the id, the usage, the counters,
// the error (ErrorCodec; empty for none), then the tasks.
func (w *Wire) MarshalReply(m ReplyMsg) ([]byte, error) {
	var wr task.Writer
	wr.Byte(wireVersion)
	wr.String(m.ID)
	wr.Varint(int64(m.Result.Usage.CPU))
	wr.Varint(m.Result.Usage.PeakRSS)
	names := make([]string, 0, len(m.Result.Counts))
	for k := range m.Result.Counts {
		names = append(names, k)
	}
	slices.Sort(names)
	wr.Uvarint(uint64(len(names)))
	for _, k := range names {
		wr.String(k)
		wr.Varint(m.Result.Counts[k])
	}
	wr.BytesField(w.Errors.Marshal(m.Err))
	tasks, err := w.Tasks.MarshalList(m.Result.Tasks)
	if err != nil {
		return nil, fmt.Errorf("encode reply %s: %w", m.ID, err)
	}
	return append(wr.Bytes(), tasks...), nil
}

// UnmarshalReply decodes a message written by MarshalReply.
func (w *Wire) UnmarshalReply(b []byte) (ReplyMsg, error) {
	r := task.NewReader(b)
	var m ReplyMsg
	if v := r.Byte(); v != wireVersion && r.Err() == nil {
		return m, fmt.Errorf("decode reply: wire version %d, want %d", v, wireVersion)
	}
	m.ID = r.String()
	m.Result.Usage.CPU = time.Duration(r.Varint())
	m.Result.Usage.PeakRSS = r.Varint()
	if n := r.Count(); n > 0 {
		m.Result.Counts = make(map[string]int64, n)
		for range n {
			k := r.String()
			m.Result.Counts[k] = r.Varint()
		}
	}
	errBytes := r.BytesField()
	if err := r.Err(); err != nil {
		return m, fmt.Errorf("decode reply: header: %w", err)
	}
	callErr, err := w.Errors.Unmarshal(errBytes)
	if err != nil {
		return m, fmt.Errorf("decode reply %s: %w", m.ID, err)
	}
	m.Err = callErr
	ts, err := w.Tasks.UnmarshalList(b[len(b)-r.Len():])
	if err != nil {
		return m, fmt.Errorf("decode reply %s: %w", m.ID, err)
	}
	m.Result.Tasks = ts
	return m, nil
}

// ErrorCodec encodes errors so that what the executor tests about them
// survives a process boundary: the message; a *DiedError's actor, reason
// and cause; stage.IsPermanent; and errors.Is against every named sentinel
// (context.Canceled, context.DeadlineExceeded, ErrNodeLost, the collective
// and shuffle transport errors, and those of stage.Registry.RegisterError).
// Other error types arrive as a *RemoteError carrying the message.
type ErrorCodec struct {
	names     []string
	sentinels []error
}

// builtinErrors are the sentinels every ErrorCodec knows.
var builtinErrors = map[string]error{
	"context.canceled":          context.Canceled,
	"context.deadline_exceeded": context.DeadlineExceeded,
	"runtime.node_lost":         ErrNodeLost,
	"collective.closed":         collective.ErrClosed,
	"collective.peer_closed":    collective.ErrPeerClosed,
	"shuffle.peer_closed":       shuffle.ErrPeerClosed,
	"shuffle.closed":            shuffle.ErrClosed,
}

// NewErrorCodec returns a codec that knows the built-in sentinels and named.
func NewErrorCodec(named map[string]error) *ErrorCodec {
	c := &ErrorCodec{}
	add := func(m map[string]error) {
		for name, err := range m {
			c.names = append(c.names, name)
			c.sentinels = append(c.sentinels, err)
		}
	}
	add(builtinErrors)
	add(named)
	return c
}

// wireError is the JSON form of an error.
type wireError struct {
	Msg       string     `json:"msg"`
	Is        []string   `json:"is,omitempty"`
	Permanent bool       `json:"permanent,omitempty"`
	Died      *wireDied  `json:"died,omitempty"`
	Panic     *wirePanic `json:"panic,omitempty"`
}

// wirePanic is a *PanicError; its value crosses as the text fmt prints.
type wirePanic struct {
	Value string `json:"value"`
	Site  string `json:"site,omitempty"`
	Stack string `json:"stack,omitempty"`
}

type wireDied struct {
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	Err    wireError `json:"err"`
}

// Marshal encodes err (nil for a nil error).
func (c *ErrorCodec) Marshal(err error) []byte {
	if err == nil {
		return nil
	}
	we := c.toWire(err)
	if d, ok := errors.AsType[*DiedError](err); ok {
		inner := errors.New("<nil>")
		if d.Err != nil {
			inner = d.Err
		}
		we.Died = &wireDied{Actor: d.ActorID, Reason: d.Reason, Err: c.toWire(inner)}
	}
	b, _ := json.Marshal(we) // strings, bools and slices of them always encode
	return b
}

func (c *ErrorCodec) toWire(err error) wireError {
	we := wireError{Msg: err.Error(), Permanent: stage.IsPermanent(err)}
	if p, ok := errors.AsType[*PanicError](err); ok {
		we.Panic = &wirePanic{Value: fmt.Sprint(p.Value), Site: p.Site, Stack: p.Stack}
	}
	for i, s := range c.sentinels {
		if errors.Is(err, s) {
			we.Is = append(we.Is, c.names[i])
		}
	}
	slices.Sort(we.Is)
	return we
}

// Unmarshal decodes an error written by Marshal; empty input means nil.
func (c *ErrorCodec) Unmarshal(b []byte) (error, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var we wireError
	if err := json.Unmarshal(b, &we); err != nil {
		return nil, fmt.Errorf("decode error: %w", err)
	}
	return c.fromWire(we), nil
}

func (c *ErrorCodec) fromWire(we wireError) error {
	re := &RemoteError{Msg: we.Msg}
	for _, name := range we.Is {
		if i := slices.Index(c.names, name); i >= 0 {
			re.is = append(re.is, c.sentinels[i])
		}
	}
	var err error = re
	if we.Panic != nil {
		p := &PanicError{Value: we.Panic.Value, Site: we.Panic.Site, Stack: we.Panic.Stack}
		if p.Error() == we.Msg {
			err = p
		} else {
			re.next = p // a wrapped panic: keep the wrapping message
		}
	}
	if we.Died != nil {
		d := &DiedError{ActorID: we.Died.Actor, Reason: we.Died.Reason, Err: c.fromWire(we.Died.Err)}
		if d.Error() == we.Msg {
			err = d
		} else {
			re.next = d // a wrapped death: keep the wrapping message
		}
	}
	if we.Permanent && !stage.IsPermanent(err) {
		err = stage.Permanent(err)
	}
	return err
}

// RemoteError is an error decoded by an ErrorCodec: the original's message,
// matching (errors.Is) the named sentinels the original matched.
type RemoteError struct {
	Msg  string
	is   []error
	next error
}

func (e *RemoteError) Error() string { return e.Msg }

// Is reports whether the original error matched target, one of the codec's
// named sentinels.
func (e *RemoteError) Is(target error) bool {
	return slices.Contains(e.is, target)
}

// Unwrap returns the *DiedError or *PanicError the original wrapped, if any.
func (e *RemoteError) Unwrap() error { return e.next }
