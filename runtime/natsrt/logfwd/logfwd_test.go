package logfwd_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-data/sluice/runtime/natsrt/logfwd"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lockedBuffer is a bytes.Buffer safe for the handler and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func TestWorkerLogsReachTheHead(t *testing.T) {
	c := natstest.Start(t)
	headOut := &lockedBuffer{}
	sub, err := logfwd.Forward(c.Head, logfwd.Subject(c.Run), slog.New(slog.NewJSONHandler(headOut, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	local := &lockedBuffer{}
	fwd := logfwd.NewHandler(slog.NewJSONHandler(local, nil), slog.LevelInfo)
	log := slog.New(fwd)
	log.Info("before attach") // local only
	fwd.Attach(c.Connect(t, "", "w"), logfwd.Subject(c.Run), "gpu-box-3", "inc1")
	log.With("stage", "minhash").WithGroup("task").Warn("slow batch", "id", "t7")
	log.Debug("below the forwarding level")
	natstest.Eventually(t, 5*time.Second, "record at the head", func() bool { return len(headOut.lines()) == 1 })
	got := headOut.lines()[0]
	want := map[string]any{"msg": "slow batch", "level": "WARN", "node": "gpu-box-3", "incarnation": "inc1", "stage": "minhash", "task.id": "t7"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("head record %s = %v, want %v (record %v)", k, got[k], v, got)
		}
	}
	if n := len(local.lines()); n != 2 {
		t.Errorf("%d local records, want 2 (local logging is unchanged)", n)
	}

	// A flood is cut at Burst records per second; the drop is reported.
	for range logfwd.Burst + 100 {
		log.Info("flood")
	}
	time.Sleep(1100 * time.Millisecond)
	log.Info("after the flood")
	natstest.Eventually(t, 5*time.Second, "after-flood record", func() bool {
		l := headOut.lines()
		return len(l) > 0 && l[len(l)-1]["msg"] == "after the flood"
	})
	lines := headOut.lines()
	if n := len(lines); n > logfwd.Burst+3 {
		t.Errorf("%d records forwarded in a flood, want at most about %d", n, logfwd.Burst)
	}
	if d := lines[len(lines)-1]["log_records_dropped"]; d == nil {
		t.Errorf("the drop was not reported: %v", lines[len(lines)-1])
	}
	fwd.Detach()
	log.Info("after detach")
	time.Sleep(100 * time.Millisecond)
	if l := headOut.lines(); l[len(l)-1]["msg"] == "after detach" {
		t.Error("a detached handler still forwards")
	}
}
