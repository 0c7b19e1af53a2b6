//go:build !amd64 || purego

package minhash

// simd64Available reports whether minUpdate64SIMD runs a vector kernel; in
// this build it never does.
func simd64Available() bool { return false }

// minUpdate64SIMD is minUpdate64 in builds without a vector kernel.
func minUpdate64SIMD(acc, a, b, hs []uint64) { minUpdate64(acc, a, b, hs) }
