package rpc

import (
	"context"
	"errors"
	"fmt"
)

// Error kinds: what a remote error was, so that the caller can react as
// if the error had happened locally (retry, give up, replace the actor).
const (
	KindError     = "error"     // an ordinary failure of the handler
	KindCancelled = "cancelled" // the call's context was cancelled
	KindTimeout   = "timeout"   // the call's deadline passed
	KindPanic     = "panic"     // the handler panicked
	KindLost      = "lost"      // the target endpoint is gone (node lost, fenced, closed)
	KindNotFound  = "not_found" // no such actor or method on the target
)

// ErrLost matches (errors.Is) every error of kind KindLost.
var ErrLost = errors.New("rpc: target lost")

// Error is an error that crossed the wire: its kind, its message, and
// optional data for a richer codec.
type Error struct {
	Kind string
	Msg  string
	Data []byte
}

func (e *Error) Error() string { return e.Msg }

// Is lets errors.Is see through the wire: a cancelled call is
// context.Canceled, a timed-out one context.DeadlineExceeded, a lost one
// ErrLost.
func (e *Error) Is(target error) bool {
	switch e.Kind {
	case KindCancelled:
		return target == context.Canceled
	case KindTimeout:
		return target == context.DeadlineExceeded
	case KindLost:
		return target == ErrLost
	}
	return false
}

// KindOf is the kind of a remote error ("" for nil or a local error).
func KindOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// PanicError is a handler panic, recovered by the server.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// ErrorCodec turns handler errors into wire form and back. The runtime
// plugs in one that also knows its own error types (permanent stage
// errors, actor deaths); DefaultCodec knows context errors and panics.
type ErrorCodec interface {
	Encode(err error) (kind, msg string, data []byte)
	Decode(kind, msg string, data []byte) error
}

// DefaultCodec is the ErrorCodec used when none is given.
type DefaultCodec struct{}

// Encode classifies err.
func (DefaultCodec) Encode(err error) (string, string, []byte) {
	var re *Error
	var pe *PanicError
	switch {
	case errors.As(err, &re):
		return re.Kind, re.Msg, re.Data
	case errors.As(err, &pe):
		return KindPanic, err.Error(), pe.Stack
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout, err.Error(), nil
	case errors.Is(err, context.Canceled):
		return KindCancelled, err.Error(), nil
	}
	return KindError, err.Error(), nil
}

// Decode returns an *Error.
func (DefaultCodec) Decode(kind, msg string, data []byte) error {
	return &Error{Kind: kind, Msg: msg, Data: data}
}

// lostError is the error of calls to a target declared lost.
func lostError(target, reason string) error {
	return &Error{Kind: KindLost, Msg: fmt.Sprintf("rpc: endpoint %s lost: %s", target, reason)}
}
