//go:build linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs (mount flags and options, such as "size=96k")
// on a new directory for the rest of the test and returns it, or "" when
// this process may not mount (not root, or no CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, opts); err != nil {
		t.Logf("cannot mount a tmpfs here (%v)", err)
		return ""
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// unwritableReadOnly: an output on a read-only file system is reported
// with the flag and the path, before any work.
func unwritableReadOnly(t *testing.T, data string) {
	ro := mountTmpfs(t, syscall.MS_RDONLY, "size=16k")
	if ro == "" {
		t.Log("read-only output not tested: no mount permission")
		return
	}
	out := filepath.Join(ro, "out")
	r := sluice("dedup", "fuzzy", "--input", data, "--output", out)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--output "+out+": cannot") || !strings.Contains(r.stderr, "read-only file system") ||
		strings.Contains(r.stderr, "mkdir") {
		t.Fatalf("read-only output: want exit 2 naming --output\n%s", r)
	}
}

// TestDedupWriteFailure: the output disk fills up during removal. The run
// must exit 1 naming the cause, print no summary, and leave no summary.json
// claiming records that are not on disk; the input is untouched. The fault
// is a real small tmpfs when this process may mount one (tests run as root
// in CI), and otherwise a real file-size limit (RLIMIT_FSIZE, through
// prlimit) on the sluice binary.
func TestDedupWriteFailure(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	dedupInput(t, data, 2, 200) // about 80 KiB a file
	cache := filepath.Join(dir, "cache")
	// A first run builds the cache, so that the failing run writes only its
	// output.
	if r := sluice("dedup", "fuzzy", "--input", data, "--output", filepath.Join(dir, "ok"), "--cache", cache); r.code != 0 {
		t.Fatal(r)
	}
	snap := takeSnapshot(t, data)
	var r result
	var out, cause string
	if full := mountTmpfs(t, 0, "size=96k"); full != "" {
		t.Log("write failure injected with a 96 KiB tmpfs")
		out, cause = filepath.Join(full, "out"), "no space left on device"
		r = sluice("dedup", "fuzzy", "--input", data, "--output", out, "--cache", cache)
	} else {
		t.Log("write failure injected with RLIMIT_FSIZE = 40 KiB")
		out, cause = filepath.Join(dir, "out"), "file too large"
		r = runLimited(t, "--fsize=40960", "dedup", "fuzzy", "--input", data, "--output", out, "--cache", cache)
	}
	if r.code != exitFailed || !strings.Contains(r.stderr, cause) {
		t.Fatalf("want exit 1 naming %q\n%s", cause, r)
	}
	if strings.Contains(r.stderr, "records written") {
		t.Errorf("a failed run printed a summary:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed run left summary.json: %v", err)
	}
	snap.check(t, "after the failed run")
}

// runLimited runs a freshly built sluice binary under prlimit's limit.
func runLimited(t *testing.T, limit string, args ...string) result {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sluice")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command("prlimit", append([]string{limit, bin}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("prlimit: %v", err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}
