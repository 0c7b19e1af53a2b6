package executor

import (
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress draws one live bar per stage when its output is a terminal.
type progress struct {
	p    *mpb.Progress
	bars []*mpb.Bar
}

// stageBar counts one stage's tasks in and done. The zero value (no bar)
// only counts.
type stageBar struct {
	bar      *mpb.Bar
	in, done *atomic.Int64
}

func newProgress(w io.Writer, interval time.Duration) *progress {
	if !isTerminal(w) {
		return &progress{}
	}
	return &progress{p: mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(interval), mpb.WithWidth(40))}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) addStage(name string) stageBar {
	// in and done are updated from different goroutines: separate allocations
	// keep them off one cache line.
	type padded struct {
		v atomic.Int64
		_ [56]byte
	}
	sb := stageBar{in: &new(padded).v, done: &new(padded).v}
	if p.p == nil {
		return sb
	}
	sb.bar = p.p.AddBar(0,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d tasks", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f tasks/s", decor.WCSyncSpace)),
	)
	p.bars = append(p.bars, sb.bar)
	return sb
}

func (b stageBar) addIn(n int64) {
	if b.in == nil {
		return
	}
	v := b.in.Add(n)
	if b.bar != nil {
		b.bar.SetTotal(v, false)
	}
}

func (b stageBar) addDone(n int64) {
	if b.done == nil {
		return
	}
	b.done.Add(n)
	if b.bar != nil {
		b.bar.IncrInt64(n)
	}
}

// doneCount is the tasks done so far.
func (b stageBar) doneCount() int64 {
	if b.done == nil {
		return 0
	}
	return b.done.Load()
}

// finish completes every bar and waits for the last render.
func (p *progress) finish() {
	if p.p == nil {
		return
	}
	for _, b := range p.bars {
		b.SetTotal(-1, true)
	}
	p.p.Wait()
}
