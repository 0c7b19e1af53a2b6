//go:build !linux

package local

import "time"

// threadCPU is not measured on this system: calls report no CPU time and the
// executor counts their wall time instead.
func threadCPU() (int64, bool) { return 0, false }

func peakRSS() int64 { return 0 }

func timeNS(ns int64) time.Duration { return time.Duration(ns) }
