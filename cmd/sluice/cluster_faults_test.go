package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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
// kill), joining url (default: the head's address directly).
func (c *cluster) replace(i int, url string) {
	if url == "" {
		url = "nats://" + c.addr
	}
	args := []string{"--log-level", "debug", "worker", "--join", url, "--name", fmt.Sprintf("w%d", i+1), "--cpus", "1", "--scratch", c.t.TempDir(),
		"--token-file", filepath.Join(c.creds, "token"), "--ca-sha256", c.pin}
	a, _ := json.Marshal(args)
	c.workers[i] = natstest.StartChild(c.t, "sluice", "SLUICE_ARGS="+string(a), "GOMAXPROCS=1")
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
	job := startSluice(append([]string{"dedup", "fuzzy", "--input", ref.in, "--output", out}, c.head(3)...)...)
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
	if lost := s.lost(); len(lost) != 1 || !strings.HasPrefix(lost[0], fmt.Sprintf("w%d-", i+1)) {
		t.Fatalf("lost nodes %v; want w%d's incarnation", lost, i+1)
	}
	if d, re := s.deaths(phase); d == 0 || re == 0 {
		t.Fatalf("phase %s: %d actor deaths, %d retries; the kill must have cost it an actor and a retry", phase, d, re)
	}
}
