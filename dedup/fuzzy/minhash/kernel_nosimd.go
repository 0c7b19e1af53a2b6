//go:build !(goexperiment.simd && amd64)

package minhash

// simdAvailable reports whether minUpdate32SIMD can run; without
// GOEXPERIMENT=simd on amd64 it never can.
func simdAvailable() bool { return false }

// minUpdate32SIMD falls back to the scalar kernel in builds without SIMD
// support, so that callers and tests need no build tags.
func minUpdate32SIMD(acc, a, b, hs []uint32) { minUpdate32Scalar(acc, a, b, hs) }
