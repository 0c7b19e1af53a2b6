package natstest

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// The proxy carries bytes both ways, holds one direction while paused,
// and lets the held bytes through on Resume.
func TestProxyPausesOneDirection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			c.Write([]byte(line)) // echo
		}
	}()
	p := NewProxy(t, ln.Addr().String())
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	echo := func(s string, wait time.Duration) (string, error) {
		c.SetReadDeadline(time.Now().Add(wait))
		return r.ReadString('\n')
	}
	c.Write([]byte("one\n"))
	if got, err := echo("one", 5*time.Second); err != nil || got != "one\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}
	p.Pause(true, false) // client → server held
	c.Write([]byte("two\n"))
	if got, err := echo("two", 200*time.Millisecond); err == nil {
		t.Fatalf("paused direction let %q through", got)
	}
	p.Resume()
	if got, err := echo("two", 5*time.Second); err != nil || got != "two\n" {
		t.Fatalf("after resume: %q, %v", got, err)
	}
}
