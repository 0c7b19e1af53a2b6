package exact

import (
	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/stage"
)

// Register adds the exact-dedup stage types to r (exact_hash and
// exact_remove), so that any process with the same registry can build them
// from a descriptor.
func Register(r *stage.Registry) error {
	types := []stage.Type{
		{Name: "exact_hash", Doc: "Shuffle stage: hashes each document's text (MD5) and groups equal hashes; writes the removal ids (all but the smallest id of each group).",
			Fields: []stage.Field{
				{Name: "output_dir", Type: "string", Doc: "directory for duplicates/ and quarantine/ (required)"},
				{Name: "text_field", Type: "string", Default: "text", Doc: "field holding the text"},
				{Name: "on_bad_record", Type: "string", Default: "fail", Doc: "fail | skip (skipped records go to a quarantine part)"},
				{Name: "normalize", Type: "bool", Default: "false", Doc: "hash lower-cased text with punctuation and white space collapsed"},
				{Name: "id_field", Type: "string", Default: "none", Doc: "if set, every record must hold a non-empty string or a number in this field; others are bad records"},
				{Name: "id_single_line", Type: "bool", Default: "false", Doc: "with id_field, an id holding a line break is a bad record too"},
				{Name: "batch_rows", Type: "int", Default: "reader default", Doc: "rows per read batch (Parquet)"},
				{Name: "num_partitions", Type: "int", Default: "executor rule", Doc: "shuffle partitions"},
				{Name: "top_groups", Type: "int", Default: "10", Doc: "largest groups to report"},
				{Name: "ledger", Type: "object", Default: "none", Doc: "if set ({id_map, id_field, params_hash}), original ids travel with the hashes and each rank also writes ledger/part.<rank>.parquet, the removal ledger rows of the duplicates it owns"},
			},
			New: func(config []byte) (stage.Stage, error) {
				var c HashConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewHashStage(c)
			}},
		flow.RemoveType("exact_remove"),
	}
	for _, t := range types {
		if err := r.Register(t); err != nil {
			return err
		}
	}
	return nil
}
