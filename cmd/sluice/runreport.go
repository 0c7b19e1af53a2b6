package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/internal/version"
	"github.com/sluice-data/sluice/report"
)

// reportPath decides where `sluice run` writes its HTML report: --report
// FILE, or else beside --summary-json (its path with the extension
// .html), or nowhere. explicit says the user named the file.
func reportPath(f *runFlags) (path string, explicit bool) {
	if f.report != "" {
		return f.report, true
	}
	if f.summaryJSON == "" {
		return "", false
	}
	return strings.TrimSuffix(f.summaryJSON, filepath.Ext(f.summaryJSON)) + ".html", false
}

// reportTarget is where the run's HTML report goes ("" for nowhere),
// checked before the run: a file there that Sluice did not write refuses
// the run if the user named it (exit 2), and is skipped, with a warning,
// at the default location.
func (a *app) reportTarget(f *runFlags) (string, error) {
	path, explicit := reportPath(f)
	if path == "" {
		return "", nil
	}
	if err := checkReportPath(path); err != nil {
		if explicit {
			return "", configErr(fmt.Errorf("--report: %w", err))
		}
		a.logger.Warn("not writing the HTML report", "reason", err.Error(), "remedy", "pass --report FILE")
		return "", nil
	}
	return path, nil
}

// writeReport writes the run's HTML report, if it has a target; a failure
// is logged, clears sum.HTMLReport and fails the run.
func (a *app) writeReport(sum *runSummary) error {
	if sum.HTMLReport == "" {
		return nil
	}
	if err := writeRunReport(sum.HTMLReport, *sum); err != nil {
		a.logger.Error("cannot write the HTML report", "path", sum.HTMLReport, "err", err)
		sum.HTMLReport = ""
		return failedErr(fmt.Errorf("--report: %w", err))
	}
	return nil
}

// checkReportPath refuses a report path that holds a file Sluice did not
// write (or a report edited since): Sluice never overwrites such a file.
func checkReportPath(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory; name a file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := report.CheckReplace(b); err != nil {
		return fmt.Errorf("%s exists and is %w (or was edited since); refusing to overwrite it: move it away or name another file", path, err)
	}
	return nil
}

// writeRunReport writes the report of a run atomically, after checking
// again that the path holds no file Sluice did not write.
func writeRunReport(path string, sum runSummary) error {
	if err := checkReportPath(path); err != nil {
		return err
	}
	b, err := report.Render(runReportDoc(sum))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// runReportDoc is the report of a `sluice run`, from its summary alone.
func runReportDoc(s runSummary) report.Doc {
	doc := report.Doc{Title: "Sluice pipeline report: " + s.Pipeline, Generator: strings.TrimSpace(version.Short()),
		Subtitle: fmt.Sprintf("status %s · started %s, finished %s", s.Status, s.StartedAt, s.FinishedAt)}
	r := s.Report
	res := report.Section{ID: "result", Title: "Result", Facts: []report.Fact{
		{Name: "status", Value: s.Status, Class: map[bool]string{true: "good", false: "bad"}[s.Status == "ok"]},
		{Name: "exit code", Value: strconv.Itoa(s.ExitCode)},
		{Name: "stages", Value: strconv.Itoa(len(r.Stages))},
		{Name: "output tasks", Value: report.Int(int64(s.OutputTasks))},
		{Name: "failed tasks", Value: report.Int(r.Failed)},
		{Name: "mode", Value: string(r.Mode)},
		{Name: "wall time", Value: report.Seconds(r.Wall.Seconds())},
		{Name: "CPU time", Value: report.Seconds(r.CPU.Seconds())},
	}}
	if s.Error != "" {
		res.Notes = append(res.Notes, "Error: "+s.Error)
	}
	res.Notes = append(res.Notes, "Every number in this report is in the run's summary (--summary-json).")
	doc.Sections = append(doc.Sections, res, stagesSection(r), failedSection(s), report.Section{ID: "version", Title: "Version",
		Facts: []report.Fact{{Name: "Sluice version", Value: version.String(), Class: "mono"}, {Name: "pipeline", Value: s.Pipeline, Class: "mono"}}})
	return doc
}

func stagesSection(r executor.Report) report.Section {
	sec := report.Section{ID: "stages", Title: "Stages",
		Intro: "Per stage: tasks and items in and out (items are the records of document batches, or the files of file groups), wall time from its first batch to its end, CPU time attributed to it, retries and failures."}
	tm := report.Chart{ID: "stage-time", Title: "Wall and CPU seconds per stage", Kind: report.Rows, Grouped: true, XLabel: "seconds", Unit: " s",
		Series: []report.Series{{Name: "wall", Class: "wall"}, {Name: "CPU", Class: "cpu"}}}
	it := report.Chart{ID: "stage-items", Title: "Items (records or files) in and out per stage", Kind: report.Rows, Grouped: true, XLabel: "items",
		Series: []report.Series{{Name: "in", Class: "s0"}, {Name: "out", Class: "s2"}}}
	t := report.Table{ID: "stages-table", Head: []string{"stage", "kind", "actors", "tasks in", "tasks out", "items in", "items out", "wall", "CPU", "retries", "actor deaths", "setup failures", "failed tasks"},
		Numeric: []bool{false, false, true, true, true, true, true, true, true, true, true, true, true}}
	for _, st := range r.Stages {
		tm.Bars = append(tm.Bars, report.Bar{Label: st.Name, Values: []float64{st.Wall.Seconds(), st.CPU.Seconds()}})
		it.Bars = append(it.Bars, report.Bar{Label: st.Name, Values: []float64{float64(st.ItemsIn), float64(st.ItemsOut)}})
		bad := ""
		if st.Failed > 0 {
			bad = "removed"
		}
		t.Rows = append(t.Rows, []report.Cell{{Text: st.Name, Class: "mono"}, {Text: st.Kind}, {Text: strconv.Itoa(st.Actors)},
			{Text: report.Int(st.TasksIn)}, {Text: report.Int(st.TasksOut)}, {Text: report.Int(st.ItemsIn)}, {Text: report.Int(st.ItemsOut)},
			{Text: report.Seconds(st.Wall.Seconds())}, {Text: report.Seconds(st.CPU.Seconds())}, {Text: report.Int(st.Retries)},
			{Text: report.Int(st.ActorDeaths)}, {Text: report.Int(st.SetupFailures)}, {Text: report.Int(st.Failed), Class: bad}})
	}
	sec.Charts, sec.Tables = []report.Chart{tm, it}, []report.Table{t}
	return sec
}

func failedSection(s runSummary) report.Section {
	sec := report.Section{ID: "failed", Title: "Failed tasks"}
	if len(s.FailedTasks) == 0 {
		sec.Notes = []string{"No task failed."}
		return sec
	}
	t := report.Table{ID: "failed-table", Head: []string{"task"}}
	for i, id := range s.FailedTasks {
		if i == 100 {
			sec.Notes = append(sec.Notes, fmt.Sprintf("and %d more (all in the summary).", len(s.FailedTasks)-100))
			break
		}
		t.Rows = append(t.Rows, []report.Cell{{Text: id, Class: "mono"}})
	}
	sec.Tables = []report.Table{t}
	if s.Manifest != "" {
		sec.Notes = append(sec.Notes, "The failed-task manifest "+s.Manifest+" lists every failed task and the records it held.")
	}
	return sec
}

// now is the time in the summaries' format.
func now() string { return time.Now().UTC().Format(time.RFC3339) }
