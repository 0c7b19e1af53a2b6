package collective

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// Transport moves tagged messages between the ranks of one group. It is the
// only thing a new network needs to provide: every collective in [Comm] is
// built from Send and Recv.
//
// Implementations must be safe for concurrent use by multiple goroutines.
type Transport interface {
	// Rank is this endpoint's rank, in [0, Size()).
	Rank() int
	// Size is the number of ranks in the group.
	Size() int
	// Send delivers msg to rank `to` under tag. It may buffer; it must not
	// block forever when the peer is slow. Ownership of msg passes to the
	// transport: the caller must not read or modify msg after Send.
	Send(ctx context.Context, to int, tag uint64, msg []byte) error
	// Recv returns the message from rank `from` with this tag. Messages with
	// the same (from, tag) arrive in send order. The returned slice is owned
	// by the caller. Recv returns promptly with an error wrapping ctx.Err()
	// when ctx is done, and with an error wrapping [ErrClosed] when the
	// transport is closed while Recv waits.
	Recv(ctx context.Context, from int, tag uint64) ([]byte, error)
	// Close releases the endpoint and unblocks its pending Recv calls.
	// Messages that were not yet received are dropped.
	Close() error
}

// ErrClosed is returned (wrapped) by Send and Recv on a transport that has
// been closed.
var ErrClosed = errors.New("collective: transport closed")

// ErrPeerClosed is returned (wrapped) by Send to a rank that has closed its
// transport, and by Recv waiting on a rank that closed without sending the
// awaited message.
var ErrPeerClosed = errors.New("collective: peer closed")

// NewGroupID returns a fresh random rendezvous id (32 hex digits from
// crypto/rand). The rank that forms a group ("actor 0") creates it and hands
// it to the other ranks, which then Join the same id.
func NewGroupID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; it crashes the program if randomness is unavailable.
	return hex.EncodeToString(b[:])
}
