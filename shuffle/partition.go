package shuffle

import "github.com/zeebo/xxh3"

// PartitionOf maps key to a partition in [0, numPartitions) by hashing it
// with 64-bit XXH3 (seed 0) and reducing modulo numPartitions. It is
// deterministic across processes, machines and releases, so every rank
// routes a key to the same partition. It panics if numPartitions < 1.
func PartitionOf(key []byte, numPartitions int) int {
	if numPartitions < 1 {
		panic("shuffle: PartitionOf: numPartitions must be >= 1")
	}
	return int(xxh3.Hash(key) % uint64(numPartitions))
}

// Owner returns the rank that owns partition when there are numRanks
// ranks. Ownership is round-robin: partition % numRanks. It panics if
// numRanks < 1.
func Owner(partition, numRanks int) int {
	if numRanks < 1 {
		panic("shuffle: Owner: numRanks must be >= 1")
	}
	return partition % numRanks
}
