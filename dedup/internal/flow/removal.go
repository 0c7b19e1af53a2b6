package flow

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-data/sluice/executor"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/task"
)

// RemoveType returns the stage type of the removal stage, registered as
// name (fuzzy_remove, exact_remove).
func RemoveType(name string) stage.Type {
	return stage.Type{Name: name, Doc: "Copies input files to the output without the documents in the removal list.",
		Fields: []stage.Field{
			{Name: "output_dir", Type: "string", Doc: "where deduplicated files go (required)"},
			{Name: "output_root", Type: "string", Default: "output_dir", Doc: "the prepared output directory (output_dir or a parent) whose records list the written files"},
			{Name: "output_mode", Type: "string", Default: "error", Doc: "the output's mode: error, overwrite or append (docs/safety.md)"},
			{Name: "input_root", Type: "string", Doc: "inputs' common root; output paths mirror paths relative to it"},
			{Name: "duplicates", Type: "list", Doc: "id-list Parquet files of ids to remove"},
			{Name: "removed_ids_dir", Type: "string", Doc: "if set, writes the removed documents' own ids here, part-<group>.jsonl, one JSON value per line"},
			{Name: "id_field", Type: "string", Default: "id", Doc: "the input's id field"},
			{Name: "text_field", Type: "string", Default: "text", Doc: "field holding the text"},
		},
		New: func(config []byte) (stage.Stage, error) {
			var c RemoveConfig
			if err := stage.DecodeConfig(config, &c); err != nil {
				return nil, err
			}
			return NewRemoveStage(name, c)
		}}
}

// Removal is what the removal phase works from.
type Removal struct {
	// Type is the registered type of the removal stage.
	Type string
	// Files are the input files and NumGroups the number of their groups;
	// IDTasks the ids phase's tasks.
	Files     []string
	NumGroups int
	IDTasks   []task.Task
	// Duplicates are the id-list files of the ids to remove, and
	// DuplicateCount the ids they hold; Records counts every input record.
	Duplicates     []string
	DuplicateCount int64
	Records        int64
	// RemovedDir is a directory inside the cache entry for the per-group
	// lists of removed ids (with --removed-ids-out).
	RemovedDir string
	// Dst is the prepared output.
	Dst *dataio.Output
}

// RemovalResult is what the removal phase did.
type RemovalResult struct {
	// Phase is nil when the phase did not run (--no-remove without
	// --removed-ids-out).
	Phase *PhaseSummary
	// RecordsWritten counts the records in the written files, on disk.
	RecordsWritten int64
	// OutputDir is the deduplicated dataset's directory ("" with
	// --no-remove), Written its files.
	OutputDir string
	Written   []string
	// RemovedIDsOut is the list of removed ids written, if any.
	RemovedIDsOut string
}

// RemovalName is the name of the run's last phase: "removal", "list
// removed ids" with --no-remove and --removed-ids-out, or "" when there is
// none (--no-remove alone).
func RemovalName(c IO) string {
	switch {
	case !c.NoRemove:
		return "removal"
	case c.RemovedIDsOut != "":
		return "list removed ids"
	}
	return ""
}

// Remove runs the removal phase (never cached: it writes the output). With
// --no-remove it runs only to list the removed ids, if asked to. It checks
// that the records dropped are the duplicates, that every record was kept
// or dropped, and that the files on disk hold the records kept.
func (r *Runner) Remove(ctx context.Context, c IO, in Removal) (*RemovalResult, error) {
	res := &RemovalResult{}
	name := RemovalName(c)
	if name == "" {
		return res, nil
	}
	outData := dataio.JoinPath(c.Output, "deduplicated")
	rc := RemoveConfig{OutputDir: outData, OutputRoot: c.Output, OutputMode: string(OutputMode(c)), InputRoot: CommonDir(in.Files),
		Duplicates: in.Duplicates, IDField: c.IDField, TextField: c.TextField, ListOnly: c.NoRemove}
	if !c.NoRemove {
		res.OutputDir = outData
	}
	if c.RemovedIDsOut != "" {
		if err := dataio.RemoveTree(ctx, in.RemovedDir); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		rc.RemovedIDsDir = in.RemovedDir
	}
	st, err := r.Build(in.Type, rc)
	if err != nil {
		return nil, err
	}
	r.notePhase(executor.Phase{Name: name, State: executor.PhaseRunning})
	t0, c0 := time.Now(), executor.ProcessCPU()
	out, err := r.Execute(ctx, st, CopyTasks(in.IDTasks))
	if err != nil {
		r.notePhase(executor.Phase{Name: name, State: executor.PhaseFailed, Wall: time.Since(t0)})
		return nil, err
	}
	ps := r.phaseSummary(name, time.Since(t0), executor.ProcessCPU()-c0)
	r.notePhase(ps.phase(executor.PhaseDone))
	res.Phase = &ps
	if err := r.checkRemoval(ctx, c, in, out, res); err != nil {
		return nil, err
	}
	if rc.RemovedIDsDir != "" {
		var parts []string
		for i := range in.NumGroups {
			parts = append(parts, dataio.JoinPath(rc.RemovedIDsDir, "part-"+strconv.Itoa(i)+".jsonl"))
		}
		if err := writeRemovedIDs(c, in.Dst, parts); err != nil {
			return nil, err
		}
		_ = dataio.RemoveTree(ctx, rc.RemovedIDsDir)
		res.RemovedIDsOut = c.RemovedIDsOut
	}
	return res, nil
}

// checkRemoval accounts for every record: dropped = duplicates, kept +
// dropped = records, and kept = the records in the written files on disk.
func (r *Runner) checkRemoval(ctx context.Context, c IO, in Removal, out []task.Task, res *RemovalResult) error {
	var dropped, kept int64
	for _, t := range out {
		dropped += Atoi(t.Meta()[MetaDropped])
		kept += Atoi(t.Meta()[MetaKept])
	}
	if dropped != in.DuplicateCount {
		return fmt.Errorf("removal dropped %d documents but the removal list has %d", dropped, in.DuplicateCount)
	}
	if kept+dropped != in.Records {
		return fmt.Errorf("record accounting: %d records read, %d kept + %d removed", in.Records, kept, dropped)
	}
	if c.NoRemove {
		return nil
	}
	// The final word is what is on disk, not what the stage reported.
	onDisk, err := CountWritten(ctx, out)
	if err != nil {
		return fmt.Errorf("record accounting: %w", err)
	}
	if onDisk != kept {
		return fmt.Errorf("record accounting: removal reported %d records kept, but the files in %s hold %d", kept, res.OutputDir, onDisk)
	}
	res.RecordsWritten = onDisk
	// The executor returns outputs as they finish: list the files in
	// file-group order, the order of the ids.
	sorted := slices.Clone(out)
	slices.SortStableFunc(sorted, func(a, b task.Task) int { return cmp.Compare(Atoi(a.Meta()[MetaGroup]), Atoi(b.Meta()[MetaGroup])) })
	for _, t := range sorted {
		if fg, ok := t.(*task.FileGroup); ok {
			res.Written = append(res.Written, fg.Paths...)
		}
	}
	return nil
}
