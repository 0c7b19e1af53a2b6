//go:build amd64 && !purego

package minhash

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// ophVectorAvailable reports whether ascii24AVX512 can run: it needs
// AVX-512 F (with OS support for the ZMM state, which x/sys/cpu checks),
// DQ (VPMULLQ) and VBMI (VPERMB).
func ophVectorAvailable() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VBMI
}

// ascii24Vector runs the AVX-512 kernel (oph_amd64.s) on as many groups of
// eight windows as it can read 32 bytes for, and returns how many windows
// it did; ascii24 does the rest. src holds n+23 readable bytes.
func ascii24Vector(src unsafe.Pointer, n int, key *[4]uint64, acc unsafe.Pointer, k uint64) int {
	// Group g loads bytes [8g, 8g+32): in bounds while 8g+31 ≤ n+22.
	groups := (n - 1) / 8
	if groups <= 0 {
		return 0
	}
	ascii24AVX512((*byte)(src), groups, key, (*uint32)(acc), k)
	return 8 * groups
}

//go:noescape
func ascii24AVX512(src *byte, groups int, key *[4]uint64, acc *uint32, k uint64)
