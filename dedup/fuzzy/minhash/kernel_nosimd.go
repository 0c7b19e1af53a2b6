//go:build !amd64 || purego

package minhash

// simdAvailable reports whether minUpdate32SIMD can run; in this build (not
// amd64, or amd64 with the purego tag) it never can.
func simdAvailable() bool { return false }

// minUpdate32SIMD falls back to the scalar kernel in builds without SIMD
// support, so that callers and tests need no build tags.
func minUpdate32SIMD(acc, a, b, hs []uint32) { minUpdate32Scalar(acc, a, b, hs) }
