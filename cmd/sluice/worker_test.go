package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/head"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
)

// sluiceChild runs the sluice command line in SLUICE_ARGS (JSON) in a
// re-executed test binary.
func sluiceChild() int {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv("SLUICE_ARGS")), &args); err != nil {
		return 3
	}
	return run(args, os.Stdout, os.Stderr)
}

func TestWorkerUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"worker"}, "--join is required"},
		{[]string{"worker", "--join", "http://x:1"}, "want nats://HOST:PORT"},
		{[]string{"worker", "--join", "nats://127.0.0.1:1", "--token", "a", "--token-file", "b"}, "give one"},
		{[]string{"worker", "--join", "nats://127.0.0.1:1", "--ca-sha256", "beef"}, "want 64 hex digits"},
		{[]string{"worker", "--join", "nats://127.0.0.1:1", "--token-file", dir + "/missing"}, "--token-file"},
		{[]string{"worker", "--join", "nats://127.0.0.1:1", "--cpus", "-1"}, "must not be negative"},
		{[]string{"worker", "extra"}, "accepts 0 arg"},
	}
	for _, c := range cases {
		r := sluice(c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sluice %s: want exit 2 and %q\n%s", strings.Join(c.args, " "), c.want, r)
		}
	}
}

// `sluice worker` with the head's join line joins, answers a health
// check, and leaves on SIGTERM with exit 0.
func TestWorkerCommandJoinsAndLeaves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := head.Start(ctx, head.Config{Embedded: &broker.Config{}, Beat: natstest.Beat, TTL: natstest.TTL})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	evs := natstest.Record(h.Members)
	line := strings.Fields(h.JoinLine())
	if line[0] != "sluice" {
		t.Fatalf("join line %q", h.JoinLine())
	}
	tokenFile := t.TempDir() + "/token"
	os.WriteFile(tokenFile, []byte(h.Broker.Token()+"\n"), 0o600)
	args := []string{"worker", "--join", h.Broker.URL(), "--token-file", tokenFile, "--ca-sha256", h.Broker.Pin(),
		"--name", "cli", "--cpus", "1.5", "--scratch", t.TempDir()}
	a, _ := json.Marshal(args)
	w := natstest.StartChild(t, "sluice", "SLUICE_ARGS="+string(a))
	up := evs.Wait(t, 20*time.Second, member.NodeUp, nil)
	if up.Node.Name != "cli" || up.Node.CPUs != 1.5 {
		t.Fatalf("node %+v", up.Node)
	}
	out, err := h.Endpoint.Call(ctx, up.Node.Incarnation, rpc.Request{Method: "ping"})
	var info member.NodeInfo
	if err != nil || json.Unmarshal(out, &info) != nil || info.Incarnation != up.Node.Incarnation {
		t.Fatalf("ping: %s, %v", out, err)
	}
	w.Signal(syscall.SIGTERM)
	if exited, err := w.Wait(10 * time.Second); !exited || err != nil {
		t.Fatalf("sluice worker after SIGTERM: exited %v, %v\n%s", exited, err, w.Output())
	}
	evs.Wait(t, 5*time.Second, member.NodeLost, natstest.Of(up.Node.Incarnation))
}
