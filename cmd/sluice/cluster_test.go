package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt"
	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
)

// cluster is three `sluice worker` processes (the test binary re-executed,
// one CPU each) that serve every head started on one loopback address with
// one credentials directory, run after run.
type cluster struct {
	t           *testing.T // the test that owns the workers (replacements too)
	addr, creds string
	token, pin  string
	workers     []*natstest.Child
}

// startCluster starts the workers; they wait for a head.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, addr: ln.Addr().String(), creds: filepath.Join(t.TempDir(), "creds")}
	ln.Close()
	// The head would create these at its first start; the workers need them first.
	cr, err := broker.LoadOrCreateCredentials(c.creds, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c.token, c.pin = cr.Token, cr.Pin
	for i := range n {
		c.workers = append(c.workers, c.worker(t, fmt.Sprintf("w%d", i+1), "--token-file", filepath.Join(c.creds, "token"), "--ca-sha256", c.pin))
	}
	return c
}

// worker starts `sluice worker` with one CPU and the given credentials.
func (c *cluster) worker(t *testing.T, name string, creds ...string) *natstest.Child {
	t.Helper()
	return c.workerVia(t, "nats://"+c.addr, name, creds...)
}

// workerVia starts `sluice worker` joining url (the server, or a proxy to
// it), logging every call (the hook fault tests time their faults with).
func (c *cluster) workerVia(t *testing.T, url, name string, creds ...string) *natstest.Child {
	t.Helper()
	args := append([]string{"--log-level", "debug", "worker", "--join", url, "--name", name, "--cpus", "1", "--scratch", t.TempDir()}, creds...)
	a, _ := json.Marshal(args)
	return natstest.StartChild(t, "sluice", "SLUICE_ARGS="+string(a), "GOMAXPROCS=1")
}

// head returns the flags that make a job's process the head of c.
func (c *cluster) head(n int) []string {
	return []string{"--listen", c.addr, "--creds-dir", c.creds, "--min-workers", strconv.Itoa(n), "--wait-workers", "60s"}
}

// client is what `sluice status` and a raw NATS client need.
func (c *cluster) client() []string {
	return []string{"--nats", "nats://" + c.addr, "--token", c.token, "--ca-sha256", c.pin}
}

// lockedBuffer is a bytes.Buffer safe for a running command and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// background runs the sluice command line in this process while the test
// watches its stderr.
type background struct {
	stderr lockedBuffer
	done   chan result
}

func startSluice(args ...string) *background {
	b := &background{done: make(chan result, 1)}
	go func() {
		var out bytes.Buffer
		code := run(args, &out, &b.stderr)
		b.done <- result{code, out.String(), b.stderr.String()}
	}()
	return b
}

func (b *background) wait(t *testing.T, d time.Duration) result {
	t.Helper()
	select {
	case r := <-b.done:
		return r
	case <-time.After(d):
		t.Fatalf("the command did not finish within %s; stderr so far:\n%s", d, b.stderr.String())
	}
	return result{}
}

// TestCluster runs jobs on three worker processes with one CPU each,
// joined to heads that this test process runs with --listen: a fuzzy
// dedup whose output must be byte-identical to the local runtime's, and
// the chaos pipeline (every record exactly once despite errors and
// panics) during which `sluice status` lists the workers and their actors
// and workers without the right token try to join.
func TestCluster(t *testing.T) {
	c := startCluster(t, 3)
	var ref fuzzyRef
	dir := t.TempDir() // the clean fuzzy run's input and output outlive its subtest
	t.Run("fuzzy dedup identical to local", func(t *testing.T) { ref = testClusterFuzzy(t, c, dir) })
	t.Run("chaos pipeline, status, auth", func(t *testing.T) { testClusterChaos(t, c) })
	if ref.files == nil {
		t.Fatal("no clean fuzzy run to compare the fault runs with")
	}
	for _, call := range [][2]string{{"minhash", "process"}, {"lsh", "insert"}, {"components", "process"}} {
		t.Run("kill -9 of a worker in "+call[0], func(t *testing.T) { testKillWorker(t, c, ref, call[0], call[1]) })
	}
	t.Run("partition of a worker in lsh", func(t *testing.T) { testPartition(t, c, ref, 2) })
	t.Run("kill -9 of the head, then a new run", func(t *testing.T) { testKillHead(t, c, ref) })
}

// fuzzySubset writes the first n lines of each sample file.
func fuzzySubset(t *testing.T, dir string, n int) string {
	t.Helper()
	in := filepath.Join(dir, "in")
	for _, name := range []string{"part-00.jsonl", "part-01.jsonl", "part-02.jsonl"} {
		lines := strings.SplitAfter(readFile(t, filepath.Join("../../examples/fuzzy/data", name)), "\n")
		writeFile(t, filepath.Join(in, name), strings.Join(lines[:n], ""))
	}
	return in
}

func testClusterFuzzy(t *testing.T, c *cluster, dir string) fuzzyRef {
	in := fuzzySubset(t, dir, 250)
	// As many CPUs as the three workers: the same number of ranks writes the same files.
	// One task per file (the default groups these small files into one):
	// each of the three workers gets MinHash and LSH calls to fault in.
	local := sluice("--log-level", "warn", "dedup", "fuzzy", "--input", in, "--files-per-partition", "1", "--output", filepath.Join(dir, "local"), "--workers", "3")
	if local.code != 0 {
		t.Fatal(local)
	}
	// After a worker is lost, the later barrier phases run with two ranks:
	// a clean run with two ranks is what such a run must equal.
	local2 := sluice("--log-level", "warn", "dedup", "fuzzy", "--input", in, "--files-per-partition", "1", "--output", filepath.Join(dir, "local2"), "--workers", "2")
	if local2.code != 0 {
		t.Fatal(local2)
	}
	args := append([]string{"dedup", "fuzzy", "--input", in, "--files-per-partition", "1", "--output", filepath.Join(dir, "cluster")}, c.head(3)...)
	r := sluice(args...)
	if r.code != 0 {
		t.Fatal(r)
	}
	want, got := treeFiles(t, filepath.Join(dir, "local")), treeFiles(t, filepath.Join(dir, "cluster"))
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("output files: cluster %d, local %d", len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs between the cluster's and the local runtime's output", name)
		}
	}
	s, _ := readSummary(t, filepath.Join(dir, "cluster"))
	if s.Duplicates == 0 || s.RecordsWritten+s.Duplicates != 750 {
		t.Fatalf("summary: %+v", s)
	}
	var sum struct {
		Nodes []struct {
			ID     string  `json:"id"`
			CPUSec float64 `json:"cpu_seconds"`
			Calls  int64   `json:"calls"`
		} `json:"nodes"`
	}
	readJSON(t, filepath.Join(dir, "cluster", "summary.json"), &sum)
	if len(sum.Nodes) != 3 {
		t.Fatalf("summary nodes: %+v", sum.Nodes)
	}
	for _, n := range sum.Nodes {
		if n.Calls == 0 || n.CPUSec <= 0 {
			t.Fatalf("node %s: %d calls, %.3fs CPU: every worker must have worked and reported", n.ID, n.Calls, n.CPUSec)
		}
	}
	if !strings.Contains(r.stderr, "sluice worker --join nats://"+c.addr+" --token ") {
		t.Fatalf("the head did not print the join command:\n%s", r.stderr)
	}
	ref := fuzzyRef{in: in, files: want, two: treeFiles(t, filepath.Join(dir, "local2"))}
	for name, b := range ref.two {
		if strings.HasPrefix(name, "deduplicated") && !bytes.Equal(want[name], b) {
			t.Errorf("%s: two ranks kept other documents than three", name)
		}
	}
	return ref
}

// treeFiles reads the data files of a fuzzy output: deduplicated/,
// duplicates/ and id_map.json (the cache and summary.json hold paths and
// timings).
func treeFiles(t *testing.T, out string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, sub := range []string{"deduplicated", "duplicates"} {
		err := filepath.WalkDir(filepath.Join(out, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(out, p)
			files[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func testClusterChaos(t *testing.T, c *cluster) {
	dir := t.TempDir()
	var lines []string
	for f := range 3 {
		var b strings.Builder
		for i := range 400 {
			line := fmt.Sprintf(`{"id":"f%d-%04d","text":"record %d of file %d"}`, f, i, i, f)
			b.WriteString(line + "\n")
			lines = append(lines, line)
		}
		writeFile(t, filepath.Join(dir, "in", fmt.Sprintf("part-%d.jsonl", f)), b.String())
	}
	// 24 batches; errors and panics are retried away; each call sleeps, so
	// that the job runs long enough (about 3 s) to be looked at.
	body := e2eYAML("out", "      error_fraction: 0.3\n      panic_on_call: 3\n      sleep: 100ms", "")
	yml := writeFile(t, filepath.Join(dir, "chaos.yaml"), strings.Replace(body, "batch_rows: 1000", "batch_rows: 50", 1))
	sum := filepath.Join(dir, "summary.json")
	job := startSluice(append([]string{"run", yml, "--summary-json", sum}, c.head(3)...)...)

	// Workers without the right token never join.
	bad := []*natstest.Child{
		c.worker(t, "no-token", "--ca-sha256", c.pin),
		c.worker(t, "wrong-token", "--token", strings.Repeat("ab", 32), "--ca-sha256", c.pin),
	}
	st := waitStatus(t, c, job)
	checkWorkerPermissions(t, c, st.Run)
	// A worker that does not see the head's files (here: the probe file in
	// the pipeline's directory is gone) is refused, naming the file, and
	// the head says so.
	probe := filepath.Join(dir, ".sluice-probe-"+st.Run)
	if err := os.Remove(probe); err != nil {
		t.Fatal(err)
	}
	blind := c.worker(t, "blind", "--token-file", filepath.Join(c.creds, "token"), "--ca-sha256", c.pin)
	natstest.Eventually(t, 30*time.Second, "the refused worker naming the probe, and the head hearing of it", func() bool {
		return strings.Contains(job.stderr.String(), `msg="a worker cannot join this run" node=blind`) &&
			strings.Contains(blind.Output(), "cannot read the head's probe file "+probe)
	})

	r := job.wait(t, 60*time.Second)
	if r.code != 0 {
		t.Fatal(r)
	}
	checkOutput(t, filepath.Join(dir, "out"), lines)
	var s runSummary
	readJSON(t, sum, &s)
	retries, deaths := totals(s.Report)
	if s.Status != "ok" || retries == 0 || deaths == 0 || len(s.Report.Nodes) != 3 {
		t.Fatalf("summary: status %s, %d retries, %d deaths, nodes %+v", s.Status, retries, deaths, s.Report.Nodes)
	}
	for _, n := range s.Report.Nodes {
		if n.Calls == 0 || n.CPU <= 0 {
			t.Fatalf("node %s: %d calls, %s CPU", n.ID, n.Calls, n.CPU)
		}
	}
	// The workers' log records reach the head's log, tagged with their name.
	if !strings.Contains(r.stderr, "msg=joined node=w1 ") {
		t.Fatalf("no worker log in the head's:\n%s", r.stderr)
	}
	for _, w := range bad {
		if out := w.Output(); !strings.Contains(strings.ToLower(out), "authorization violation") {
			t.Errorf("a worker without the right token:\n%s", out)
		}
	}
}

// waitStatus polls `sluice status` until it shows the three workers and
// chaos actors, and checks what it says.
func waitStatus(t *testing.T, c *cluster, job *background) natsrt.Status {
	t.Helper()
	var st natsrt.Status
	var last result
	natstest.Eventually(t, 60*time.Second, "sluice status showing chaos actors", func() bool {
		select {
		case r := <-job.done:
			t.Fatalf("the job ended before status saw it:\n%s", r)
		default:
		}
		last = sluice(append([]string{"status", "--json"}, c.client()...)...)
		if last.code != 0 || json.Unmarshal([]byte(last.stdout), &st) != nil {
			return false
		}
		for _, n := range st.Nodes {
			for _, a := range n.Actors {
				if a.Stage == "chaos" {
					return true
				}
			}
		}
		return false
	})
	names := map[string]bool{}
	for _, n := range st.Nodes {
		names[n.Name] = true
		if n.CPUs != 1 || n.ScratchDir == "" || !strings.HasPrefix(n.ID, n.Name+"-") {
			t.Fatalf("node %+v", n)
		}
	}
	if len(st.Nodes) != 3 || !names["w1"] || !names["w2"] || !names["w3"] {
		t.Fatalf("status lists %d nodes %v; want w1, w2, w3 only", len(st.Nodes), names)
	}
	text := sluice(append([]string{"status"}, c.client()...)...)
	if text.code != 0 || !strings.Contains(text.stdout, "run "+st.Run+": 3 worker(s)") || !strings.Contains(text.stdout, "chaos (") {
		t.Fatalf("sluice status:\n%s", text)
	}
	return st
}

// checkWorkerPermissions: the join line's token reaches the run's subjects
// and nothing else.
func checkWorkerPermissions(t *testing.T, c *cluster, run string) {
	t.Helper()
	violations := make(chan string, 16)
	cfg := broker.ClientConfig{URL: "nats://" + c.addr, Token: c.token, CASHA256: c.pin}
	nc, err := cfg.Connect("intruder", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			violations <- err.Error()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, subj := range []string{">", "sluice.other-run.>", "$SYS.>", "_INBOX.>"} {
		if _, err := nc.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-violations:
			if !strings.Contains(v, subj) {
				t.Fatalf("subscribe %s: violation %q", subj, v)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("a worker token subscribed to %s", subj)
		}
	}
	if _, err := nc.SubscribeSync("sluice." + run + ".>"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-violations:
		t.Fatalf("the run's own subjects were refused: %s", v)
	case <-time.After(100 * time.Millisecond):
	}
}

// The cluster flags refuse what cannot work, before any work (exit 2), and
// a head whose workers do not come gives up after --wait-workers (exit 1),
// saying what to do.
func TestClusterFlags(t *testing.T) {
	dir := t.TempDir()
	yml := writeFile(t, filepath.Join(dir, "p.yaml"), "stages:\n  - {type: chaos}\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", yml, "--listen", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1"}, "--listen and --nats: give one"},
		{[]string{"run", yml, "--min-workers", "2"}, "--min-workers needs --listen or --nats"},
		{[]string{"run", yml, "--listen", "127.0.0.1:0", "--cpus", "2"}, "--cpus sizes this machine's actors"},
		{[]string{"run", yml, "--listen", "127.0.0.1:0", "--min-workers", "0"}, "--min-workers 0: want at least 1"},
		{[]string{"run", yml, "--nats", "nats://127.0.0.1:1", "--creds-dir", dir}, "--creds-dir needs --listen"},
		{[]string{"run", yml, "--listen", "nonsense"}, `--listen "nonsense"`},
		{[]string{"run", yml, "--listen", "0.0.0.0:0", "--insecure"}, "without auth"},
		{[]string{"dedup", "fuzzy", "--input", dir, "--output", filepath.Join(dir, "o"), "--listen", "127.0.0.1:0", "--workers", "2"}, "--workers sizes this machine's actors"},
		{[]string{"filter", "--preset", "gopher", "--input", yml, "--output", filepath.Join(dir, "f"), "--nats-creds", "x"}, "--nats-creds needs --listen or --nats"},
	}
	for _, c := range cases {
		r := sluice(c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sluice %s: want exit 2 and %q\n%s", strings.Join(c.args, " "), c.want, r)
		}
	}
	r := sluice("run", yml, "--listen", "127.0.0.1:0", "--min-workers", "2", "--wait-workers", "300ms")
	if r.code != exitFailed || !strings.Contains(r.stderr, "only 0 of 2 workers joined within 300ms") || !strings.Contains(r.stderr, "sluice worker --join nats://127.0.0.1:") {
		t.Fatalf("no workers: %s", r)
	}
	if probes, _ := filepath.Glob(filepath.Join(dir, ".sluice-probe-*")); len(probes) != 0 {
		t.Fatalf("the head left its probe file: %v", probes)
	}
}
