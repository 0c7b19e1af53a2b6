package executor

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/task"
)

// ManifestEntry is one line of the failed-task manifest.
type ManifestEntry struct {
	TaskID string `json:"task_id"`
	Stage  string `json:"stage"`
	// Sources says which records the task held: each file with its record
	// range (task.MetaSourceFile and task.MetaSourceRows), or whole files
	// for a file group.
	Sources  []task.Source     `json:"sources,omitempty"`
	Error    string            `json:"error"`
	Attempts int               `json:"attempts"`
	History  []ManifestAttempt `json:"history"`
}

// ManifestAttempt is one try in a ManifestEntry's history.
type ManifestAttempt struct {
	Actor   string    `json:"actor"`
	Outcome string    `json:"outcome"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
	// Stack is the goroutine stack of a panic (Error has its one-line
	// message).
	Stack string `json:"stack,omitempty"`
}

// logPanic logs a call that panicked as one ERROR line (stage, actor, panic
// value and where it was raised) and its stack at DEBUG, and keeps the
// stack in the attempt.
func (e *Executor) logPanic(stageName, actor string, tasks []task.Task, err error, at *task.Attempt) {
	var pe *runtime.PanicError
	if !errors.As(err, &pe) {
		return
	}
	at.Stack = pe.Stack
	e.log.Error("stage panicked; the actor is replaced", "stage", stageName, "actor", actor,
		"panic", fmt.Sprint(pe.Value), "at", pe.Site, "task", firstID(tasks))
	e.log.Debug("panic stack", "stage", stageName, "actor", actor, "stack", pe.Stack)
}

// manifestEntry is ft's line in the failed-task manifest.
func (e *Executor) manifestEntry(ft *task.Failed) ManifestEntry {
	ent := ManifestEntry{TaskID: ft.ID(), Stage: ft.Stage, Error: ft.Err, Attempts: len(ft.Attempts)}
	srcs, err := task.Sources(ft)
	if err != nil {
		e.log.Warn("failed-task manifest: the task's sources are unreadable", "task", ft.ID(), "err", err)
	}
	ent.Sources = srcs
	for _, a := range ft.Attempts {
		ent.History = append(ent.History, ManifestAttempt{Actor: a.Actor, Outcome: a.Outcome, Error: a.Error, At: a.At, Stack: a.Stack})
	}
	return ent
}

// writeManifest writes every failed task to Config.FailedManifest, one JSON
// object per line. It writes the file even when nothing failed (an empty
// manifest says so), through a temporary file renamed into place.
func (e *Executor) writeManifest() error {
	path := e.cfg.FailedManifest
	if path == "" {
		return nil
	}
	failed := e.FailedTasks()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("failed-task manifest: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("failed-task manifest: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, ft := range failed {
		if err := enc.Encode(e.manifestEntry(ft)); err != nil {
			f.Close()
			return fmt.Errorf("failed-task manifest %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("failed-task manifest %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed-task manifest %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("failed-task manifest %s: %w", path, err)
	}
	return nil
}
