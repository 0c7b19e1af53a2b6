package dataio

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// syncOnCommit syncs a batch's file as it is committed: nothing on Linux,
// where syncFiles syncs the whole batch at once.
func syncOnCommit(*os.File) error { return nil }

// syncfsMinFiles is the fewest files synced with syncfs. syncfs writes
// back every dirty page of the file system, other files' too (such as a
// cache just written), so a few files are cheaper synced one by one.
const syncfsMinFiles = 8

// syncFiles makes the batch's closed temporary files durable: one syncfs
// per file system they are on (in practice one), or an fsync per file for
// a few files or where syncfs fails.
func syncFiles(files []*atomicFile) error {
	if len(files) < syncfsMinFiles {
		return fsyncEach(files)
	}
	synced := make(map[uint64]bool)
	dirs := make(map[string]bool)
	for _, a := range files {
		dir := filepath.Dir(a.f.Name())
		if dirs[dir] {
			continue
		}
		dirs[dir] = true
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return fmt.Errorf("dataio: sync %s: %w", dir, err)
		}
		if synced[st.Dev] {
			continue
		}
		if err := syncfs(dir); err != nil {
			return fsyncEach(files)
		}
		synced[st.Dev] = true
	}
	return nil
}

func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// fsyncEach syncs each file by reopening it.
func fsyncEach(files []*atomicFile) error {
	for _, a := range files {
		f, err := os.Open(a.f.Name())
		if err != nil {
			return fmt.Errorf("dataio: sync %s: %w", a.f.Name(), err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("dataio: sync %s: %w", a.f.Name(), err)
		}
	}
	return nil
}
