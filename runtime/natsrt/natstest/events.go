package natstest

import (
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/runtime/natsrt/member"
)

// Events records a monitor's events.
type Events struct {
	mu  sync.Mutex
	evs []member.Event
}

// Record subscribes to m's events.
func Record(m *member.Monitor) *Events {
	e := &Events{}
	m.Subscribe(func(ev member.Event) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.evs = append(e.evs, ev)
	})
	return e
}

// Wait returns the first event of kind that match accepts (nil: any),
// waiting up to d.
func (e *Events) Wait(t testing.TB, d time.Duration, kind member.EventKind, match func(member.Event) bool) member.Event {
	t.Helper()
	var got member.Event
	Eventually(t, d, kind.String()+" event", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ev := range e.evs {
			if ev.Kind == kind && (match == nil || match(ev)) {
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

// Of matches the events of one incarnation.
func Of(inc string) func(member.Event) bool {
	return func(ev member.Event) bool { return ev.Node.Incarnation == inc }
}
