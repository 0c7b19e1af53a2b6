package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime/natsrt/natstest"
)

// slowPipeline writes 80 records and a pipeline that reads them in 40
// batches and passes each through a chaos stage that sleeps sleep per batch
// (2 actors: about 40*sleep/2 in all) and fails some first attempts; extra
// is added to the chaos config. It returns the pipeline's path.
func slowPipeline(t *testing.T, dir, sleep, extra, executorCfg string) string {
	t.Helper()
	var sb strings.Builder
	for i := range 80 {
		fmt.Fprintf(&sb, "{\"id\":%d,\"text\":\"document number %d\"}\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), sb.String())
	return writeFile(t, filepath.Join(dir, "p.yaml"), fmt.Sprintf(`executor: { retry_backoff: 1ms %s }
stages:
  - { type: jsonl_reader, name: read, config: { paths: [in], batch_rows: 2 } }
  - { type: chaos, name: slow, batch_size: 1, config: { sleep: %s, error_fraction: 0.2, seed: 7 %s } }
  - { type: jsonl_writer, name: write, config: { dir: out } }
`, executorCfg, sleep, extra))
}

// startSluiceChild runs the sluice command line in a child process whose
// stdout and stderr go to a pipe (not a terminal).
func startSluiceChild(t *testing.T, args ...string) *natstest.Child {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return natstest.StartChild(t, "sluice", "SLUICE_ARGS="+string(b))
}

// waitExit waits for the child and returns its exit code.
func waitExit(t *testing.T, c *natstest.Child, d time.Duration) int {
	t.Helper()
	exited, _ := c.Wait(d)
	if !exited {
		t.Fatalf("sluice did not exit within %s\n%s", d, c.Output())
	}
	return c.Cmd.ProcessState.ExitCode()
}

// waitURL waits for the log line "serving WHAT" and returns its url.
func waitURL(t *testing.T, c *natstest.Child, what string) string {
	t.Helper()
	re := regexp.MustCompile(`msg="serving ` + what + `" url=(\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(c.Output()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q line\n%s", "serving "+what, c.Output())
	return ""
}

// logfmt parses one line of slog's text format.
func logfmt(line string) (map[string]string, error) {
	kv := make(map[string]string)
	for s := strings.TrimSpace(line); s != ""; s = strings.TrimLeft(s, " ") {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("no key=value at %q", s)
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", key, err)
			}
			val, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		kv[key] = val
	}
	return kv, nil
}

// TestProgressLinesWithoutTerminal runs a pipeline with stderr piped and a
// 1-second interval: progress lines appear, parse in both log formats, and
// name each running stage's figures; the starting line names the mode.
func TestProgressLinesWithoutTerminal(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := slowPipeline(t, dir, "120ms", "", "")
			c := startSluiceChild(t, "--log-format", format, "--progress-interval", "1s", "run", p, "--cpus", "2")
			if code := waitExit(t, c, 2*time.Minute); code != 0 {
				t.Fatalf("exit %d\n%s", code, c.Output())
			}
			var lines []map[string]any
			sc := bufio.NewScanner(strings.NewReader(c.Output()))
			for sc.Scan() {
				rec, err := parseLogLine(format, sc.Text())
				if err != nil {
					continue // the summary table
				}
				switch rec["msg"] {
				case "progress":
					lines = append(lines, rec)
				case "pipeline starting":
					if rec["mode"] != "streaming" {
						t.Errorf("pipeline starting: mode %q, want streaming: %s", rec["mode"], sc.Text())
					}
				}
			}
			if len(lines) < 2 {
				t.Fatalf("%d progress lines, want at least 2\n%s", len(lines), c.Output())
			}
			sawSlow := false
			for _, l := range lines {
				if l["level"] != "INFO" || l["elapsed"] == nil || l["running_stages"] == nil {
					t.Errorf("progress line without level, elapsed or running_stages: %v", l)
				}
				if s, ok := l["slow"].(map[string]any); ok {
					sawSlow = true
					for _, k := range []string{"tasks_done", "tasks_total", "items_in", "actors", "retries", "deaths", "failed", "tasks_per_sec"} {
						if _, err := strconv.ParseFloat(fmt.Sprint(s[k]), 64); err != nil {
							t.Errorf("slow.%s = %v is not a number: %v", k, s[k], l)
						}
					}
				}
			}
			if !sawSlow {
				t.Fatalf("no progress line shows the running stage slow\n%s", c.Output())
			}
		})
	}
}

// parseLogLine parses a slog line of format into a map, with groups
// ("slow.tasks_done" in text) as nested maps.
func parseLogLine(format, line string) (map[string]any, error) {
	if format == "json" {
		var m map[string]any
		err := json.Unmarshal([]byte(line), &m)
		return m, err
	}
	kv, err := logfmt(line)
	if err != nil || kv["msg"] == "" {
		return nil, fmt.Errorf("not a log line")
	}
	m := make(map[string]any)
	for k, v := range kv {
		if g, sub, ok := strings.Cut(k, "."); ok {
			gm, _ := m[g].(map[string]any)
			if gm == nil {
				gm = make(map[string]any)
				m[g] = gm
			}
			gm[sub] = v
			continue
		}
		m[k] = v
	}
	return m, nil
}

// scrape reads /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample returns the value of family name with the given labels (label
// pairs name, value, ...), and whether it exists.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// counters flattens every counter sample into "name{labels}" -> value.
func counters(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := make(map[string]float64)
	for name, f := range fams {
		if f.GetType() != dto.MetricType_COUNTER {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(ls)
			out[name+"{"+strings.Join(ls, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestMetricsScrapedDuringRun scrapes /metrics while a slowed pipeline
// runs: every counter is monotonic between scrapes, progress shows while
// running, and at the end the counters equal the run's summary.
func TestMetricsScrapedDuringRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := slowPipeline(t, dir, "100ms", "", "")
	sumPath := filepath.Join(dir, "summary.json")
	c := startSluiceChild(t, "--metrics-addr", "127.0.0.1:0", "--linger", "forever", "--progress-interval", "0",
		"run", p, "--cpus", "2", "--summary-json", sumPath)
	url := waitURL(t, c, "metrics")

	prev := map[string]float64{}
	var fams map[string]*dto.MetricFamily
	runningScrapes, progress := 0, map[float64]bool{}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		fams = scrape(t, url)
		cur := counters(fams)
		for k, v := range prev {
			if cur[k] < v {
				t.Errorf("counter %s went from %g to %g", k, v, cur[k])
			}
		}
		prev = cur
		if v, _ := sample(fams, "sluice_run_state", "state", "running"); v == 1 {
			runningScrapes++
			done, _ := sample(fams, "sluice_stage_tasks_processed_total", "stage", "slow")
			progress[done] = true
		} else if v, _ := sample(fams, "sluice_run_state", "state", "succeeded"); v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not succeed in time\n%s", c.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if runningScrapes < 3 || len(progress) < 2 {
		t.Errorf("%d scrapes while running, %d distinct values of slow's processed tasks: want 3 and 2", runningScrapes, len(progress))
	}
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "sluice_build_info"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	var sum runSummary
	b, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	checkMetricsMatch(t, fams, sum.Report)

	// --linger forever: the process serves until SIGTERM, then exits with
	// the run's code.
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, c, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM during --linger, want the run's 0\n%s", code, c.Output())
	}
}

// checkMetricsMatch compares the final metrics with the run's report.
func checkMetricsMatch(t *testing.T, fams map[string]*dto.MetricFamily, rep executor.Report) {
	t.Helper()
	if len(rep.Stages) < 3 {
		t.Fatalf("report has %d stages", len(rep.Stages))
	}
	retries := int64(0)
	for _, s := range rep.Stages {
		retries += s.Retries
		for name, want := range map[string]int64{
			"sluice_stage_tasks_received_total": s.TasksIn, "sluice_stage_tasks_emitted_total": s.TasksOut,
			"sluice_stage_items_received_total": s.ItemsIn, "sluice_stage_items_emitted_total": s.ItemsOut,
			"sluice_stage_retries_total": s.Retries, "sluice_stage_actor_deaths_total": s.ActorDeaths,
			"sluice_stage_failed_tasks_total": s.Failed, "sluice_stage_actors_started_total": int64(s.ActorsStarted),
		} {
			got, ok := sample(fams, name, "stage", s.Name)
			if !ok || got != float64(want) {
				t.Errorf("%s{stage=%q} = %g (present %v), summary says %d", name, s.Name, got, ok, want)
			}
		}
		if got, _ := sample(fams, "sluice_stage_tasks_processed_total", "stage", s.Name); got != float64(s.TasksIn) {
			t.Errorf("stage %s: %g tasks processed, %d received", s.Name, got, s.TasksIn)
		}
		for k, want := range s.Counters {
			if got, _ := sample(fams, "sluice_stage_counter_total", "stage", s.Name, "counter", k); got != float64(want) {
				t.Errorf("stage %s counter %s = %g, summary says %d", s.Name, k, got, want)
			}
		}
	}
	if retries == 0 {
		t.Error("no retries: the test means to check them")
	}
	for _, n := range rep.Nodes {
		if got, _ := sample(fams, "sluice_node_calls_total", "node", n.ID); got != float64(n.Calls) {
			t.Errorf("node %s: %g calls, summary says %d", n.ID, got, n.Calls)
		}
	}
	if got, _ := sample(fams, "sluice_stage_records_read_total", "stage", "read"); got != 80 {
		t.Errorf("read stage: %g records read, want 80", got)
	}
}

// badTask is the id of the third batch of the slow pipeline's input.
func badTask(t *testing.T, dir string) string {
	t.Helper()
	groups, err := dataio.FilePartitioning{Paths: []string{filepath.Join(dir, "in")}}.FileGroups("")
	if err != nil {
		t.Fatal(err)
	}
	return groups[0].ID() + "_2"
}

// TestObserveFlagErrors: a dashboard on a non-loopback address without a
// token, a bad address and a negative interval are usage errors, before any
// work.
func TestObserveFlagErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, filepath.Join(dir, "p.yaml"), "stages:\n  - {type: chaos}\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--ui", "0.0.0.0:0", "run", p}, "refusing to serve the dashboard on a non-loopback address without a token"},
		{[]string{"--ui", "127.0.0.1:0:9", "run", p}, "--ui"},
		{[]string{"--metrics-addr", "999999", "run", p}, "--metrics-addr"},
		{[]string{"--progress-interval", "-1s", "run", p}, "--progress-interval -1s: must not be negative"},
		{[]string{"--linger", "soon", "run", p}, "want a duration such as 10m, or forever"},
	}
	for _, c := range cases {
		r := sluice(c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("sluice %s: want exit 2 and %q\n%s", strings.Join(c.args, " "), c.want, r)
		}
	}
	// With a token, a non-loopback dashboard is served (and the run goes on).
	t.Setenv("SLUICE_UI_TOKEN", "t0ken")
	if r := sluice("--ui", "0.0.0.0:0", "run", p); r.code != exitOK || !strings.Contains(r.stderr, `msg="serving dashboard"`) {
		t.Errorf("with a token: %s", r)
	}
}
