package minhash

import (
	"runtime"
	"syscall"
	"time"
)

// threadCPU returns the CPU time consumed so far by the calling OS thread.
// Benchmarks lock their goroutine to a thread and report throughput per
// CPU-second next to the wall-clock figure, because on a shared machine the
// wall clock also counts time spent waiting for a core.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

func lockThread()   { runtime.LockOSThread() }
func unlockThread() { runtime.UnlockOSThread() }
