package broker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startBroker(t *testing.T, cfg Config) *Broker {
	t.Helper()
	b, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	return b
}

// workerConfig is what the join line gives a worker.
func workerConfig(b *Broker) ClientConfig {
	return ClientConfig{URL: b.URL(), Token: b.Token(), CASHA256: b.Pin()}
}

func TestJoinLine(t *testing.T) {
	b := startBroker(t, Config{})
	line := b.JoinLine()
	f := strings.Fields(line)
	if len(f) != 8 || f[0] != "sluice" || f[1] != "worker" || f[2] != "--join" || f[4] != "--token" || f[6] != "--ca-sha256" {
		t.Fatalf("join line %q: want sluice worker --join URL --token T --ca-sha256 P", line)
	}
	if !strings.HasPrefix(f[3], "nats://127.0.0.1:") || len(f[5]) != 64 || len(f[7]) != 64 {
		t.Fatalf("join line %q: want a loopback URL, a 64-digit token and a 64-digit pin", line)
	}
	if f[7] != CertPin(b.creds.Cert.Certificate[0]) {
		t.Fatalf("pin %s is not the server certificate's", f[7])
	}
}

func TestConnectRefused(t *testing.T) {
	b := startBroker(t, Config{})
	if err := b.OpenRun(subject.MustRun("a"), ""); err != nil {
		t.Fatal(err)
	}
	other, err := NewCredentials(nil)
	if err != nil {
		t.Fatal(err)
	}
	good := workerConfig(b)
	cases := map[string]ClientConfig{
		"no token":    {URL: b.URL(), CASHA256: b.Pin()},
		"wrong token": {URL: b.URL(), CASHA256: b.Pin(), Token: other.Token},
		"wrong pin":   {URL: b.URL(), CASHA256: other.Pin, Token: good.Token},
		"no pin":      {URL: b.URL(), Token: good.Token}, // the system roots do not trust a self-signed certificate
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			nc, err := cfg.Connect("test")
			if err == nil {
				nc.Close()
				t.Fatalf("%s: connected", name)
			}
		})
	}
	nc, err := good.Connect("good")
	if err != nil {
		t.Fatalf("the join line's credentials: %v", err)
	}
	nc.Close()
}

// violations collects the server's asynchronous permission errors.
func violations(t *testing.T, cfg ClientConfig) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 16)
	nc, err := cfg.Connect("worker", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

func wantViolation(t *testing.T, errs <-chan error, what string) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("%s: got %v, want a permissions violation", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no permissions violation", what)
	}
}

func TestWorkerConfinedToItsRun(t *testing.T) {
	b := startBroker(t, Config{})
	runA, runB := subject.MustRun("aaa"), subject.MustRun("bbb")
	otherB, _ := NewCredentials(nil)
	if err := b.OpenRun(runA, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.OpenRun(runB, otherB.Token); err != nil {
		t.Fatal(err)
	}
	head, err := b.HeadConn()
	if err != nil {
		t.Fatal(err)
	}
	defer head.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js, _ := jetstream.New(head)
	for _, r := range []subject.Run{runA, runB} {
		if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: r.Bucket(), Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
	}

	nc, errs := violations(t, workerConfig(b))
	got := make(chan *nats.Msg, 64)
	for _, s := range []string{runB.All(), ">", "_INBOX.>", "$SYS.>"} {
		if _, err := nc.ChanSubscribe(s, got); err != nil {
			t.Fatal(err)
		}
		wantViolation(t, errs, "subscribe "+s)
	}
	if err := nc.Publish(runB.Prefix()+".x", []byte("intrusion")); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, errs, "publish to run B")

	// The worker's own run works: its subjects, and its membership bucket.
	own := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe(runA.Prefix()+".x", own); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	head.Publish(runA.Prefix()+".x", []byte("mine"))
	head.Publish(runB.Prefix()+".x", []byte("secret of B"))
	wjs, _ := jetstream.New(nc)
	kv, err := wjs.KeyValue(ctx, runA.Bucket())
	if err != nil {
		t.Fatalf("own bucket: %v", err)
	}
	if _, err := kv.Put(ctx, "node.x", []byte("v")); err != nil {
		t.Fatalf("put in own bucket: %v", err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatalf("watch own bucket: %v", err)
	}
	if e := <-w.Updates(); e == nil || string(e.Value()) != "v" {
		t.Fatalf("watch own bucket: got %v", e)
	}
	w.Stop()
	select {
	case m := <-own:
		if string(m.Data) != "mine" {
			t.Fatalf("own subject: %q", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("own subject: nothing arrived")
	}
	// ...and nothing of run B's reached it.
	nc.Flush()
	select {
	case m := <-got:
		t.Fatalf("worker of run A received %s %q", m.Subject, m.Data)
	default:
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if _, err := wjs.KeyValue(short, runB.Bucket()); err == nil {
		t.Fatal("worker of run A opened run B's bucket")
	}
	if _, err := nc.Request("$JS.API.STREAM.LIST", nil, 500*time.Millisecond); err == nil {
		t.Fatal("worker listed streams")
	}
}

func TestInsecureOnlyOnLoopback(t *testing.T) {
	if _, err := Start(Config{Listen: "0.0.0.0:0", Insecure: true}); err == nil || !strings.Contains(err.Error(), "without auth") {
		t.Fatalf("insecure on 0.0.0.0: got %v, want a refusal", err)
	}
	b := startBroker(t, Config{Insecure: true})
	if err := b.OpenRun(subject.MustRun("dev"), ""); err != nil {
		t.Fatal(err)
	}
	if b.JoinLine() != "sluice worker --join "+b.URL() {
		t.Fatalf("insecure join line %q", b.JoinLine())
	}
	nc, err := (ClientConfig{URL: b.URL()}).Connect("dev")
	if err != nil {
		t.Fatalf("insecure loopback: %v", err)
	}
	nc.Close()
}

func TestCredsDirKeepsCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "creds")
	a, err := LoadOrCreateCredentials(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateCredentials(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Token != b.Token || a.Pin != b.Pin {
		t.Fatal("credentials changed between loads")
	}
	st, _ := os.Stat(filepath.Join(dir, tokenFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", st.Mode().Perm())
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCredentials(dir, nil); err == nil {
		t.Fatal("a world-readable credentials dir was accepted")
	}
}

func TestWipeStoreRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WipeStore(dir); err == nil {
		t.Fatal("wiped a directory sluice did not create")
	}
	if _, err := os.Stat(filepath.Join(dir, "precious")); err != nil {
		t.Fatalf("the foreign file is gone: %v", err)
	}
	own := filepath.Join(t.TempDir(), "js")
	if err := WipeStore(own); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(own, "stale"), []byte("x"), 0o600)
	if err := WipeStore(own); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(own, "stale")); !os.IsNotExist(err) {
		t.Fatal("a marked store was not wiped")
	}
}
