package fuzzy

import (
	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/stage"
)

// Register adds the fuzzy-dedup stage types to r, so that any process with
// the same registry can build them from a descriptor.
func Register(r *stage.Registry) error {
	types := []stage.Type{
		{Name: "fuzzy_minhash", Doc: "Reads a file group and writes MinHash signatures (Parquet + signature store).",
			Fields: []stage.Field{
				{Name: "cache_dir", Type: "string", Doc: "directory for minhash/ outputs (required)"},
				{Name: "text_field", Type: "string", Default: "text", Doc: "field holding the text"},
				{Name: "on_bad_record", Type: "string", Default: "fail", Doc: "fail | skip (skipped records go to a quarantine part)"},
				{Name: "char_ngrams", Type: "int", Default: "24", Doc: "shingle width in characters"},
				{Name: "num_perm", Type: "int", Default: "260", Doc: "permutations"},
				{Name: "seed", Type: "int", Default: "42", Doc: "seed of the permutation parameters"},
				{Name: "hash_bits", Type: "int", Default: "32", Doc: "32 or 64"},
				{Name: "batch_rows", Type: "int", Default: "reader default", Doc: "rows per read batch"},
				{Name: "normalize", Type: "bool", Default: "false", Doc: "shingle lower-cased text with punctuation and white space collapsed"},
				{Name: "store_shingles", Type: "bool", Default: "false", Doc: "also keep every document's shingle hashes, for exact verification (32-bit only)"},
				{Name: "id_field", Type: "string", Default: "none", Doc: "if set, every record must hold a non-empty string or a number in this field; others are bad records"},
				{Name: "id_single_line", Type: "bool", Default: "false", Doc: "with id_field, an id holding a line break is a bad record too"},
				{Name: "store_ids", Type: "string", Default: "none", Doc: "if set, keep every document's value of this id field in an id store (for the removal ledger); records without it have no id"},
			},
			New: func(config []byte) (stage.Stage, error) {
				var c MinHashConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewMinHashStage(c)
			}},
		{Name: "fuzzy_lsh", Doc: "LSH over signature files: buckets by band (shuffle), emits candidate edges per band range.",
			Fields: []stage.Field{
				{Name: "output_dir", Type: "string", Doc: "directory for band_s-band_e/ edge files (required)"},
				{Name: "num_bands", Type: "int", Doc: "bands"},
				{Name: "rows", Type: "int", Doc: "rows per band"},
				{Name: "bands_per_iteration", Type: "int", Default: "5", Doc: "bands per shuffle pass"},
				{Name: "num_perm", Type: "int", Doc: "signature length"},
				{Name: "hash_bits", Type: "int", Doc: "32 or 64"},
				{Name: "num_partitions", Type: "int", Default: "executor rule", Doc: "shuffle partitions"},
				{Name: "verify_threshold", Type: "float", Default: "0 (off)", Doc: "keep candidate pairs whose shingle Jaccard is ≥ this (exact with shingle stores, else estimated)"},
				{Name: "stores", Type: "list", Doc: "signature stores {path, base, count}, for verification"},
			},
			New: func(config []byte) (stage.Stage, error) {
				var c LSHConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewLSHStage(c)
			}},
		{Name: "fuzzy_components", Doc: "Connected components of the edge files as a collective group; writes components/ and duplicates/.",
			Fields: []stage.Field{
				{Name: "output_dir", Type: "string", Doc: "directory for components/ and duplicates/ (required)"},
				{Name: "top_groups", Type: "int", Default: "10", Doc: "largest groups to report"},
				{Name: "num_ids", Type: "int", Default: "0 (unknown)", Doc: "when positive, every node id is below it: ranks index nodes in an array"},
				{Name: "ledger", Type: "object", Default: "none", Doc: "if set ({id_map, stores, num_perm, hash_bits, params_hash}), each rank also writes ledger/part.<rank>.parquet, the removal ledger rows of the duplicates it owns"},
			},
			New: func(config []byte) (stage.Stage, error) {
				var c ComponentsConfig
				if err := stage.DecodeConfig(config, &c); err != nil {
					return nil, err
				}
				return NewComponentsStage(c)
			}},
		flow.RemoveType("fuzzy_remove"),
	}
	for _, t := range types {
		if err := r.Register(t); err != nil {
			return err
		}
	}
	return nil
}
