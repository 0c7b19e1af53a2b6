// Package head sets up the head's side of a run on NATS: the server (an
// embedded one, or connections to an existing deployment), the run's
// membership bucket and the head's lease in it, the answer to workers'
// hellos, the membership monitor, the head's RPC endpoint, wired so that a
// node declared lost fails the calls in flight to it at once, and the
// forwarding of workers' logs into the head's logger.
//
// Order matters and is kept by Start: the bucket and the head's lease
// exist before the first hello is answered (a worker that joins watches
// the lease and would otherwise see no head), and the endpoint listens
// before any worker can call back.
package head

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/logfwd"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/p2p"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// Config configures a head.
type Config struct {
	// Embedded, when set, starts an embedded server with this
	// configuration. Otherwise the head connects to External.
	Embedded *broker.Config
	// External is an existing deployment (--nats URL and credentials).
	External broker.ClientConfig
	// ExternalSys, when set, reaches the deployment's system account, for
	// disconnect advisories (without it a crash is seen one TTL late).
	ExternalSys *broker.ClientConfig
	// ExternalAccount is the account whose advisories to follow.
	ExternalAccount string
	// RunID names the run ("" for a random one).
	RunID string
	// Beat and TTL are the membership timings (0: member's defaults).
	Beat, TTL time.Duration
	// ProbeDir, when set, is a directory on the shared filesystem where the
	// head writes a probe file that every worker must read back to join.
	ProbeDir string
	// Version is sluice's version.
	Version string
	// Stream tunes the head's RPC streams.
	Stream p2p.Options
	// Handler, when set, serves calls made to the head (sluice status).
	Handler rpc.Handler
	// Codec encodes the errors of calls (nil: rpc.DefaultCodec).
	Codec  rpc.ErrorCodec
	Logger *slog.Logger
}

// Head is the head's side of a run.
type Head struct {
	Broker *broker.Broker // nil for an external deployment
	Run    subject.Run
	// Data carries calls; Ctl the lease and membership; Sys (may be nil)
	// the advisories.
	Data, Ctl, Sys *nats.Conn
	JS             jetstream.JetStream
	KV             jetstream.KeyValue
	Members        *member.Monitor
	Endpoint       *rpc.Endpoint

	cfg       Config
	tokenID   string
	lease     *member.Lease
	hello     *nats.Subscription
	logs      *nats.Subscription
	unsub     func()
	probePath string
}

// Start starts the head. On error, whatever was started is stopped.
func Start(ctx context.Context, cfg Config) (_ *Head, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Beat <= 0 {
		cfg.Beat = member.DefaultBeat
	}
	if cfg.TTL <= 0 {
		cfg.TTL = member.DefaultTTL
	}
	if cfg.RunID == "" {
		cfg.RunID = newRunID()
	}
	h := &Head{cfg: cfg}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if h.Run, err = subject.NewRun(cfg.RunID); err != nil {
		return nil, err
	}
	if err = h.connect(); err != nil {
		return nil, err
	}
	if err = h.setup(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

func newRunID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// connect starts the embedded server or dials the deployment.
func (h *Head) connect() error {
	var err error
	if h.cfg.Embedded != nil {
		if h.Broker, err = broker.Start(*h.cfg.Embedded); err != nil {
			return err
		}
		if err = h.Broker.OpenRun(h.Run, ""); err != nil {
			return err
		}
		h.tokenID = subject.TokenID(h.Broker.Token())
		inbox := nats.CustomInboxPrefix(subject.InboxPrefix(h.tokenID))
		if h.Data, err = h.Broker.HeadConn(inbox, nats.Name("sluice-head.data")); err != nil {
			return err
		}
		if h.Ctl, err = h.Broker.HeadConn(inbox, nats.Name("sluice-head.ctl")); err != nil {
			return err
		}
		h.Sys, err = h.Broker.SysConn()
		return err
	}
	h.tokenID = h.cfg.External.TokenID()
	if h.Data, err = h.cfg.External.Connect("sluice-head.data"); err != nil {
		return err
	}
	if h.Ctl, err = h.cfg.External.Connect("sluice-head.ctl"); err != nil {
		return err
	}
	if h.cfg.ExternalSys != nil {
		h.Sys, err = h.cfg.ExternalSys.Connect("sluice-head.sys")
	}
	return err
}

// setup creates the bucket, takes the lease, starts the monitor and the
// endpoint, and then answers hellos.
func (h *Head) setup(ctx context.Context) error {
	var err error
	if h.JS, err = jetstream.New(h.Ctl); err != nil {
		return err
	}
	if h.KV, err = member.CreateBucket(ctx, h.JS, h.Run, h.cfg.TTL); err != nil {
		return err
	}
	if h.lease, err = member.Acquire(ctx, h.KV, member.HeadKey, []byte(h.Run.ID()), h.cfg.Beat, h.cfg.TTL); err != nil {
		return err
	}
	account := h.cfg.ExternalAccount
	if h.Broker != nil {
		account = broker.Account
	}
	mo := member.MonitorOptions{Sys: h.Sys, Account: account, Revoke: true, Logger: h.cfg.Logger}
	if h.Members, err = member.NewMonitor(ctx, h.KV, mo); err != nil {
		return err
	}
	if h.Endpoint, err = rpc.NewEndpoint(h.Data, h.Run, "head", rpc.Options{Handler: h.cfg.Handler, Codec: h.cfg.Codec, Stream: h.cfg.Stream, Logger: h.cfg.Logger}); err != nil {
		return err
	}
	h.unsub = h.Members.Subscribe(func(ev member.Event) {
		if ev.Kind == member.NodeLost {
			h.Endpoint.PeerLost(ev.Node.Incarnation, ev.Reason)
		}
	})
	// Workers' log records join the head's log, tagged with their node.
	if h.logs, err = logfwd.Forward(h.Data, logfwd.Subject(h.Run), h.cfg.Logger); err != nil {
		return err
	}
	hello := member.Hello{Run: h.Run.ID(), Head: "head", Beat: h.cfg.Beat, TTL: h.cfg.TTL, Version: h.cfg.Version}
	if h.cfg.ProbeDir != "" {
		if hello.Probe, err = h.writeProbe(); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	told := make(map[string]bool)
	h.hello, err = member.ServeHello(h.Data, h.tokenID, hello, func(req member.HelloRequest) {
		mu.Lock()
		key := req.Name + "\x00" + req.Host + "\x00" + req.Refused
		first := !told[key]
		told[key] = true
		mu.Unlock()
		if first { // the worker retries every second
			h.cfg.Logger.Warn("a worker cannot join this run", "node", req.Name, "host", req.Host, "reason", req.Refused)
		}
	})
	return err
}

// writeProbe writes a random probe file for workers to read back.
func (h *Head) writeProbe() (*member.Probe, error) {
	var b [32]byte
	rand.Read(b[:])
	content := []byte(hex.EncodeToString(b[:]) + "\n")
	h.probePath = filepath.Join(h.cfg.ProbeDir, ".sluice-probe-"+h.Run.ID())
	if err := os.WriteFile(h.probePath, content, 0o644); err != nil {
		h.probePath = ""
		return nil, fmt.Errorf("head: write the shared-filesystem probe: %w", err)
	}
	sum := sha256.Sum256(content)
	return &member.Probe{Path: h.probePath, SHA256: hex.EncodeToString(sum[:])}, nil
}

// Version is the sluice version the head announces to workers.
func (h *Head) Version() string { return h.cfg.Version }

// JoinLine is the command that joins a worker (embedded server only).
func (h *Head) JoinLine() string {
	if h.Broker == nil {
		return ""
	}
	return h.Broker.JoinLine()
}

// WaitWorkers waits until n workers joined, or ctx ends.
func (h *Head) WaitWorkers(ctx context.Context, n int) ([]member.NodeInfo, error) {
	nodes, err := h.Members.WaitNodes(ctx, n)
	if err != nil {
		return nodes, fmt.Errorf("head: waiting for %d workers: %w", n, err)
	}
	return nodes, nil
}

// Close ends the run: no more hellos, the workers see the head's lease go
// (and stop the run's actors), the bucket is deleted, connections close,
// and an embedded server shuts down.
func (h *Head) Close() {
	if h.hello != nil {
		h.hello.Unsubscribe()
	}
	if h.logs != nil {
		h.logs.Unsubscribe()
	}
	if h.unsub != nil {
		h.unsub()
	}
	if h.Endpoint != nil {
		h.Endpoint.Close()
	}
	if h.lease != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		h.lease.Release(ctx)
		cancel()
	}
	if h.Members != nil {
		h.Members.Close()
	}
	if h.KV != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := member.DeleteBucket(ctx, h.JS, h.Run); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			h.cfg.Logger.Debug("delete the run's bucket", "err", err)
		}
		cancel()
	}
	for _, nc := range []*nats.Conn{h.Data, h.Ctl, h.Sys} {
		if nc != nil {
			nc.Close()
		}
	}
	if h.Broker != nil {
		h.Broker.Shutdown()
	}
	if h.probePath != "" {
		os.Remove(h.probePath)
	}
}
