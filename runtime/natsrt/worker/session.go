package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-data/sluice/runtime/natsrt/logfwd"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// Conns are a session's two connections.
type Conns struct {
	// Ctl carries lease renewals and membership; Data carries calls,
	// collectives and shuffles.
	Ctl, Data *nats.Conn
}

// live is a session being set up or served; stop undoes what was set up.
type live struct {
	s       Session
	done    chan struct{}
	closed  chan error // a connection closed
	lease   *member.Lease
	headGon <-chan struct{}
	stopW   func()
	unsub   func()
	host    bool // Host.Open succeeded
}

func (w *worker) connect(inc string, l *live) error {
	closedOnce := sync.Once{}
	onClose := nats.ClosedHandler(func(*nats.Conn) {
		closedOnce.Do(func() { l.closed <- ErrDisconnected })
	})
	var err error
	if l.s.Conn.Ctl, err = w.cfg.Client.Connect(member.ConnName(inc, "ctl"), onClose); err != nil {
		return err
	}
	l.s.Conn.Data, err = w.cfg.Client.Connect(member.ConnName(inc, "data"), onClose)
	return err
}

// session runs one incarnation; it returns why the session ended.
func (w *worker) session(ctx context.Context) error {
	inc := member.NewIncarnation()
	l := &live{done: make(chan struct{}), closed: make(chan error, 1)}
	l.s.Done = l.done
	if err := w.connect(inc, l); err != nil {
		w.teardown(l, err)
		return err
	}
	if err := w.join(ctx, inc, l); err != nil {
		w.teardown(l, err)
		return err
	}
	w.last = ""
	if w.cfg.LogForward != nil {
		w.cfg.LogForward.Attach(l.s.Conn.Data, logfwd.Subject(l.s.Run), w.cfg.Name, inc)
	}
	w.log.Info("joined", "run", l.s.Run.ID(), "incarnation", inc, "name", w.cfg.Name, "cpus", w.cfg.CPUs, "gpus", w.cfg.GPUs)
	var why error
	select {
	case <-ctx.Done():
		why = ErrStopping
	case <-l.lease.Done():
		why = fmt.Errorf("%w: %w", ErrFenced, l.lease.Err())
	case <-l.s.Members.Lost(inc):
		why = fmt.Errorf("%w: the head declared this incarnation lost", ErrFenced)
	case <-l.headGon:
		why = ErrHeadGone
	case err := <-l.closed:
		why = err
	}
	return w.stop(l, why)
}

// join asks for the run, opens the host and the endpoint, and registers.
func (w *worker) join(ctx context.Context, inc string, l *live) error {
	h, err := w.hello(ctx, inc, l)
	if err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := member.CheckProbe(h.Probe); err != nil {
		host, _ := os.Hostname()
		member.TellRefused(hctx, l.s.Conn.Data, w.cfg.Client.TokenID(), member.HelloRequest{Incarnation: inc, Name: w.cfg.Name, Host: host, Version: w.cfg.Version}, err)
		return err
	}
	run, _ := subject.NewRun(h.Run)
	l.s.Run, l.s.Hello = run, h
	host, _ := os.Hostname()
	l.s.Node = member.NodeInfo{Incarnation: inc, Name: w.cfg.Name, Hostname: host, PID: os.Getpid(),
		CPUs: w.cfg.CPUs, GPUs: w.cfg.GPUs, GPUMemoryGB: w.cfg.GPUMemoryGB, ScratchDir: w.cfg.Scratch,
		Version: w.cfg.Version, Started: time.Now()}
	js, err := jetstream.New(l.s.Conn.Ctl)
	if err != nil {
		return err
	}
	kv, err := member.OpenBucket(hctx, js, run)
	if err != nil {
		return err
	}
	if l.headGon, l.stopW, err = member.WatchKey(context.Background(), kv, member.HeadKey); err != nil {
		return err
	}
	if l.s.Members, err = member.NewMonitor(hctx, kv, member.MonitorOptions{Logger: w.log}); err != nil {
		return err
	}
	return w.serve(hctx, kv, l)
}

// hello asks which run to join, on the session's connections, until a
// head answers: a worker waiting for the next job keeps its connections
// instead of reconnecting every Retry.
func (w *worker) hello(ctx context.Context, inc string, l *live) (member.Hello, error) {
	req := member.HelloRequest{Incarnation: inc, Name: w.cfg.Name, Version: w.cfg.Version}
	for {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h, err := member.AskHello(hctx, l.s.Conn.Data, w.cfg.Client.TokenID(), req)
		cancel()
		if !errors.Is(err, member.ErrNoHead) {
			return h, err
		}
		w.note(err)
		select {
		case <-time.After(w.cfg.Retry):
		case <-ctx.Done():
			return h, ctx.Err()
		case err := <-l.closed:
			return h, err
		}
	}
}

// serve opens the host and the endpoint, then takes the lease: the node is
// announced only once it can answer.
func (w *worker) serve(ctx context.Context, kv jetstream.KeyValue, l *live) error {
	handler, err := w.cfg.Host.Open(&l.s)
	if err != nil {
		return fmt.Errorf("worker: open host: %w", err)
	}
	l.host = true
	ep, err := rpc.NewEndpoint(l.s.Conn.Data, l.s.Run, l.s.Node.Incarnation, rpc.Options{Handler: handler, Codec: w.cfg.Codec, Logger: w.log})
	if err != nil {
		return err
	}
	l.s.Endpoint = ep
	// Calls from a peer that is lost are cancelled: nobody reads their replies.
	l.unsub = l.s.Members.Subscribe(func(ev member.Event) {
		if ev.Kind == member.NodeLost {
			ep.PeerLost(ev.Node.Incarnation, ev.Reason)
		}
	})
	l.lease, err = member.Register(ctx, kv, l.s.Node, l.s.Hello.Beat, l.s.Hello.TTL)
	return err
}

// stop ends a served session within StopTimeout.
func (w *worker) stop(l *live, why error) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.teardown(l, why)
	}()
	select {
	case <-done:
	case <-time.After(w.cfg.StopTimeout):
		w.log.Error("actors did not stop; exiting", "incarnation", l.s.Node.Incarnation, "after", w.cfg.StopTimeout)
		return ErrStuck
	}
	w.log.Info("stopped the session's actors", "run", l.s.Run.ID(), "incarnation", l.s.Node.Incarnation, "reason", why.Error())
	return why
}

// teardown undoes whatever part of a session was set up.
func (w *worker) teardown(l *live, why error) {
	close(l.done)
	if w.cfg.LogForward != nil {
		w.cfg.LogForward.Detach()
	}
	if l.s.Endpoint != nil {
		l.s.Endpoint.Close() // cancels running calls and waits for them
	}
	if l.host {
		w.cfg.Host.Close(&l.s, why)
	}
	if l.lease != nil {
		if errors.Is(why, ErrStopping) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			l.lease.Release(ctx) // a graceful leave: the head sees it at once
			cancel()
		} else {
			l.lease.Stop()
		}
	}
	if l.unsub != nil {
		l.unsub()
	}
	if l.s.Members != nil {
		l.s.Members.Close()
	}
	if l.stopW != nil {
		l.stopW()
	}
	for _, nc := range []*nats.Conn{l.s.Conn.Data, l.s.Conn.Ctl} {
		if nc != nil {
			nc.Close()
		}
	}
}
