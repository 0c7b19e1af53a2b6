// Package shuffle exchanges rows between the ranks of a shuffle stage and
// hands each rank its partitions back sorted, with memory bounded by
// spilling to local disk.
//
// A shuffle has NumPartitions partitions; PartitionOf maps a key to one and
// Owner maps a partition to the rank that holds it (round-robin). Each rank
// runs:
//
//   - an Engine, which receives the rows of the partitions it owns (Insert,
//     or InsertBatch for a Batch received from a peer), buffers them in
//     arenas up to Options.MemoryLimit and spills sorted runs to disk;
//   - one or more Senders, which route rows to their owners and ship them as
//     Batches through a Transport (LocalTransport for ranks in one process;
//     a network transport sends Batch.Bytes and the receiver calls
//     Batch.SetBytes then Engine.InsertBatch).
//
// When every sender has flushed, each engine calls Finish (the
// insertFinished barrier) and then streams its partitions one at a time
// with Extract or ExtractGroups. Rows come out in (key, value) byte order,
// identical for every memory limit, so downstream stages are deterministic.
//
// Fuzzy-dedup LSH is the main user: rows are (band index + 128-bit band
// hash, document id) and ExtractGroups yields each bucket's documents.
//
//	engines := make([]*shuffle.Engine, numRanks) // one per rank
//	...
//	s := shuffle.NewSender(rank, numRanks, numPartitions, shuffle.NewLocalTransport(engines), 1<<20)
//	for each row { if err := s.Add(ctx, key, docID); err != nil { ... } }
//	if err := s.Flush(ctx); err != nil { ... }
//	// after all senders have flushed:
//	e.Finish()
//	for _, p := range e.OwnedPartitions() {
//		e.ExtractGroups(p, func(key []byte, docs [][]byte) error { ... })
//	}
//	e.Close()
package shuffle
