package fuzzy

import "github.com/sluice-data/sluice/dedup/internal/flow"

// RemoveConfig configures the removal stage (fuzzy_remove), which both
// deduplication workflows share.
type RemoveConfig = flow.RemoveConfig

// RemoveStage copies each input file to the output, leaving out the
// documents whose ids are in the removal list. JSONL lines are copied byte
// for byte; Parquet files keep their schema.
type RemoveStage = flow.RemoveStage

// NewRemoveStage returns the removal stage as fuzzy_remove.
func NewRemoveStage(cfg RemoveConfig) (*RemoveStage, error) {
	return flow.NewRemoveStage("fuzzy_remove", cfg)
}
