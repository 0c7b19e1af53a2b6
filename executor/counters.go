package executor

import (
	"fmt"
	"io"
	"sort"
)

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
