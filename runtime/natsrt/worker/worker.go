// Package worker is the body of `sluice worker`: a long-running process
// that joins a head's NATS server, registers its resources, serves the
// run's calls, and survives the end of runs, partitions and restarts of
// the head.
//
// # Life of a worker
//
// A worker runs sessions, one after another, until it is stopped. A
// session is one incarnation of the worker in one run:
//
//  1. connect twice, under a fresh incarnation id: a control connection
//     (lease renewals, membership) and a data connection (calls and their
//     payloads), so that renewals never queue behind megabytes of data;
//  2. ask the head which run to join (member.AskHello) and, when the head
//     asks for it, prove that it sees the head's files (member.CheckProbe);
//  3. open the run's [Host], serve its calls on an rpc.Endpoint named
//     after the incarnation, and register in the membership bucket with a
//     lease;
//  4. serve until the session ends: the worker is stopped (SIGTERM,
//     SIGINT: it leaves gracefully, deleting its key), its lease cannot be
//     renewed for one TTL or was revoked (fenced), the head's lease
//     disappears (the head is gone), or a connection closes;
//  5. stop: stop serving (running calls are cancelled), close the Host
//     (which stops the session's actors), release the lease, close the
//     connections.
//
// Then it starts over with a new incarnation, retrying until a head
// answers. A worker back from a partition therefore never resumes as the
// incarnation the head declared lost: that one's actors were stopped when
// its lease lapsed.
//
// If stopping a session takes longer than Config.StopTimeout (a stage that
// ignores cancellation), Run returns ErrStuck: a process that cannot stop
// its actors must exit rather than run zombies.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/logfwd"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// Why sessions end.
var (
	ErrFenced       = errors.New("worker: fenced: lease lost")
	ErrHeadGone     = errors.New("worker: the head is gone")
	ErrDisconnected = errors.New("worker: connection closed")
	ErrStopping     = errors.New("worker: stopping")
	// ErrStuck is returned by Run when a session's actors did not stop in
	// time.
	ErrStuck = errors.New("worker: actors did not stop in time")
)

// Config configures a worker.
type Config struct {
	// Client says how to reach the server (--join/--token/--ca-sha256, or
	// --nats with credentials).
	Client broker.ClientConfig
	// Name names the worker in logs and status (default: the hostname).
	Name string
	// CPUs, GPUs and GPUMemoryGB are the resources it offers (CPUs
	// default to the machine's).
	CPUs        float64
	GPUs        int
	GPUMemoryGB float64
	// Scratch is node-local disk for spills (default: the temp dir).
	Scratch string
	// Version is sluice's version, sent to the head.
	Version string
	// Host serves the runs' calls (nil: PingHost).
	Host Host
	// Codec encodes the errors of calls (nil: rpc.DefaultCodec).
	Codec rpc.ErrorCodec
	// Retry is the wait between attempts to join (default 1 s).
	Retry time.Duration
	// StopTimeout bounds stopping a session (default 10 s).
	StopTimeout time.Duration
	Logger      *slog.Logger
	// LogForward, when set, is the handler under Logger (and the actors'
	// loggers): while a session runs, its records also go to the head.
	LogForward *logfwd.Handler
}

func (c *Config) defaults() error {
	if c.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("worker: no --name and no hostname: %w", err)
		}
		c.Name = h
	}
	if c.CPUs <= 0 {
		c.CPUs = float64(runtime.NumCPU())
	}
	if c.GPUs < 0 {
		return fmt.Errorf("worker: --gpus %d is negative", c.GPUs)
	}
	if c.Scratch == "" {
		c.Scratch = os.TempDir()
	}
	if err := os.MkdirAll(c.Scratch, 0o700); err != nil {
		return fmt.Errorf("worker: --scratch: %w", err)
	}
	if c.Host == nil {
		c.Host = PingHost{}
	}
	if c.Retry <= 0 {
		c.Retry = time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c.Client.Validate()
}

// Session is one incarnation of the worker in one run: what a Host gets.
type Session struct {
	Run   subject.Run
	Hello member.Hello
	Node  member.NodeInfo
	// Conn gives the session's data connection (for groups and shuffles).
	Conn Conns
	// Members follows the run's membership: Members.Lost(inc) tells when a
	// peer's node is lost.
	Members *member.Monitor
	// Endpoint is the session's RPC endpoint (set before the first call).
	Endpoint *rpc.Endpoint
	// Done is closed when the session ends.
	Done <-chan struct{}
}

// Host runs a session's actors. Open returns the handler for the
// session's calls; Close stops every actor of the session and must return
// promptly. Close runs after the endpoint stopped serving calls (running
// calls were cancelled and have returned).
type Host interface {
	Open(s *Session) (rpc.Handler, error)
	Close(s *Session, why error)
}

// Run runs sessions until ctx ends (then it returns nil) or a session
// cannot be stopped (ErrStuck). Failures to join are logged and retried.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	w := &worker{cfg: cfg, log: cfg.Logger}
	for {
		err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrStuck) {
			return err
		}
		w.note(err)
		select {
		case <-time.After(cfg.Retry):
		case <-ctx.Done():
			return nil
		}
	}
}

type worker struct {
	cfg  Config
	log  *slog.Logger
	last string // the last "waiting" message, logged once
}

// note logs why a session ended or could not start, once per distinct
// reason while waiting.
func (w *worker) note(err error) {
	msg := err.Error()
	if msg == w.last {
		return
	}
	w.last = msg
	switch {
	case errors.Is(err, member.ErrNoHead):
		w.log.Info("waiting for a head to start a job", "server", w.cfg.Client.URL)
	case errors.Is(err, nats.ErrNoServers):
		// A head's embedded server comes and goes with its job.
		w.log.Info("waiting for the server to accept connections (a head with --listen starts it)", "server", w.cfg.Client.URL)
	case errors.Is(err, ErrHeadGone):
		w.log.Info("the job ended; waiting for the next one", "reason", msg)
	case errors.Is(err, ErrFenced), errors.Is(err, ErrDisconnected):
		w.log.Warn("session ended; rejoining", "reason", msg)
	default:
		w.log.Warn("cannot join", "err", msg)
	}
}
