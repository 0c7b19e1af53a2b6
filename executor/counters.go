package executor

import (
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/sluice-data/sluice/task"
)

// counters sums the counters of the task.Stats sentinels a stage's calls
// return (for example documents dropped per filter rule).
type counters struct {
	mu sync.Mutex
	m  map[string]int64
}

// add adds the counters of the Stats tasks among ts.
func (c *counters) add(ts []task.Task) {
	for _, t := range ts {
		s, ok := t.(*task.Stats)
		if !ok || len(s.Counters) == 0 {
			continue
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = make(map[string]int64)
		}
		for k, v := range s.Counters {
			c.m[k] += v
		}
		c.mu.Unlock()
	}
}

// snapshot returns a copy of the sums, or nil when there are none.
func (c *counters) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// writeCounters prints each stage's counters, one per line, sorted by name.
func writeCounters(w io.Writer, stages []StageReport) error {
	for _, s := range stages {
		keys := make([]string, 0, len(s.Counters))
		for k := range s.Counters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, err := fmt.Fprintf(w, "%s: %s = %d\n", s.Name, k, s.Counters[k]); err != nil {
				return err
			}
		}
	}
	return nil
}
