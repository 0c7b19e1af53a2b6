// Package ledger is the removal ledger of Sluice's deduplication workflows:
// one Parquet row per removed document, naming the document kept in its
// place, how similar the two are (and whether that figure is exact or
// estimated), and the parameters that decided it.
//
// A workflow writes its ledger as OUTPUT/ledger/part.N.parquet (any number
// of parts, each written by one writer; rows need no global order). Fuzzy
// dedup (dedup/fuzzy) writes similarity estimated from MinHash signatures,
// or the exact shingle Jaccard with --verify-threshold; exact dedup writes
// similarity 1 with method "exact". `sluice explain` and the reports read
// it back with Scan and Find. See docs/fuzzy-dedup.md for the schema.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
)

// Dir is the ledger's directory inside a workflow's output.
const Dir = "ledger"

// Values of Row.SimilarityMethod.
const (
	// SimilarityExact: the exact similarity of the two documents (fuzzy
	// dedup with --verify-threshold: the Jaccard of their shingle-hash
	// sets; exact dedup: 1, the texts hash alike).
	SimilarityExact = "exact"
	// SimilarityEstimated: estimated from the two MinHash signatures (the
	// fraction of equal values).
	SimilarityEstimated = "estimated"
)

// Values of Row.Dedup: the workflow that removed the document.
const (
	DedupFuzzy = "fuzzy"
	DedupExact = "exact"
)

// Row is one removed document. Column names are the Parquet tags.
type Row struct {
	// OriginalID is the document's own id (the --id-field value) as text:
	// a JSON string without its quotes, a number as written, any other
	// JSON value as its JSON text; null when the record has none.
	OriginalID *string `parquet:"original_id,optional"`
	// KeptOriginalID is the same for the document kept for the group.
	KeptOriginalID *string `parquet:"kept_original_id,optional"`
	// GroupID names the group of duplicates (for fuzzy dedup the kept
	// document's dedup id); GroupSize counts its documents, kept included.
	GroupID   int64 `parquet:"group_id"`
	GroupSize int64 `parquet:"group_size"`
	// Similarity of the document to the kept one, in [0, 1], and how it
	// was obtained (SimilarityExact or SimilarityEstimated).
	Similarity       float64 `parquet:"similarity"`
	SimilarityMethod string  `parquet:"similarity_method,dict"`
	// Dedup is the workflow that removed the document (DedupFuzzy or
	// DedupExact).
	Dedup string `parquet:"dedup,dict"`
	// ParamsHash identifies the parameters that decided the removal
	// (see ParamsHash); summary.json records the same value.
	ParamsHash string `parquet:"params_hash,dict"`
	// DedupID and KeptDedupID are the workflow's internal ids (see
	// id_map.json); File and Record (1-based: a JSONL file's n-th
	// non-blank line, a Parquet row) say where each document is.
	DedupID     int64  `parquet:"dedup_id"`
	KeptDedupID int64  `parquet:"kept_dedup_id"`
	File        string `parquet:"file,dict"`
	Record      int64  `parquet:"record"`
	KeptFile    string `parquet:"kept_file,dict"`
	KeptRecord  int64  `parquet:"kept_record"`
}

// Columns lists the ledger's columns in file order.
var Columns = []string{"original_id", "kept_original_id", "group_id", "group_size", "similarity", "similarity_method",
	"dedup", "params_hash", "dedup_id", "kept_dedup_id", "file", "record", "kept_file", "kept_record"}

// PartName is the file name of ledger part n: "part.N.parquet".
func PartName(n int) string { return "part." + strconv.Itoa(n) + ".parquet" }

// Parts lists the ledger parts in dir (a workflow's output or its ledger
// directory), in part order: the files named part.N.parquet (others,
// such as a file a user put there, are not the ledger's). A directory
// without a ledger is an error wrapping os.ErrNotExist.
func Parts(dir string) ([]string, error) {
	ctx := context.Background()
	if dataio.BaseOf(dir) != Dir {
		if fi, err := dataio.Stat(ctx, dataio.JoinPath(dir, Dir)); err == nil && fi.IsDir {
			dir = dataio.JoinPath(dir, Dir)
		}
	}
	entries, err := dataio.ReadDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	type part struct {
		n    int
		path string
	}
	var parts []part
	for _, e := range entries {
		name := e.Name
		if e.IsDir || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || !strings.HasSuffix(name, ".parquet") {
			continue
		}
		s, ok := strings.CutPrefix(strings.TrimSuffix(name, ".parquet"), "part.")
		n, err := strconv.Atoi(s)
		if !ok || err != nil || n < 0 {
			continue
		}
		parts = append(parts, part{n, dataio.JoinPath(dir, name)})
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("ledger: no ledger parts (part.N.parquet) in %s: %w", dir, os.ErrNotExist)
	}
	slices.SortFunc(parts, func(a, b part) int { return a.n - b.n })
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.path
	}
	return out, nil
}

// ParamsHash is "sha256:" and the first 16 hex digits of the SHA-256 of
// params' JSON encoding. Callers pass the parameters that decide which
// documents are removed (not those, like worker counts, that only change
// speed), so that two ledgers with the same hash were made the same way.
func ParamsHash(params any) string {
	b, err := json.Marshal(params)
	if err != nil {
		b = []byte(fmt.Sprintf("%#v", params))
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// IDText converts an id as the JSONL reader keeps it (raw JSON) to the
// ledger's text form: a JSON string without quotes, a number as written,
// other JSON as is. A missing or null id gives nil.
func IDText(raw string) *string {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "null" {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal([]byte(raw), &s); err == nil {
			return &s
		}
	}
	return &raw
}

// Str is a helper for optional strings: p's value, or "" for nil.
func Str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
