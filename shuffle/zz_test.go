package shuffle

import (
	"fmt"
	"slices"
	"testing"
)

func TestZZSortTiming(t *testing.T) {
	const n = 2_000_000
	buf := newRowBuffer(64, 0)
	g := lshRows{state: 88172645463325252}
	for i := range uint64(n) {
		g.next(i)
		buf.add(PartitionOf(g.key[:], 64), g.key[:], g.value[:], false)
	}
	saved := make([]byte, 0, n*buf.rec.width)
	for i := range n {
		saved = append(saved, buf.rec.rec(i)...)
	}
	for range 3 {
		for i := range n {
			copy(buf.rec.rec(i), saved[i*buf.rec.width:])
		}
		c := cpuSeconds()
		buf.sort()
		d := cpuSeconds() - c
		u := make([]uint64, n)
		for i := range u {
			u[i] = uint64(i) * 0x9E3779B97F4A7C15
		}
		c = cpuSeconds()
		slices.Sort(u)
		d2 := cpuSeconds() - c
		fmt.Printf("radix records: %.0f ns/row cpu; slices.Sort uint64: %.0f ns/row cpu\n", d/n*1e9, d2/n*1e9)
	}
}
