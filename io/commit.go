package dataio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// SuccessMarker is the file a finished run writes last into each output
// directory of a pipeline (the convention of Hadoop and Spark): a
// directory without it is incomplete, whatever files it holds. Sluice
// removes its own marker when a run starts writing into the directory, so
// an interrupted or failed run never leaves a directory that looks
// complete. On object stores, where nothing is renamed, this marker is
// what commits a dataset.
const SuccessMarker = "_SUCCESS"

// successInfo is the marker's content, which also proves that Sluice
// wrote it.
type successInfo struct {
	Writer     string    `json:"writer"` // "sluice"
	Run        string    `json:"run"`
	FinishedAt time.Time `json:"finished_at"`
}

// MarkComplete writes dir's SuccessMarker: call it once every writer of
// the run has committed its files, and only then.
func MarkComplete(ctx context.Context, dir string) error {
	info := successInfo{Writer: "sluice", FinishedAt: time.Now().UTC()}
	if b, err := ReadFile(ctx, JoinPath(dir, RecordsDir, "run.json")); err == nil {
		var ri runInfo
		if json.Unmarshal(b, &ri) == nil {
			info.Run = ri.Run
		}
	}
	b, _ := json.Marshal(info)
	if err := WriteFile(ctx, JoinPath(dir, SuccessMarker), append(b, '\n')); err != nil {
		return fmt.Errorf("output %s: write %s: %w", dir, SuccessMarker, err)
	}
	return nil
}

// clearSuccess removes dir's SuccessMarker if Sluice wrote it; it reports
// a marker someone else wrote (kept, never deleted).
func clearSuccess(ctx context.Context, dir string) (foreign bool, err error) {
	p := JoinPath(dir, SuccessMarker)
	b, err := ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var info successInfo
	if json.Unmarshal(b, &info) != nil || info.Writer != "sluice" {
		return true, nil
	}
	if err := Remove(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return false, nil
}
