package stage

import (
	"context"

	"github.com/sluice-data/sluice/task"
)

// ShuffleStage is a stage of kind Shuffle (or LSH). Its actors exchange rows
// by partition key in three phases:
//
//  1. Insert: batches of input tasks go to the actors through the pool,
//     load-balanced; each actor sends rows to the owners of their partitions
//     through its Worker.Shuffle endpoint.
//  2. InsertFinished: every actor flushes; this is a barrier.
//  3. ExtractAndWrite: every actor reads back the partitions it owns and
//     writes them; the outputs of all actors are concatenated.
type ShuffleStage interface {
	Stage
	// NumPartitions is the explicit number of output partitions, or 0 for the default.
	NumPartitions() int
	Insert(ctx context.Context, tasks []task.Task) error
	InsertFinished(ctx context.Context) error
	ExtractAndWrite(ctx context.Context) ([]task.Task, error)
}

// LSHStage is a shuffle stage that the executor runs in several passes, as
// fuzzy deduplication runs LSH once per range of bands: for each pass it
// starts fresh actors (Worker.Iteration set to the pass), re-reads the
// original inputs, and concatenates the outputs of all passes. What a pass
// means (which bands, which output directory) is the stage's own business:
// the actor works it out from its configuration and Worker.Iteration, so it
// needs nothing from the executor beyond the pass number.
type LSHStage interface {
	ShuffleStage
	// Iterations is the number of passes, at least 1.
	Iterations() int
	// IterationName describes pass i in logs and errors, such as "bands [0,5)".
	IterationName(i int) string
}

// ShuffleSender sends rows to the ranks that own their partitions.
type ShuffleSender interface {
	// Add sends a row to the partition chosen by hashing key.
	Add(ctx context.Context, key, value []byte) error
	// AddToPartition sends a row to an explicit partition.
	AddToPartition(ctx context.Context, partition int, key, value []byte) error
	// Flush sends everything buffered.
	Flush(ctx context.Context) error
}

// ShuffleStore holds the rows of the partitions one rank owns.
type ShuffleStore interface {
	OwnedPartitions() []int
	// Extract streams a partition's rows in (key, value) order.
	Extract(partition int, fn func(key, value []byte) error) error
	// ExtractGroups streams a partition's rows grouped by equal key.
	ExtractGroups(partition int, fn func(key []byte, values [][]byte) error) error
}

// ShuffleEndpoint is an actor's view of a shuffle: where to send rows, and
// the partitions it owns.
type ShuffleEndpoint struct {
	Rank, NumRanks, NumPartitions int
	Sender                        ShuffleSender
	Store                         ShuffleStore
}

// Composite is a stage that decomposes into execution stages. A pipeline
// expands composites before it runs.
type Composite interface {
	Name() string
	Decompose() ([]Stage, error)
}
