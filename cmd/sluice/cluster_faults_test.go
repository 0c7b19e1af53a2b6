package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
)

// fuzzyRef holds the clean fuzzy runs that fault runs are compared with:
// files with three ranks, two with two. The duplicates listing has one
// part per rank of the components phase, so a run that lost a worker
// before or during that phase (and so ran it with two ranks) must equal
// the clean two-rank run, byte for byte.
type fuzzyRef struct {
	in         string
	files, two map[string][]byte
}

// callStarted matches a worker's debug line for a call (the hook fault
// tests time their faults with): call is "stage=S method=M".
func callStarted(call string) *regexp.Regexp {
	return regexp.MustCompile(`msg="call started" .*` + regexp.QuoteMeta(call) + ` `)
}

// waitCall waits until one of c's workers logs a call of stage after the
// offsets in from, and returns its index.
func (c *cluster) waitCall(t *testing.T, job *background, from []int, stage string) int {
	t.Helper()
	re := callStarted(stage)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no worker started a call of %s within 60s; the head's log:\n%s", stage, job.stderr.String())
		}
		select {
		case r := <-job.done:
			t.Fatalf("the job ended before a call of %s:\n%s", stage, r)
		default:
		}
		for i, w := range c.workers {
			if out := w.Output(); len(out) > from[i] && re.MatchString(out[from[i]:]) {
				return i
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// offsets returns how much each worker has printed so far.
func (c *cluster) offsets() []int {
	from := make([]int, len(c.workers))
	for i, w := range c.workers {
		from[i] = len(w.Output())
	}
	return from
}

// replace starts a new worker process in place of worker i (after a
// kill), joining url (default: the head's address directly). The
// cluster's test owns it.
func (c *cluster) replace(i int, url string) {
	if url == "" {
		url = "nats://" + c.addr
	}
	c.workers[i] = c.workerVia(c.t, url, fmt.Sprintf("w%d", i+1), "--token-file", filepath.Join(c.creds, "token"), "--ca-sha256", c.pin)
}

// checkSame compares a fuzzy output with the clean run of as many ranks.
func checkSame(t *testing.T, ref fuzzyRef, out string) {
	t.Helper()
	got := treeFiles(t, out)
	want := ref.files
	if len(got) == len(ref.two) {
		want = ref.two
	}
	if len(got) != len(want) {
		t.Fatalf("output files: %d, clean runs %d (3 ranks) and %d (2 ranks)", len(got), len(ref.files), len(ref.two))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs from the clean run's", name)
		}
	}
}

// faultSummary is what a fuzzy summary says of lost nodes and deaths.
type faultSummary struct {
	Nodes []struct {
		ID   string `json:"id"`
		Lost bool   `json:"lost"`
	} `json:"nodes"`
	Phases []struct {
		Name   string `json:"name"`
		Stages []struct {
			Retries     int64 `json:"retries"`
			ActorDeaths int64 `json:"actor_deaths"`
		} `json:"stages"`
	} `json:"phases"`
}

// checkLost checks that the summary lists worker name's incarnation as
// lost. Other losses are logged, not failed: on a heavily loaded machine a
// worker's lease can lapse (2 s TTL) and it rejoins as a new node, which
// the run survives by design.
func (s faultSummary) checkLost(t *testing.T, name string) {
	t.Helper()
	var found bool
	for _, id := range s.lost() {
		if strings.HasPrefix(id, name+"-") {
			found = true
		} else {
			t.Logf("also lost during the run: %s", id)
		}
	}
	if !found {
		t.Fatalf("lost nodes %v; want %s's incarnation among them", s.lost(), name)
	}
}

// lost returns the ids of the nodes lost during the run.
func (s faultSummary) lost() []string {
	var lost []string
	for _, n := range s.Nodes {
		if n.Lost {
			lost = append(lost, n.ID)
		}
	}
	return lost
}

// deaths sums the actor deaths and retries of a phase.
func (s faultSummary) deaths(phase string) (deaths, retries int64) {
	for _, p := range s.Phases {
		if p.Name == phase {
			for _, st := range p.Stages {
				deaths += st.ActorDeaths
				retries += st.Retries
			}
		}
	}
	return deaths, retries
}

// testKillWorker SIGKILLs the worker that starts a call of the phase's
// stage (method), and checks that the run completes with the clean run's
// output, the phase having lost an actor and retried.
func testKillWorker(t *testing.T, c *cluster, ref fuzzyRef, phase, method string) {
	out := filepath.Join(t.TempDir(), "out")
	from := c.offsets()
	job := startSluice(append([]string{"dedup", "fuzzy", "--input", ref.in, "--files-per-partition", "1", "--output", out}, c.head(3)...)...)
	call := "stage=" + phase + " method=" + method
	i := c.waitCall(t, job, from, call)
	c.workers[i].Kill()
	t.Logf("killed w%d at a call of %s", i+1, call)
	r := job.wait(t, 90*time.Second)
	c.replace(i, "")
	if r.code != 0 {
		t.Fatal(r)
	}
	checkSame(t, ref, out)
	var s faultSummary
	readJSON(t, filepath.Join(out, "summary.json"), &s)
	s.checkLost(t, fmt.Sprintf("w%d", i+1))
	if d, re := s.deaths(phase); d == 0 || re == 0 {
		t.Fatalf("phase %s: %d actor deaths, %d retries; the kill must have cost it an actor and a retry", phase, d, re)
	}
}

// testPartition cuts worker i off (a paused TCP proxy between it and the
// server, both directions) while it runs an LSH call. The head must
// declare it lost and finish without it; the worker must stop its actors
// while still cut off: its lease lapses (fenced), or, if its connection's
// pings (1 s × 2) give up first on a loaded machine, its connection
// closes. Once the link is back it joins again as a new incarnation, and
// the output, read after its return, equals the clean run's.
func testPartition(t *testing.T, c *cluster, ref fuzzyRef, i int) {
	// Worker i now reaches the server through the proxy.
	c.workers[i].Kill()
	proxy := natstest.NewProxy(c.t, c.addr)
	c.replace(i, proxy.URL())
	w := c.workers[i]
	name := fmt.Sprintf("w%d", i+1)

	out := filepath.Join(t.TempDir(), "out")
	from := c.offsets()
	job := startSluice(append([]string{"dedup", "fuzzy", "--input", ref.in, "--files-per-partition", "1", "--output", out}, c.head(3)...)...)
	re := callStarted("stage=lsh method=insert")
	natstest.Eventually(t, 60*time.Second, name+" starting an LSH call", func() bool {
		o := w.Output()
		return len(o) > from[i] && re.MatchString(o[from[i]:])
	})
	proxy.Pause(true, true)
	cut := time.Now()
	natstest.Eventually(t, 30*time.Second, "the head declaring "+name+" lost", func() bool {
		return strings.Contains(job.stderr.String(), `msg="node lost" node=`+name+" ")
	})
	lostAfter := time.Since(cut)
	fenced := regexp.MustCompile(`msg="stopped the session's actors" .*reason="(worker: fenced[^"]*|worker: connection closed)"`)
	var why string
	natstest.Eventually(t, 30*time.Second, name+" stopping its actors while cut off", func() bool {
		o := w.Output()
		if len(o) <= from[i] {
			return false
		}
		m := fenced.FindStringSubmatch(o[from[i]:])
		if m != nil {
			why = m[1]
		}
		return m != nil
	})
	t.Logf("cut %s off at an LSH call: the head declared it lost after %s; it stopped its actors after %s (%s)",
		name, lostAfter.Round(time.Millisecond), time.Since(cut).Round(time.Millisecond), why)
	proxy.Resume()
	r := job.wait(t, 90*time.Second)
	if r.code != 0 {
		t.Fatal(r)
	}
	var s faultSummary
	readJSON(t, filepath.Join(out, "summary.json"), &s)
	s.checkLost(t, name)
	if d, re := s.deaths("lsh"); d == 0 || re == 0 {
		t.Fatalf("phase lsh: %d actor deaths, %d retries; the partition must have cost it an actor and a retry", d, re)
	}
	before := outputListing(t, out)
	// The returning worker has dropped whatever it had in hand once its
	// old session is torn down and it looks for a head again (it joins
	// the next one: the next subtest needs all three workers).
	natstest.Eventually(t, 30*time.Second, name+" back, looking for a head", func() bool {
		o := w.Output()
		return strings.Contains(o[from[i]:], `msg="session ended; rejoining" reason="`+why+`"`)
	})
	checkSame(t, ref, out)
	if after := outputListing(t, out); after != before {
		t.Fatalf("the output directory changed after the run:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// outputListing lists every file under dir with its size and time.
func outputListing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s\n", p, fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// testKillHead SIGKILLs the head (a `sluice dedup fuzzy` process) while
// the workers run its LSH actors. Every worker must stop the run's actors
// within a few seconds and stay up; the same command run again on the
// same workers must then succeed, with the clean run's output, resuming
// the phases the dead head finished.
func testKillHead(t *testing.T, c *cluster, ref fuzzyRef) {
	out := filepath.Join(t.TempDir(), "out")
	args := append([]string{"dedup", "fuzzy", "--input", ref.in, "--files-per-partition", "1", "--output", out}, c.head(3)...)
	a, _ := json.Marshal(args)
	from := c.offsets()
	head := natstest.StartChild(t, "sluice", "SLUICE_ARGS="+string(a))
	re := callStarted("stage=lsh method=insert")
	natstest.Eventually(t, 60*time.Second, "a worker starting an LSH call", func() bool {
		for i, w := range c.workers {
			if o := w.Output(); len(o) > from[i] && re.MatchString(o[from[i]:]) {
				return true
			}
		}
		return false
	})
	head.Kill()
	killed := time.Now()
	// The worker may notice the closed connection itself, or first as its
	// lease revoked by it ("fenced: lease lost: … connection closed").
	stopped := regexp.MustCompile(`msg="stopped the session's actors" .*reason="worker: (fenced: lease lost: [^"]*)?(connection closed|the head is gone)"`)
	held := regexp.MustCompile(`msg="stopped the run's actors" .*actors=[1-9]`)
	var holders int
	for i, w := range c.workers {
		natstest.Eventually(t, 10*time.Second, fmt.Sprintf("w%d stopping the dead head's actors", i+1), func() bool {
			return stopped.MatchString(w.Output()[from[i]:])
		})
		if held.MatchString(w.Output()[from[i]:]) {
			holders++
		}
		if exited, err := w.Wait(0); exited {
			t.Fatalf("w%d exited (%v); a worker outlives its heads", i+1, err)
		}
	}
	t.Logf("head killed: %d workers held its actors; all stopped them within %s", holders, time.Since(killed).Round(time.Millisecond))
	if holders == 0 {
		t.Fatal("no worker held an actor when the head died: the kill came too late to test anything")
	}
	// The same command again, on the same workers, with a new head.
	r := sluice(args...)
	if r.code != 0 {
		t.Fatal(r)
	}
	checkSame(t, ref, out)
	// What the head's death cost: the phase it was in. The phases done
	// before it (ids, MinHash) come from the cache.
	if !strings.Contains(r.stderr, `msg="resuming: phase already done in cache" phase=minhash`) ||
		!strings.Contains(r.stderr, `msg="phase was interrupted earlier; starting it clean" phase=lsh`) {
		t.Fatalf("the new run did not resume from the dead head's cache:\n%s", r.stderr)
	}
}
