package flow

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	dataio "github.com/sluice-data/sluice/io"
)

// The cache holds one entry per input set and parameters: CACHE/mh-KEY for
// fuzzy dedup (with lsh-KEY2 entries inside), CACHE/ex-KEY for exact dedup.
// Each entry carries a marker, entryMarker, listing the input files its key
// was computed from. The marker is what makes an entry Sluice's: pruning and
// --remove-cache delete only directories that hold one, and nothing else in
// the cache directory.

// EntryPrefixes are the name prefixes of the workflows' cache entries.
var EntryPrefixes = []string{"mh-", "ex-"}

// entryMarker is the marker file of a cache entry.
const entryMarker = "_entry.json"

// cacheEntry is the content of entryMarker.
type cacheEntry struct {
	// Inputs are the input files (absolute paths) with the size and
	// modification time that went into the entry's key.
	Inputs []cacheInput `json:"inputs"`
}

type cacheInput struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
}

// WriteCacheEntry creates the entry directory root with its marker, unless
// the marker is there, recording the inputs as stat'ed (StatInputs).
func WriteCacheEntry(root string, inputs []InputStat) error {
	ctx := context.Background()
	marker := dataio.JoinPath(root, entryMarker)
	if _, err := dataio.Stat(ctx, marker); err == nil {
		return nil
	}
	var e cacheEntry
	var cwd string
	for _, in := range inputs {
		if in.Err != nil {
			return in.Err
		}
		abs := in.Path
		switch {
		case dataio.IsURL(abs):
		case filepath.IsAbs(abs):
			abs = filepath.Clean(abs)
		default: // filepath.Abs, without a getcwd per file
			if cwd == "" {
				var err error
				if cwd, err = os.Getwd(); err != nil {
					return err
				}
			}
			abs = filepath.Join(cwd, abs)
		}
		e.Inputs = append(e.Inputs, cacheInput{Path: abs, Size: in.Info.Size, MtimeNS: in.Info.ModTime.UnixNano()})
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := dataio.MkdirAll(ctx, root); err != nil {
		return err
	}
	return WriteFileAtomic(marker, b)
}

// staleReason returns why the cache entry at dir can never be used again
// (one of its input files changed or is gone), "" if it can, and false if
// dir has no readable marker (not an entry Sluice can vouch for).
func staleReason(dir string) (string, bool) {
	ctx := context.Background()
	b, err := dataio.ReadFile(ctx, dataio.JoinPath(dir, entryMarker))
	if err != nil {
		return "", false
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil || len(e.Inputs) == 0 {
		return "", false
	}
	for _, in := range e.Inputs {
		fi, err := dataio.Stat(ctx, in.Path)
		switch {
		case err != nil:
			return in.Path + " is gone", true
		case fi.Size != in.Size || fi.ModTime.UnixNano() != in.MtimeNS:
			return in.Path + " changed", true
		}
	}
	return "", true
}

// PruneCache removes the entries of cache other than current whose input
// files changed or are gone: their keys can never match again. Each removal
// is logged with its size; entries without a marker, and directories not
// named like an entry (EntryPrefixes), are left alone. Failures are logged,
// not fatal: pruning only saves space.
func PruneCache(cache, current string, log *slog.Logger) {
	ctx := context.Background()
	entries, err := dataio.ReadDir(ctx, cache)
	if err != nil {
		return
	}
	for _, d := range entries {
		dir := dataio.JoinPath(cache, d.Name)
		if !d.IsDir || !isEntryName(d.Name) || dir == current {
			continue
		}
		why, ours := staleReason(dir)
		if !ours || why == "" {
			continue
		}
		size := dataio.TreeSize(ctx, dir)
		if err := dataio.RemoveTree(ctx, dir); err != nil {
			log.Warn("cannot prune a stale cache entry", "dir", dir, "err", err)
			continue
		}
		log.Info("pruned a stale cache entry: its inputs changed, so no run can use it again", "dir", dir,
			"size", dataio.FormatByteSize(size), "reason", why)
	}
}

// RemoveCacheEntry deletes the run's cache entry (after a successful run,
// --remove-cache), then the spill directory and the cache directory if
// they are left empty.
func RemoveCacheEntry(cache, root string, log *slog.Logger) error {
	if _, ours := staleReason(root); !ours {
		return errors.New("the cache entry " + root + " has no marker; not removing it")
	}
	ctx := context.Background()
	size := dataio.TreeSize(ctx, root)
	if err := dataio.RemoveTree(ctx, root); err != nil {
		return err
	}
	log.Info("removed the cache entry (--remove-cache)", "dir", root, "size", dataio.FormatByteSize(size))
	if !dataio.IsURL(cache) {
		os.Remove(filepath.Join(cache, "_spill")) // only if empty
		os.Remove(cache)                          // only if empty
	}
	return nil
}

// isEntryName reports whether name is named like a cache entry.
func isEntryName(name string) bool {
	for _, p := range EntryPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
