// Package collective implements group communication (barrier, broadcast,
// all-gather, all-to-all and all-reduce) for the ranks of a collective stage.
//
// A collective stage is a fixed group of Size() workers, numbered 0..Size()-1,
// that cooperate on one job, the CPU counterpart of a RAFT/NCCL clique in
// NeMo Curator. The algorithms are written once, in [Comm], on top of a small
// point-to-point [Transport]. A transport only has to deliver tagged byte
// messages between two ranks, in order per (sender, tag); the in-process
// [LocalHub] does that with goroutines and queues, and a networked transport
// (for example over NATS) can be plugged in without touching the algorithms.
//
// A typical run: the runtime creates a group id with [NewGroupID], hands it to
// every worker of the stage together with its rank, and each worker does
//
//	t, err := hub.Join(groupID, rank, size)
//	...
//	defer t.Close()
//	comm := collective.New(t)
//	sums, err := comm.AllReduceInt64(ctx, collective.Sum, []int64{localCount})
//
// Every rank must call the collectives of a Comm in the same order with
// compatible arguments; see [Comm] for the exact contract.
package collective
