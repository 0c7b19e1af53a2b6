// Package logfwd brings workers' log records to the head's log, tagged
// with the worker's name, so that one terminal shows the whole run.
//
// A worker logs through a [Handler], which writes every record locally as
// usual and, while attached to a run, also publishes it (core NATS, fire
// and forget, at most Burst records per second; the rest are counted and
// reported as dropped) to the run's log subject. The head [Forward]s that
// subject into its own logger, adding node=<name>. Logging never blocks on
// the network: a record that cannot be published is dropped.
package logfwd

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// Subject is where a run's workers publish their log records.
func Subject(run subject.Run) string { return run.Events("log") }

// Burst is how many records per second a worker forwards.
const Burst = 200

// record is a log record on the wire.
type record struct {
	Node  string     `json:"node"`
	Inc   string     `json:"inc"`
	Time  time.Time  `json:"time"`
	Level slog.Level `json:"level"`
	Msg   string     `json:"msg"`
	Attrs []string   `json:"attrs,omitempty"` // key, value, key, value…
}

// sink is where an attached Handler publishes; shared by derived handlers.
type sink struct {
	mu       sync.Mutex
	nc       *nats.Conn
	subj     string
	node     string
	inc      string
	min      slog.Level
	window   time.Time // start of the current second
	sent     int       // records sent in it
	dropped  int       // records dropped since the last report
	reported time.Time
}

// Handler is a slog.Handler that writes to next and forwards to the head
// while attached.
type Handler struct {
	next   slog.Handler
	s      *sink
	prefix string      // group prefix of later attrs ("g.")
	attrs  []slog.Attr // from WithAttrs, already prefixed
}

// NewHandler forwards records at level min and above (next decides what is
// written locally).
func NewHandler(next slog.Handler, min slog.Level) *Handler {
	return &Handler{next: next, s: &sink{min: min}}
}

// Attach starts forwarding to subj on nc as node name, incarnation inc.
func (h *Handler) Attach(nc *nats.Conn, subj, name, inc string) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.nc, h.s.subj, h.s.node, h.s.inc = nc, subj, name, inc
}

// Detach stops forwarding.
func (h *Handler) Detach() {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.nc = nil
}

// Enabled reports whether next or the forwarder wants level.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || l >= h.s.min
}

// Handle writes r locally and forwards it.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level >= h.s.min {
		h.forward(r)
	}
	return err
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	d := *h
	d.next = h.next.WithAttrs(attrs)
	d.attrs = append(append([]slog.Attr(nil), h.attrs...), prefixed(h.prefix, attrs)...)
	return &d
}

// WithGroup returns a handler that puts later attrs in group name.
func (h *Handler) WithGroup(name string) slog.Handler {
	d := *h
	d.next = h.next.WithGroup(name)
	d.prefix = h.prefix + name + "."
	return &d
}

func prefixed(prefix string, attrs []slog.Attr) []slog.Attr {
	if prefix == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: prefix + a.Key, Value: a.Value}
	}
	return out
}

// forward publishes r, within the rate limit, if attached.
func (h *Handler) forward(r slog.Record) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc == nil {
		return
	}
	now := time.Now()
	if now.Sub(s.window) >= time.Second {
		s.window, s.sent = now, 0
	}
	if s.sent >= Burst {
		s.dropped++
		return
	}
	s.sent++
	rec := record{Node: s.node, Inc: s.inc, Time: r.Time, Level: r.Level, Msg: r.Message}
	if s.dropped > 0 && now.Sub(s.reported) >= time.Second {
		rec.Attrs = append(rec.Attrs, "log_records_dropped", fmt.Sprint(s.dropped))
		s.dropped, s.reported = 0, now
	}
	for _, a := range h.attrs {
		rec.Attrs = append(rec.Attrs, a.Key, a.Value.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs = append(rec.Attrs, h.prefix+a.Key, a.Value.String())
		return true
	})
	data, err := json.Marshal(rec)
	if err == nil {
		s.nc.Publish(s.subj, data) // buffered by the connection; a failure drops the record
	}
}

// Forward logs the records published on subj to logger, with the worker's
// name as node=… and its incarnation as incarnation=….
func Forward(nc *nats.Conn, subj string, logger *slog.Logger) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(subj, func(m *nats.Msg) {
		var rec record
		if json.Unmarshal(m.Data, &rec) != nil || !logger.Enabled(context.Background(), rec.Level) {
			return
		}
		args := []any{"node", rec.Node, "incarnation", rec.Inc}
		for i := 0; i+1 < len(rec.Attrs); i += 2 {
			args = append(args, rec.Attrs[i], rec.Attrs[i+1])
		}
		r := slog.NewRecord(rec.Time, rec.Level, rec.Msg, 0)
		r.Add(args...)
		logger.Handler().Handle(context.Background(), r)
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("logfwd: subscribe %s: %w", subj, err)
	}
	return sub, nil
}
