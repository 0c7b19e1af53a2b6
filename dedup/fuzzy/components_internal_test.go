package fuzzy

import (
	"testing"

	"github.com/sluice-data/sluice/task"
)

// TestUseDenseGraph: the array-backed graph is chosen only when its 4 bytes
// per id cost no more than a hash table over the nodes this rank's edges
// can name, and never without edge counts or beyond int32 indexes.
func TestUseDenseGraph(t *testing.T) {
	withEdges := func(counts ...string) []task.Task {
		var ts []task.Task
		for _, c := range counts {
			fg := task.NewFileGroup("", []string{"edges.parquet"})
			if c != "" {
				fg.Meta()[metaEdges] = c
			}
			ts = append(ts, fg)
		}
		return ts
	}
	cases := []struct {
		numIDs int64
		ts     []task.Task
		want   bool
	}{
		{1000, withEdges("100"), true},            // 4,000 bytes against 60 × 200
		{1000, withEdges("10"), false},            // 4,000 against 60 × 20
		{1000, withEdges("20", "20"), true},       // counts add up: 60 × 80
		{1000, withEdges("100", ""), false},       // an edge count missing
		{0, withEdges("100"), false},              // no id range known
		{1 << 31, withEdges("1000000000"), false}, // ids beyond int32
	}
	for i, c := range cases {
		if got := useDenseGraph(c.numIDs, c.ts); got != c.want {
			t.Errorf("case %d: useDenseGraph(%d, …) = %v, want %v", i, c.numIDs, got, c.want)
		}
	}
}
