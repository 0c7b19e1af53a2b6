//go:build !amd64 || purego

package minhash

import "unsafe"

// ophVectorAvailable reports whether the OPH vector kernel exists: not in
// this build (not amd64, or the purego tag).
func ophVectorAvailable() bool { return false }

// ascii24Vector is never called in this build (ophVectorAvailable is
// false); it does no windows.
func ascii24Vector(unsafe.Pointer, int, *[4]uint64, unsafe.Pointer, uint64) int { return 0 }
