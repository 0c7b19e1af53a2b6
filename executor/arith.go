package executor

import (
	"fmt"
	"math"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// ActorCount is the number of actors a stage gets in stage-by-stage mode:
// the smallest of ⌈tasks/batch⌉, ⌊freeCPUs/cpus⌋ and ⌊freeGPUs/gpus⌋ (a zero
// request means no limit), and at least 1. A positive numWorkers overrides
// the count but is capped to what fits; warn is then non-empty.
func ActorCount(tasks, batch int, freeCPUs, freeGPUs float64, cpus, gpus float64, numWorkers int) (n int, warn string, err error) {
	if batch <= 0 {
		batch = 1
	}
	fit := math.MaxInt
	if cpus > 0 {
		fit = min(fit, int(math.Floor(freeCPUs/cpus+1e-9)))
	}
	if gpus > 0 {
		fit = min(fit, int(math.Floor(freeGPUs/gpus+1e-9)))
	}
	if fit <= 0 {
		return 0, "", fmt.Errorf("no actor fits: each needs %g CPUs and %g GPUs, but %g CPUs and %g GPUs are free", cpus, gpus, freeCPUs, freeGPUs)
	}
	if numWorkers > 0 {
		if numWorkers > fit {
			return fit, fmt.Sprintf("num_workers=%d capped to %d, what the free resources fit", numWorkers, fit), nil
		}
		return numWorkers, "", nil
	}
	byTasks := (tasks + batch - 1) / batch
	return max(1, min(byTasks, fit)), "", nil
}

// Batches slices tasks into consecutive batches of size (the last may be shorter).
func Batches(tasks []task.Task, size int) [][]task.Task {
	if size <= 0 {
		size = 1
	}
	var out [][]task.Task
	for i := 0; i < len(tasks); i += size {
		out = append(out, tasks[i:min(i+size, len(tasks))])
	}
	return out
}

// ArraySplit splits tasks into n contiguous chunks with numpy array_split
// semantics (the first len%n chunks are one longer) and drops empty chunks.
func ArraySplit(tasks []task.Task, n int) [][]task.Task {
	if n <= 0 {
		n = 1
	}
	q, r := len(tasks)/n, len(tasks)%n
	out := make([][]task.Task, 0, n)
	start := 0
	for i := range n {
		size := q
		if i < r {
			size++
		}
		if size > 0 {
			out = append(out, tasks[start:start+size])
		}
		start += size
	}
	return out
}

// NumPartitions is the number of output partitions of a shuffle: the
// explicit value if set; for LSH, the largest power of two ≤ the number of
// input tasks; otherwise the number of input tasks. It is at least 1.
func NumPartitions(explicit int, kind stage.Kind, tasks int) int {
	if explicit > 0 {
		return explicit
	}
	if tasks < 1 {
		return 1
	}
	if kind == stage.LSH {
		p := 1
		for p*2 <= tasks {
			p *= 2
		}
		return p
	}
	return tasks
}
