package pipeline

import (
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/stage"
)

// PrepareOutputs checks the pipeline's outputs before any work and readies
// them for a run (see docs/safety.md). Every stage that writes files
// (dataio.OutputStage) has its directory checked: it must not overlap a
// path a reading stage (dataio.InputStage) reads, nor another writer's
// directory; then dataio.PrepareOutput applies the writer's mode (error:
// refuse a directory that holds files; overwrite: remove only the files
// Sluice wrote there; append: keep them). Errors wrap
// dataio.ErrOutputRejected and name the stage, the path and its YAML key.
// Run calls PrepareOutputs unless it was called since the last Build, and
// writes each directory's dataio.SuccessMarker when the run succeeds.
func (p *Pipeline) PrepareOutputs(logger *slog.Logger) error {
	if !p.built {
		if err := p.Build(); err != nil {
			return err
		}
	}
	var inputs []dataio.NamedPath
	type writer struct {
		name string
		dir  dataio.NamedPath
		mode dataio.OutputMode
	}
	var writers []writer
	for _, s := range p.stages {
		u := stage.Unwrap(s)
		if in, ok := u.(dataio.InputStage); ok {
			for _, path := range in.InputPaths() {
				inputs = append(inputs, dataio.NamedPath{Path: path, Name: "paths of stage " + s.Name()})
			}
		}
		if o, ok := u.(dataio.OutputStage); ok {
			t := o.OutputTarget()
			writers = append(writers, writer{s.Name(), dataio.NamedPath{Path: t.Dir, Name: "dir of stage " + s.Name()}, t.Mode})
		}
	}
	for i, w := range writers {
		for _, in := range inputs {
			if err := dataio.CheckOverlap(in, w.dir, false); err != nil {
				return fmt.Errorf("pipeline %s: %w", p.name, err)
			}
		}
		for _, o := range writers[:i] {
			if dataio.PathsOverlap(o.dir.Path, w.dir.Path) && !hiddenInside(o.dir.Path, w.dir.Path) && !hiddenInside(w.dir.Path, o.dir.Path) {
				return dataio.RejectOutput("pipeline %s: %s and %s overlap: give each writer a directory of its own", p.name, o.dir, w.dir)
			}
		}
	}
	p.outputDirs = nil
	for _, name := range slices.Sorted(maps.Keys(p.workDirs)) {
		work := dataio.NamedPath{Path: p.workDirs[name], Name: "the cache of step " + name}
		for _, in := range inputs {
			if err := dataio.CheckOverlap(in, work, false); err != nil {
				return fmt.Errorf("pipeline %s: %w", p.name, err)
			}
		}
	}
	for _, w := range writers {
		p.outputDirs = append(p.outputDirs, w.dir.Path)
		_, err := dataio.PrepareOutput(w.dir.Path, dataio.PrepareOptions{Name: w.dir.Name, Mode: w.mode, Logger: logger,
			Remedy: fmt.Sprintf("set mode: overwrite (or mode: append, to keep them and add files) in the config of stage %s", w.name)})
		if err != nil {
			return fmt.Errorf("pipeline %s: %w", p.name, err)
		}
	}
	p.outputsPrepared = true
	return nil
}

// hiddenInside reports whether path lies inside dir under a name starting
// with "_" or "." (such as dir/_cache/...): not data of dir, so that a
// writer there (a step's spool in the default cache, OUTPUT/_cache) never
// meets the files of dir's writer, which neither reads nor removes such
// names.
func hiddenInside(dir, path string) bool {
	if !dataio.PathWithin(path, dir) {
		return false
	}
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		return false
	}
	first := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
	return strings.HasPrefix(first, "_") || strings.HasPrefix(first, ".")
}
