package shuffle

import "slices"

// insertionSortMax is the bucket size below which the radix sort switches
// to insertion sort.
const insertionSortMax = 24

// sort orders the buffered entries by (local partition, key, value) with an
// in-place most-significant-digit radix sort (American flag sort) over the
// radix key "local partition bytes, then the 8 key-prefix bytes". Buckets
// that stay large once the prefix is exhausted (keys sharing their first 8
// bytes) fall back to pattern-defeating quicksort on the full comparison.
// It needs no extra memory beyond a few KiB of stack.
func (m *memBuffer) sort(numLocal int) {
	partBytes := 0
	for n := numLocal - 1; n > 0; n >>= 8 {
		partBytes++
	}
	m.radixSort(m.entries, 0, partBytes)
}

// digit returns byte number level of e's radix key.
func digit(e entry, level, partBytes int) int {
	if level < partBytes {
		return int(e.ref>>(addrBits+8*uint(partBytes-1-level))) & 0xff
	}
	return int(e.prefix>>(56-8*uint(level-partBytes))) & 0xff
}

func (m *memBuffer) radixSort(es []entry, level, partBytes int) {
	var count, next, end [256]int
	for {
		if len(es) <= insertionSortMax {
			m.insertionSort(es)
			return
		}
		if level == partBytes+8 { // one partition, one prefix
			m.sink ^= m.touch(es)
			slices.SortFunc(es, m.compare)
			return
		}
		count = [256]int{}
		for _, e := range es {
			count[digit(e, level, partBytes)]++
		}
		if count[digit(es[0], level, partBytes)] == len(es) {
			level++ // one bucket: nothing to permute at this level
			continue
		}
		break
	}
	sum := 0
	for b := range 256 {
		next[b] = sum
		sum += count[b]
		end[b] = sum
	}
	for b := range 256 {
		for i := next[b]; i < end[b]; i = next[b] {
			d := digit(es[i], level, partBytes)
			if d == b {
				next[b]++
				continue
			}
			j := next[d]
			es[i], es[j] = es[j], es[i]
			next[d]++
		}
	}
	start := 0
	for b := range 256 {
		switch n := count[b]; {
		case n > insertionSortMax:
			m.radixSort(es[start:start+n], level+1, partBytes)
		case n > 1: // small bucket: skip the call and its 6 KiB of counters
			m.insertionSort(es[start : start+n])
		}
		start += count[b]
	}
}

// insertionSort sorts a small bucket by (partition, prefix), which needs
// no arena access, then sorts each run of equal (partition, prefix) by the
// full comparison, touching its rows first (see touch).
func (m *memBuffer) insertionSort(es []entry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && radixLess(es[j], es[j-1]); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].prefix == es[i].prefix && es[j].ref>>addrBits == es[i].ref>>addrBits {
			j++
		}
		if j-i > 1 {
			tie := es[i:j]
			m.sink ^= m.touch(tie)
			for a := 1; a < len(tie); a++ {
				for b := a; b > 0 && m.compare(tie[b], tie[b-1]) < 0; b-- {
					tie[b], tie[b-1] = tie[b-1], tie[b]
				}
			}
		}
		i = j
	}
}

// radixLess orders entries by (local partition, key prefix) only.
func radixLess(a, b entry) bool {
	if a.ref>>addrBits != b.ref>>addrBits {
		return a.ref>>addrBits < b.ref>>addrBits
	}
	return a.prefix < b.prefix
}
