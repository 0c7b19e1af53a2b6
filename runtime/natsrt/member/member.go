// Package member keeps track of which worker processes are in a run, and
// notices fast when one is gone.
//
// # How membership works
//
// Each run has a JetStream key-value bucket ([CreateBucket]) whose values
// expire after a TTL (about 2 s) unless renewed. A worker registers under
// node.<incarnation> ([Register]): the incarnation is a fresh random id for
// every start of the worker (and every rejoin), and the value is its
// [NodeInfo] (CPUs, GPUs, scratch dir, host). The worker then renews the key
// every beat (about 0.5 s) with a compare-and-set on the key's revision: a
// [Lease].
//
// The head runs a [Monitor] over the bucket. A node is up when its key
// appears, and lost when
//   - its connection closes: the server's $SYS.ACCOUNT.<acct>.DISCONNECT
//     advisory names the connection, and worker connections are named after
//     their incarnation ([ConnName]); this takes milliseconds after a crash;
//   - its key expires: one TTL after the last renewal reached the server
//     (a partition, a hung process);
//   - it deletes its key (a graceful leave).
//
// A lost incarnation never comes back: the monitor deletes its key and
// remembers it, so a worker returning from a partition fails its next
// renewal (the compare-and-set sees the deletion), and a lease that cannot
// be renewed for one TTL gives up on its own too ([Lease.Done]). The worker
// then stops its actors and rejoins under a new incarnation: nothing the
// old one does can be mistaken for the new one's work.
//
// The head holds a lease too (key "head"); workers watch it ([WatchKey])
// and stop the run's actors when it goes.
package member

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Defaults measured on loopback (docs/research: SIGKILL → advisory ≤10 ms,
// TTL purge marker at the watcher 1.8–2.0 s after the last beat).
const (
	DefaultBeat = 500 * time.Millisecond
	DefaultTTL  = 2 * time.Second
)

// Keys of the membership bucket.
const (
	nodePrefix = "node."
	HeadKey    = "head"
)

// NodeKey is the bucket key of an incarnation.
func NodeKey(incarnation string) string { return nodePrefix + incarnation }

// NodeInfo is what a worker incarnation advertises.
type NodeInfo struct {
	// Incarnation is new at every start and rejoin of a worker.
	Incarnation string `json:"inc"`
	// Name is the worker's --name (default: the hostname), for humans.
	Name     string  `json:"name"`
	Hostname string  `json:"host"`
	PID      int     `json:"pid"`
	CPUs     float64 `json:"cpus"`
	GPUs     int     `json:"gpus"`
	// GPUMemoryGB is the memory of one GPU.
	GPUMemoryGB float64 `json:"gpu_mem_gb,omitempty"`
	// ScratchDir is node-local disk for spills and shuffle engines.
	ScratchDir string    `json:"scratch"`
	Version    string    `json:"version,omitempty"`
	Started    time.Time `json:"started"`
}

// NewIncarnation returns a fresh incarnation id: 24 hex digits of
// crypto/rand, usable as a subject token.
func NewIncarnation() string {
	var b [12]byte
	rand.Read(b[:]) // never fails; crashes the program if randomness is unavailable
	return hex.EncodeToString(b[:])
}

// ConnName names a worker connection after its incarnation, so that the
// server's disconnect advisory tells the head which incarnation died.
// purpose says which of the worker's connections it is ("ctl", "data").
func ConnName(incarnation, purpose string) string {
	return "sluice-worker." + incarnation + "." + purpose
}

// IncarnationOf parses a ConnName; ok is false for other names.
func IncarnationOf(connName string) (incarnation string, ok bool) {
	rest, found := strings.CutPrefix(connName, "sluice-worker.")
	if !found {
		return "", false
	}
	inc, _, found := strings.Cut(rest, ".")
	return inc, found && inc != ""
}
