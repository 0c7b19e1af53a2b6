// Package subject names everything a Sluice run puts on NATS: its subjects,
// its key-value bucket and its reply inboxes. Keeping the names in one place
// keeps the broker's permissions (what a worker may touch) and the code that
// uses the subjects in step.
//
// A run is one job of one head process (`sluice run`, `sluice dedup …`). Its
// id R scopes everything:
//
//	sluice.R.>             all of the run's traffic (workers may use only this,
//	                       their inbox and the run's bucket)
//	sluice.R.rpc.E.…       calls to, and replies to, endpoint E (a worker
//	                       incarnation or the head)
//	sluice.R.p2p.G.N       point-to-point streams to member N of group G
//	sluice.R.ev.…          run-wide events (node lost)
//	$KV.sluice_R.…         the membership bucket (nodes, the head's lease)
//	_INBOX.K.…             reply inboxes of clients that hold token K
//	sluice.hello.K         how a worker holding token K finds the run
//
// K is [TokenID] of the worker token: derived from the secret, never the
// secret itself, so runs with different tokens on one server cannot read each
// other's replies.
package subject

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Run names the subjects of one run.
type Run struct {
	id string
}

// NewRun returns the names of run id. id must be non-empty and made of
// ASCII letters, digits, '-' and '_' only: it becomes a subject token and
// part of a bucket name.
func NewRun(id string) (Run, error) {
	if err := ValidToken(id); err != nil {
		return Run{}, fmt.Errorf("subject: run id: %w", err)
	}
	return Run{id: id}, nil
}

// MustRun is NewRun that panics on an invalid id (for constants in tests).
func MustRun(id string) Run {
	r, err := NewRun(id)
	if err != nil {
		panic(err)
	}
	return r
}

// ID is the run id.
func (r Run) ID() string { return r.id }

// Prefix is "sluice.R".
func (r Run) Prefix() string { return "sluice." + r.id }

// All is "sluice.R.>": every subject of the run.
func (r Run) All() string { return r.Prefix() + ".>" }

// Bucket is the run's JetStream key-value bucket (membership and leases).
func (r Run) Bucket() string { return "sluice_" + r.id }

// RPC is the subject prefix of endpoint's calls: "sluice.R.rpc.E".
func (r Run) RPC(endpoint string) string { return r.Prefix() + ".rpc." + endpoint }

// P2P is the subject of member of point-to-point group: "sluice.R.p2p.G.N".
func (r Run) P2P(group, member string) string { return r.Prefix() + ".p2p." + group + "." + member }

// Events is the subject of run-wide events of a kind: "sluice.R.ev.KIND".
func (r Run) Events(kind string) string { return r.Prefix() + ".ev." + kind }

// TokenID derives the public id of a worker token (20 hex digits of a
// SHA-256). An empty token (an insecure loopback server, or credentials
// that are not a token) gives "".
func TokenID(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("sluice/token-id/v1\x00" + token))
	return hex.EncodeToString(sum[:10])
}

// InboxPrefix is the reply-inbox prefix of clients holding the token with
// this id: "_INBOX.K", or NATS's default "_INBOX" when tokenID is "".
func InboxPrefix(tokenID string) string {
	if tokenID == "" {
		return "_INBOX"
	}
	return "_INBOX." + tokenID
}

// Hello is the subject on which the head answers workers holding the token
// with this id: "sluice.hello.K", or "sluice.hello" when tokenID is "".
func Hello(tokenID string) string {
	if tokenID == "" {
		return "sluice.hello"
	}
	return "sluice.hello." + tokenID
}

// ValidToken checks that s can be one subject token and part of a stream
// name: non-empty, at most 64 bytes, ASCII letters, digits, '-' and '_'.
func ValidToken(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if len(s) > 64 {
		return fmt.Errorf("%q is longer than 64 bytes", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%q: byte %d (%q) is not a letter, digit, '-' or '_'", s, i, c)
		}
	}
	return nil
}
