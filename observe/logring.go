package observe

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// LogLine is one log record as the dashboard shows it.
type LogLine struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	// Attrs are the record's attributes as key=value text.
	Attrs string `json:"attrs,omitempty"`
}

// LogRing keeps the last lines of the log.
type LogRing struct {
	mu    sync.Mutex
	lines []LogLine
	next  int
	full  bool
}

// NewLogRing returns a ring that keeps the last n lines.
func NewLogRing(n int) *LogRing { return &LogRing{lines: make([]LogLine, max(n, 1))} }

func (r *LogRing) add(l LogLine) {
	r.mu.Lock()
	r.lines[r.next] = l
	r.next++
	if r.next == len(r.lines) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// Tail returns the last n lines, oldest first.
func (r *LogRing) Tail(n int) []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []LogLine
	if r.full {
		all = append(all, r.lines[r.next:]...)
	}
	all = append(all, r.lines[:r.next]...)
	if n >= 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// Tee returns a handler that passes every record to h and keeps it in r.
func (r *LogRing) Tee(h slog.Handler) slog.Handler { return &teeHandler{next: h, ring: r} }

// teeHandler writes records to next and to the ring, with the attributes
// and groups added by With.
type teeHandler struct {
	next   slog.Handler
	ring   *LogRing
	prefix string // attributes added with WithAttrs, as text
	group  string // the open group, "a.b."
}

func (t *teeHandler) Enabled(ctx context.Context, l slog.Level) bool { return t.next.Enabled(ctx, l) }

func (t *teeHandler) Handle(ctx context.Context, rec slog.Record) error {
	var sb strings.Builder
	sb.WriteString(t.prefix)
	rec.Attrs(func(a slog.Attr) bool {
		writeAttr(&sb, t.group, a)
		return true
	})
	t.ring.add(LogLine{Time: rec.Time, Level: rec.Level.String(), Msg: rec.Message, Attrs: strings.TrimSpace(sb.String())})
	return t.next.Handle(ctx, rec)
}

func (t *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var sb strings.Builder
	sb.WriteString(t.prefix)
	for _, a := range as {
		writeAttr(&sb, t.group, a)
	}
	return &teeHandler{next: t.next.WithAttrs(as), ring: t.ring, prefix: sb.String(), group: t.group}
}

func (t *teeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return t
	}
	return &teeHandler{next: t.next.WithGroup(name), ring: t.ring, prefix: t.prefix, group: t.group + name + "."}
}

// writeAttr writes " key=value", groups flattened to "group.key".
func writeAttr(sb *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			writeAttr(sb, g, ga)
		}
		return
	}
	sb.WriteByte(' ')
	sb.WriteString(group + a.Key)
	sb.WriteByte('=')
	v := a.Value.String()
	if strings.ContainsAny(v, " \"=") || v == "" {
		v = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
	}
	sb.WriteString(v)
}
