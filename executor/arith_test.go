package executor_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

func TestActorCount(t *testing.T) {
	tests := []struct {
		name                 string
		tasks, batch         int
		freeCPUs, freeGPUs   float64
		cpus, gpus           float64
		numWorkers           int
		want                 int
		wantWarn, wantErrMsg string
	}{
		{name: "tasks over batch, ceil", tasks: 10, batch: 3, freeCPUs: 64, cpus: 1, want: 4},
		{name: "tasks exactly divide", tasks: 9, batch: 3, freeCPUs: 64, cpus: 1, want: 3},
		{name: "zero batch means one", tasks: 5, batch: 0, freeCPUs: 64, cpus: 1, want: 5},
		{name: "cpu floor", tasks: 100, batch: 1, freeCPUs: 7, cpus: 2, want: 3},
		{name: "fractional cpus", tasks: 100, batch: 1, freeCPUs: 1, cpus: 0.25, want: 4},
		{name: "fraction that is inexact in binary", tasks: 100, batch: 1, freeCPUs: 0.3, cpus: 0.1, want: 3},
		{name: "gpu floor", tasks: 100, batch: 1, freeCPUs: 64, freeGPUs: 3, cpus: 1, gpus: 2, want: 1},
		{name: "fractional gpus", tasks: 100, batch: 1, freeCPUs: 64, freeGPUs: 2, cpus: 1, gpus: 0.5, want: 4},
		{name: "gpu limits before cpu", tasks: 100, batch: 1, freeCPUs: 64, freeGPUs: 1, cpus: 1, gpus: 0.25, want: 4},
		{name: "cpu limits before gpu", tasks: 100, batch: 1, freeCPUs: 3, freeGPUs: 8, cpus: 1, gpus: 1, want: 3},
		{name: "zero gpus is no gpu limit", tasks: 100, batch: 1, freeCPUs: 6, freeGPUs: 0, cpus: 2, gpus: 0, want: 3},
		{name: "zero requests are no limit", tasks: 100, batch: 10, freeCPUs: 0, freeGPUs: 0, want: 10},
		{name: "no tasks still one actor", tasks: 0, batch: 4, freeCPUs: 8, cpus: 1, want: 1},
		{name: "num_workers overrides tasks", tasks: 1, batch: 1, freeCPUs: 8, cpus: 1, numWorkers: 5, want: 5},
		{name: "num_workers capped", tasks: 100, batch: 1, freeCPUs: 4, cpus: 1, numWorkers: 6, want: 4, wantWarn: "num_workers=6 capped to 4"},
		{name: "num_workers capped by gpus", tasks: 100, batch: 1, freeCPUs: 64, freeGPUs: 2, cpus: 1, gpus: 1, numWorkers: 3, want: 2, wantWarn: "capped to 2"},
		{name: "nothing fits cpus", tasks: 10, batch: 1, freeCPUs: 2, cpus: 4, wantErrMsg: "4 CPUs"},
		{name: "nothing fits gpus", tasks: 10, batch: 1, freeCPUs: 8, freeGPUs: 0, cpus: 1, gpus: 1, wantErrMsg: "1 GPUs"},
		{name: "nothing fits despite num_workers", tasks: 10, batch: 1, freeCPUs: 1, cpus: 2, numWorkers: 1, wantErrMsg: "no actor fits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, warn, err := executor.ActorCount(tt.tasks, tt.batch, tt.freeCPUs, tt.freeGPUs, tt.cpus, tt.gpus, tt.numWorkers)
			if tt.wantErrMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrMsg) {
					t.Fatalf("ActorCount = %d, %q, %v; want error containing %q", n, warn, err, tt.wantErrMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ActorCount: %v", err)
			}
			if n != tt.want {
				t.Errorf("ActorCount = %d, want %d", n, tt.want)
			}
			if tt.wantWarn == "" && warn != "" || tt.wantWarn != "" && !strings.Contains(warn, tt.wantWarn) {
				t.Errorf("warning = %q, want %q", warn, tt.wantWarn)
			}
		})
	}
}

// arithTasks returns n tasks with ids "0" .. "n-1".
func arithTasks(n int) []task.Task {
	ts := make([]task.Task, n)
	for i := range ts {
		b := task.NewDocumentBatch("ds", "text", nil)
		b.TaskID = strconv.Itoa(i)
		ts[i] = b
	}
	return ts
}

// arithShape returns the ids of each chunk, "0,1|2".
func arithShape(chunks [][]task.Task) string {
	parts := make([]string, len(chunks))
	for i, c := range chunks {
		ids := make([]string, len(c))
		for j, x := range c {
			ids[j] = x.ID()
		}
		parts[i] = strings.Join(ids, ",")
	}
	return strings.Join(parts, "|")
}

func TestBatches(t *testing.T) {
	tests := []struct {
		n, size int
		want    string
	}{
		{0, 3, ""},
		{1, 3, "0"},
		{7, 3, "0,1,2|3,4,5|6"},
		{6, 3, "0,1,2|3,4,5"},
		{3, 0, "0|1|2"},
		{3, -1, "0|1|2"},
		{3, 10, "0,1,2"},
	}
	for _, tt := range tests {
		got := executor.Batches(arithTasks(tt.n), tt.size)
		if s := arithShape(got); s != tt.want {
			t.Errorf("Batches(%d tasks, %d) = %q, want %q", tt.n, tt.size, s, tt.want)
		}
		if tt.n == 0 && len(got) != 0 {
			t.Errorf("Batches(none) returned %d batches", len(got))
		}
	}
}

func TestArraySplit(t *testing.T) {
	// Expected shapes follow numpy.array_split, with empty chunks dropped:
	// np.array_split(range(10), 4) -> sizes 3,3,2,2; range(2) into 4 -> 1,1,0,0.
	tests := []struct {
		n, parts int
		sizes    []int
		want     string
	}{
		{10, 4, []int{3, 3, 2, 2}, "0,1,2|3,4,5|6,7|8,9"},
		{2, 4, []int{1, 1}, "0|1"},
		{8, 4, []int{2, 2, 2, 2}, "0,1|2,3|4,5|6,7"},
		{7, 3, []int{3, 2, 2}, "0,1,2|3,4|5,6"},
		{5, 1, []int{5}, "0,1,2,3,4"},
		{3, 0, []int{3}, "0,1,2"},
		{0, 3, nil, ""},
	}
	for _, tt := range tests {
		got := executor.ArraySplit(arithTasks(tt.n), tt.parts)
		var sizes []int
		for _, c := range got {
			sizes = append(sizes, len(c))
		}
		if !slices.Equal(sizes, tt.sizes) || arithShape(got) != tt.want {
			t.Errorf("ArraySplit(%d tasks, %d) = %v %q, want %v %q", tt.n, tt.parts, sizes, arithShape(got), tt.sizes, tt.want)
		}
	}
}

func TestNumPartitions(t *testing.T) {
	tests := []struct {
		explicit int
		kind     stage.Kind
		tasks    int
		want     int
	}{
		{explicit: 16, kind: stage.Shuffle, tasks: 3, want: 16},
		{explicit: 16, kind: stage.LSH, tasks: 100, want: 16},
		{explicit: 3, kind: stage.LSH, tasks: 100, want: 3},
		{kind: stage.Shuffle, tasks: 7, want: 7},
		{kind: stage.Shuffle, tasks: 1, want: 1},
		{kind: stage.Shuffle, tasks: 0, want: 1},
		{kind: stage.LSH, tasks: 1, want: 1},
		{kind: stage.LSH, tasks: 2, want: 2},
		{kind: stage.LSH, tasks: 3, want: 2},
		{kind: stage.LSH, tasks: 8, want: 8},
		{kind: stage.LSH, tasks: 1000, want: 512},
		{kind: stage.LSH, tasks: 1024, want: 1024},
		{kind: stage.LSH, tasks: 0, want: 1},
		{explicit: -2, kind: stage.LSH, tasks: 5, want: 4},
	}
	for _, tt := range tests {
		if got := executor.NumPartitions(tt.explicit, tt.kind, tt.tasks); got != tt.want {
			t.Errorf("NumPartitions(%d, %s, %d) = %d, want %d", tt.explicit, tt.kind, tt.tasks, got, tt.want)
		}
	}
}
