package dataio

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// createTemp creates a new file named ".BASE.tmp-RANDOM" in dir, as
// os.CreateTemp(dir, "."+base+".tmp-*") does, mode 0600. It opens the file
// with open(2) and os.NewFile rather than os.OpenFile, which on Linux also
// registers every file with the runtime's network poller (an epoll_ctl that
// fails for a regular file) and marks it non-blocking: that doubles the
// system calls of creating one of many small output files.
func createTemp(dir, base string) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err := openRetry(name)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, "."+base+".tmp-*"), Err: fs.ErrExist}
}

func openRetry(name string) (int, error) {
	for {
		fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
