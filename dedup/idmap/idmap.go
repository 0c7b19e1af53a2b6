// Package idmap reads the documents of a finished deduplication run again,
// through its id_map.json (OUTPUT/id_map.json: every input file with its
// range of dedup ids), for `sluice explain`. It serves the runs of both
// dedup/fuzzy and dedup/exact, which share the id map's layout.
package idmap

import (
	"context"

	"github.com/sluice-data/sluice/dedup/internal/flow"
)

// ReadDocuments returns the texts of the documents with the given dedup
// ids: the input files as the run read them, relative paths taken relative
// to workDir (the run's working directory, summary.json's work_dir; "" for
// the current one). A record that cannot be read as a document (a bad
// record) is missing from the map; an id no file's range holds is an error.
func ReadDocuments(ctx context.Context, idMapPath, workDir, textField string, ids []int64) (map[int64]string, error) {
	files, err := flow.ReadIDMap(idMapPath, workDir)
	if err != nil {
		return nil, err
	}
	return flow.ReadTexts(ctx, files, textField, ids)
}

// FindOriginalID searches the run's input files for a record whose
// idField value, in the ledger's text form, is id. It returns the file and
// the 1-based record number of the first match, or "" when none has it.
func FindOriginalID(ctx context.Context, idMapPath, workDir, textField, idField, id string) (file string, record int64, err error) {
	files, err := flow.ReadIDMap(idMapPath, workDir)
	if err != nil {
		return "", 0, err
	}
	return flow.FindOriginalID(ctx, files, textField, idField, id)
}
