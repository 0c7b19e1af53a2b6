package task

import "sort"

// KindStats is the codec name of Stats.
const KindStats = "stats"

// Stats is a sentinel a stage returns beside its outputs to report named
// counters, such as the documents a filter dropped per rule. The executor
// adds the counters to the stage's report and never passes the task on, so
// counters survive even when a call returns no other task.
type Stats struct {
	Header
	Counters map[string]int64
}

// NewStats returns a Stats task holding counters (nil when all are zero).
func NewStats(counters map[string]int64) *Stats {
	return &Stats{Header: Header{TaskID: "stats"}, Counters: counters}
}

// NumItems implements Task: a Stats task holds no items.
func (*Stats) NumItems() int { return 0 }

// Kind implements Task.
func (*Stats) Kind() string { return KindStats }

var statsCodec = Codec{
	Kind: KindStats,
	Encode: func(w *Writer, t Task) error {
		s := t.(*Stats)
		keys := make([]string, 0, len(s.Counters))
		for k := range s.Counters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.Uvarint(uint64(len(keys)))
		for _, k := range keys {
			w.String(k)
			w.Varint(s.Counters[k])
		}
		return nil
	},
	Decode: func(r *Reader, h Header) (Task, error) {
		s := &Stats{Header: h, Counters: make(map[string]int64)}
		for range r.Count() {
			k := r.String()
			s.Counters[k] = r.Varint()
		}
		return s, r.Err()
	},
}
