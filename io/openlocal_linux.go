//go:build linux

package dataio

// Cheap opening of local files. os.Open puts every file in non-blocking
// mode and tries to register it with the runtime's network poller, which
// fails for regular files on Linux and undoes the mode: four fcntl calls
// and an epoll_ctl per file, about half the CPU of opening, reading and
// closing a small file. Reading many small inputs (one file per few
// records) pays that on every pass, and writing their outputs once, so
// files read and the temporary files of writers are opened with open(2)
// directly.

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

// openLocalFile opens name for reading as an *os.File that is not
// registered with the poller (os.NewFile on a blocking descriptor), for
// files read at random, possibly concurrently. Errors are those of os.Open.
func openLocalFile(name string) (*os.File, error) {
	fd, err := openFD(name)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func openFD(name string) (int, error) { return sysOpen(name, syscall.O_RDONLY, 0) }

// sysOpen is open(2) with O_CLOEXEC, retried on EINTR; errors are
// *fs.PathError, as os.OpenFile's.
func sysOpen(name string, flags int, perm uint32) (int, error) {
	for {
		fd, err := syscall.Open(name, flags|syscall.O_CLOEXEC, perm)
		if err == nil {
			return fd, nil
		}
		if err != syscall.EINTR {
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
}

// createTemp creates a new file named ".BASE.tmp-RANDOM" in dir, as
// os.CreateTemp(dir, "."+base+".tmp-*") does, mode 0600, as an *os.File
// not registered with the poller.
func createTemp(dir, base string) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err := sysOpen(name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), name), nil
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, "."+base+".tmp-*"), Err: fs.ErrExist}
}

// seqFile is a local file read by one goroutine at a time through its
// descriptor, without an os.File: the cheapest way to read a small file
// whole. Errors are *fs.PathError naming the file, as os.File's are. A
// seqFile that becomes unreachable unclosed has its descriptor closed by
// the garbage collector, as an os.File does.
type seqFile struct {
	fd      int
	name    string
	cleanup runtime.Cleanup
}

// openSeq opens name for sequential (or positioned) reading by one
// goroutine at a time.
func openSeq(name string) (seqReader, error) {
	fd, err := openFD(name)
	if err != nil {
		return nil, err
	}
	f := &seqFile{fd: fd, name: name}
	f.cleanup = runtime.AddCleanup(f, func(fd int) { syscall.Close(fd) }, fd)
	return f, nil
}

// maxRW caps one read call, as the os package does (some systems fail
// larger ones).
const maxRW = 1 << 30

func (f *seqFile) Read(p []byte) (int, error) {
	if f.fd < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: os.ErrClosed}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > maxRW {
		p = p[:maxRW]
	}
	// The cleanup must not close the descriptor during the call (the
	// caller may hold f only until it calls), as the os package ensures.
	defer runtime.KeepAlive(f)
	for {
		n, err := syscall.Read(f.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// ReadAt reads len(p) bytes from off, as os.File.ReadAt does: fewer only
// at the end of the file (io.EOF) or on an error.
func (f *seqFile) ReadAt(p []byte, off int64) (int, error) {
	if f.fd < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: os.ErrClosed}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: errNegativeOffset}
	}
	defer runtime.KeepAlive(f) // see Read
	n := 0
	for len(p) > 0 {
		m, err := syscall.Pread(f.fd, p[:min(len(p), maxRW)], off)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return n, &fs.PathError{Op: "read", Path: f.name, Err: err}
		case m == 0:
			return n, io.EOF
		}
		n += m
		p = p[m:]
		off += int64(m)
	}
	return n, nil
}

// Size returns the file's size now.
func (f *seqFile) Size() (int64, error) {
	if f.fd < 0 {
		return 0, &fs.PathError{Op: "stat", Path: f.name, Err: os.ErrClosed}
	}
	defer runtime.KeepAlive(f) // see Read
	var st syscall.Stat_t
	for {
		err := syscall.Fstat(f.fd, &st)
		if err == nil {
			return st.Size, nil
		}
		if err != syscall.EINTR {
			return 0, &fs.PathError{Op: "stat", Path: f.name, Err: err}
		}
	}
}

func (f *seqFile) Close() error {
	if f.fd < 0 {
		return &fs.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	f.cleanup.Stop()
	fd := f.fd
	f.fd = -1
	// As the os package does, a close is not retried on EINTR: the
	// descriptor is gone either way on Linux.
	if err := syscall.Close(fd); err != nil && err != syscall.EINTR {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}
