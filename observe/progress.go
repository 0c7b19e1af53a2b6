package observe

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stage"
)

// ProgressMessage is the message of every progress line.
const ProgressMessage = "progress"

// LogProgress writes a progress line to log every interval until ctx ends:
// the running phase, the elapsed time, and one group of attributes per
// running stage (see docs/observability.md). Lines follow the logger's
// format (text or JSON).
func (m *Monitor) LogProgress(ctx context.Context, log *slog.Logger, interval time.Duration) {
	if interval <= 0 || log == nil {
		return
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		p := &progressLog{prev: make(map[string]progressMark)}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				log.LogAttrs(ctx, slog.LevelInfo, ProgressMessage, p.line(m, time.Now())...)
			}
		}
	}()
}

// progressLog remembers each stage's figures at the previous line, for
// rates over the interval.
type progressLog struct {
	prev map[string]progressMark
}

type progressMark struct {
	at          time.Time
	done, items int64
}

// line builds one progress line's attributes.
func (p *progressLog) line(m *Monitor, now time.Time) []slog.Attr {
	v := m.view()
	attrs := []slog.Attr{slog.String("elapsed", roundDur(now.Sub(m.started)).String())}
	if ph := m.phaseLabel(); ph != "" {
		attrs = append(attrs, slog.String("phase", ph))
	}
	running := 0
	for _, s := range v.stages {
		if s.State != executor.StageRunning {
			continue
		}
		running++
		attrs = append(attrs, slog.Attr{Key: s.Name, Value: slog.GroupValue(p.stageAttrs(s, now)...)})
	}
	attrs = append(attrs, slog.Int("running_stages", running))
	return attrs
}

// stageAttrs are one running stage's figures.
func (p *progressLog) stageAttrs(s StageView, now time.Time) []slog.Attr {
	key := stageKey(s.Exec, s.Name)
	prev, ok := p.prev[key]
	if !ok {
		prev = progressMark{at: s.Started}
	}
	p.prev[key] = progressMark{at: now, done: s.TasksDone, items: s.ItemsIn}
	a := []slog.Attr{
		slog.Int64("tasks_done", s.TasksDone),
		slog.Int64("tasks_total", s.TasksTotal),
		slog.Bool("total_known", s.TotalKnown),
		slog.Int64("items_in", s.ItemsIn),
		slog.Int64("items_out", s.ItemsOut),
	}
	if n, ok := s.Counters[stage.CounterRecordsRead]; ok {
		a = append(a, slog.Int64("records", n))
	}
	if n, ok := s.Counters[stage.CounterBytesRead]; ok {
		a = append(a, slog.Int64("bytes", n))
	}
	if dt := now.Sub(prev.at).Seconds(); dt > 0 {
		a = append(a, slog.Float64("tasks_per_sec", round1(float64(s.TasksDone-prev.done)/dt)),
			slog.Float64("items_per_sec", round1(float64(s.ItemsIn-prev.items)/dt)))
	}
	if eta, ok := ETA(s.StageStatus, now); ok {
		a = append(a, slog.String("eta", eta.String()))
	}
	return append(a,
		slog.Int("actors", s.ActorsLive),
		slog.Int("busy", s.ActorsBusy),
		slog.Int64("retries", s.Retries),
		slog.Int64("deaths", s.ActorDeaths),
		slog.Int64("failed", s.Failed),
	)
}

// ETA estimates the time a running stage still needs: the tasks left over
// the stage's average rate since its first task. It is known only once the
// stage's total is (its input is complete), a task is done and some are
// left (a stage whose tasks are all done may still be handing on outputs).
func ETA(s executor.StageStatus, now time.Time) (time.Duration, bool) {
	left := s.TasksTotal - s.TasksDone
	if !s.TotalKnown || s.TasksDone <= 0 || s.Started.IsZero() || left <= 0 {
		return 0, false
	}
	rate := float64(s.TasksDone) / now.Sub(s.Started).Seconds()
	if rate <= 0 || math.IsInf(rate, 0) {
		return 0, false
	}
	return roundDur(time.Duration(float64(left) / rate * float64(time.Second))), true
}

func roundDur(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
