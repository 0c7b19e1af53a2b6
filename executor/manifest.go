package executor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ManifestEntry is one line of the failed-task manifest.
type ManifestEntry struct {
	TaskID   string            `json:"task_id"`
	Stage    string            `json:"stage"`
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
		ent := ManifestEntry{TaskID: ft.ID(), Stage: ft.Stage, Error: ft.Err, Attempts: len(ft.Attempts)}
		for _, a := range ft.Attempts {
			ent.History = append(ent.History, ManifestAttempt{Actor: a.Actor, Outcome: a.Outcome, Error: a.Error, At: a.At})
		}
		if err := enc.Encode(ent); err != nil {
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
