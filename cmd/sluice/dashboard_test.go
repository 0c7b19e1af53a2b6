package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-data/sluice/internal/browsertest"
)

// stageRow is one row of the dashboard's stage table, as the page shows it.
type stageRow struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Done     int64  `json:"done"`
	TasksIn  int64  `json:"tasks_in"`
	TasksOut int64  `json:"tasks_out"`
	ItemsIn  int64  `json:"items_in"`
	ItemsOut int64  `json:"items_out"`
	Retries  int64  `json:"retries"`
	Deaths   int64  `json:"deaths"`
	Failed   int64  `json:"failed"`
}

// readStages reads the stage table from the page's DOM.
const readStages = `[...document.querySelectorAll("#stages tbody tr")].map((tr) => {
  const n = (c) => Number(tr.querySelector("td." + c).textContent);
  return {name: tr.dataset.stage, state: tr.querySelector("td.state").textContent, done: n("tasks-done"),
    tasks_in: n("tasks-in"), tasks_out: n("tasks-out"), items_in: n("items-in"), items_out: n("items-out"),
    retries: n("retries"), deaths: n("deaths"), failed: n("failed")};
})`

// TestDashboardInBrowser opens the live dashboard of a slowed run in a real
// headless Chromium: it loads without console errors or requests leaving
// the page's origin, the slow stage's progress grows between two reads,
// and once the run is over the page shows the final state of summary.json,
// with the failed task's manifest entry. Screenshots are saved.
func TestDashboardInBrowser(t *testing.T) {
	b := browsertest.Start(t) // one browser for the package's dashboard tests
	dir := t.TempDir()
	slowPipeline(t, dir, "100ms", "", "")
	bad := badTask(t, dir)
	p := slowPipeline(t, dir, "100ms", ", error_ids: ["+strconv.Quote(bad)+"]", ", max_failed_fraction: 0.5, failed_manifest: failed.jsonl")
	sumPath := filepath.Join(dir, "summary.json")
	c := startSluiceChild(t, "--ui", "127.0.0.1:0", "--linger", "forever", "--progress-interval", "0",
		"run", p, "--cpus", "2", "--summary-json", sumPath)
	dash := waitURL(t, c, "dashboard")

	tab := b.Tab(t)
	if err := tab.Do(30*time.Second, chromedp.Navigate(dash), chromedp.WaitVisible(chromedp.CSS(`#stages tr[data-stage="slow"]`))); err != nil {
		t.Fatalf("load the dashboard: %v\n%s", err, c.Output())
	}
	first := slowDone(t, tab)
	time.Sleep(1500 * time.Millisecond) // the page polls every second
	second := slowDone(t, tab)
	if state, _ := browsertest.Eval[string](tab, `document.getElementById("state").textContent`); state != "running" && second <= first {
		t.Logf("the run ended before the second read (state %s)", state)
	}
	if second <= first {
		t.Errorf("slow stage: %d tasks done, then %d a second and a half later: want growth", first, second)
	}
	tab.Screenshot(t, "dashboard-running.png")

	// Wait for the end of the run.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		state, err := browsertest.Eval[string](tab, `document.getElementById("state").textContent`)
		if err != nil {
			t.Fatal(err)
		}
		if state != "running" && state != "…" {
			if state != "failed" {
				t.Errorf("final state %q, want failed (one task fails)", state)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard still shows %q\n%s", state, c.Output())
		}
		time.Sleep(250 * time.Millisecond)
	}
	var sum runSummary
	raw, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	rows, err := browsertest.Eval[[]stageRow](tab, readStages)
	if err != nil {
		t.Fatal(err)
	}
	checkDashboardRows(t, rows, sum)
	failed, err := browsertest.Eval[[]string](tab, `[...document.querySelectorAll("#failed li")].map((li) => li.dataset.task + " " + li.textContent)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0], bad+" ") || !strings.Contains(failed[0], "a.jsonl:5-6") {
		t.Errorf("failed tasks on the page: %q, want %s with its records (a.jsonl:5-6)", failed, bad)
	}
	kinds, err := browsertest.Eval[[]string](tab, `[...document.querySelectorAll("#events li")].map((li) => li.dataset.kind)`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(kinds, " "), "retry") || !strings.Contains(strings.Join(kinds, " "), "task_failed") {
		t.Errorf("events on the page: %v, want retries and the failed task", kinds)
	}
	series, err := browsertest.Eval[int](tab, `document.querySelectorAll("#chart-done polyline.series").length`)
	if err != nil || series == 0 {
		t.Errorf("progress chart: %d series (%v)", series, err)
	}
	tab.Screenshot(t, "dashboard-final.png")
	if errs := tab.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
	origin, _ := url.Parse(dash)
	for _, r := range tab.Requests() {
		if u, err := url.Parse(r); err != nil || u.Host != origin.Host {
			t.Errorf("the page requested %s, outside %s", r, origin.Host)
		}
	}

	// The page keeps the final state until the process exits; SIGTERM ends
	// --linger forever, and the exit code is the run's (1: a task failed).
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, c, 30*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1 (a task failed)\n%s", code, c.Output())
	}
}

// slowDone reads the slow stage's tasks done from the page.
func slowDone(t *testing.T, tab *browsertest.Page) int64 {
	t.Helper()
	n, err := browsertest.Eval[int64](tab, `Number(document.querySelector('#stages tr[data-stage="slow"] td.tasks-done').textContent)`)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkDashboardRows compares the page's stage table with the summary.
func checkDashboardRows(t *testing.T, rows []stageRow, sum runSummary) {
	t.Helper()
	if len(rows) != len(sum.Report.Stages) {
		t.Fatalf("%d stage rows on the page, %d stages in summary.json: %+v", len(rows), len(sum.Report.Stages), rows)
	}
	for i, s := range sum.Report.Stages {
		r := rows[i]
		want := stageRow{Name: s.Name, State: "done", Done: s.TasksIn, TasksIn: s.TasksIn, TasksOut: s.TasksOut, ItemsIn: s.ItemsIn, ItemsOut: s.ItemsOut,
			Retries: s.Retries, Deaths: s.ActorDeaths, Failed: s.Failed}
		if r != want {
			t.Errorf("stage %d on the page: %+v\nsummary.json:      %+v", i, r, want)
		}
	}
	if sum.Status != "tasks_failed" || len(sum.FailedTasks) != 1 {
		t.Errorf("summary: status %s, failed %v", sum.Status, sum.FailedTasks)
	}
}
