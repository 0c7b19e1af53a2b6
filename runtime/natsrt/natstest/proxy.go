package natstest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 whose directions can be paused: a
// partition without root. While a direction is paused, bytes in it stay
// unread in the kernel buffers (the sender's writes eventually block, as on
// a dead link) and nothing is lost; Resume lets them through.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	up, down *gate // up: client → server; down: server → client
	conns    []net.Conn
	closed   bool
	wg       sync.WaitGroup
}

// gate blocks copying while paused.
type gate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	paused bool
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) set(paused bool) {
	g.mu.Lock()
	g.paused = paused
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) wait() {
	g.mu.Lock()
	for g.paused {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// NewProxy starts a proxy to target (host:port); the test's cleanup
// closes it.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, up: newGate(), down: newGate()}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is nats://Addr.
func (p *Proxy) URL() string { return "nats://" + p.Addr() }

// Pause stops the traffic in one or both directions: up is client to
// server, down is server to client.
func (p *Proxy) Pause(up, down bool) {
	if up {
		p.up.set(true)
	}
	if down {
		p.down.set(true)
	}
}

// Resume lets traffic through in both directions.
func (p *Proxy) Resume() {
	p.up.set(false)
	p.down.set(false)
}

// Close stops accepting, closes every proxied connection and waits for the
// copiers.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	p.Resume() // unblock copiers waiting at a gate
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns = append(p.conns, c, s)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(s, c, p.up)
		go p.pipe(c, s, p.down)
	}
}

// pipe copies src to dst, holding each chunk at g while it is paused.
func (p *Proxy) pipe(dst, src net.Conn, g *gate) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		g.wait()
		n, err := src.Read(buf)
		if n > 0 {
			g.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}
