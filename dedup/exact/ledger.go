package exact

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/sluice-data/sluice/dedup/internal/flow"
	"github.com/sluice-data/sluice/dedup/ledger"
)

// paramsForHash are the parameters that decide which documents a run
// removes and what its ledger holds (the ledger's params_hash).
func paramsForHash(c Config) any {
	return struct {
		Dedup       string `json:"dedup"`
		Normalize   bool   `json:"normalize"`
		TextField   string `json:"text_field"`
		IDField     string `json:"id_field"`
		OnBadRecord string `json:"on_bad_record"`
		InputFormat string `json:"input_format"`
	}{ledger.DedupExact, c.Normalize, c.TextField, c.IDField, c.OnBadRecord, c.InputFormat}
}

// ledgerWriter writes one rank's ledger part: a row per duplicate of each
// group the rank owns. A nil *ledgerWriter writes nothing.
type ledgerWriter struct {
	cfg   LedgerConfig
	path  string
	files []flow.FileRange
	w     *ledger.Writer
	rows  []ledger.Row
}

func newLedgerWriter(cfg LedgerConfig, path string) (*ledgerWriter, error) {
	files, err := flow.ReadIDMap(cfg.IDMap, "")
	if err != nil {
		return nil, err
	}
	w, err := ledger.Create(path)
	if err != nil {
		return nil, err
	}
	return &ledgerWriter{cfg: cfg, path: path, files: files, w: w}, nil
}

// group writes the rows of one group: values are the shuffle's values of
// its documents (id, then the original id's JSON), ids ascending; the
// first is the document kept.
func (l *ledgerWriter) group(values [][]byte) error {
	if l == nil {
		return nil
	}
	keptID, keptOrig := splitValue(values[0])
	keptFile, keptRecord := flow.LocateID(l.files, keptID)
	l.rows = l.rows[:0]
	for _, v := range values[1:] {
		id, orig := splitValue(v)
		file, record := flow.LocateID(l.files, id)
		l.rows = append(l.rows, ledger.Row{OriginalID: orig, KeptOriginalID: keptOrig, GroupID: keptID, GroupSize: int64(len(values)),
			Similarity: 1, SimilarityMethod: ledger.SimilarityExact, Dedup: ledger.DedupExact, ParamsHash: l.cfg.ParamsHash,
			DedupID: id, KeptDedupID: keptID, File: file, Record: record, KeptFile: keptFile, KeptRecord: keptRecord})
	}
	if keptFile == "" {
		return fmt.Errorf("ledger: document %d is in no input file's id range", keptID)
	}
	return l.w.Write(l.rows...)
}

// splitValue parses a shuffle value: the dedup id and the original id in
// the ledger's text form (nil for none).
func splitValue(v []byte) (int64, *string) {
	id := int64(binary.BigEndian.Uint64(v))
	if len(v) == 8 {
		return id, nil
	}
	js := string(v[8:])
	return id, flow.IDText(&js)
}

func (l *ledgerWriter) close() error {
	if l == nil {
		return nil
	}
	return l.w.Close()
}

func (l *ledgerWriter) abort() {
	if l != nil {
		l.w.Abort()
	}
}

// originalIDs looks the original ids of the largest groups' members up in
// the top groups the ranks reported.
func originalIDs(top []topGroup) flow.OriginalIDs {
	ids := map[int64]json.RawMessage{}
	for _, g := range top {
		for i, m := range g.Members {
			if i < len(g.OriginalIDs) && string(g.OriginalIDs[i]) != "null" {
				ids[m] = g.OriginalIDs[i]
			}
		}
	}
	return func(id int64) (json.RawMessage, error) { return ids[id], nil }
}
