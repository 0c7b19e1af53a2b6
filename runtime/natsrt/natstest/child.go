package natstest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv names the child role a re-executed test binary plays.
const childEnv = "SLUICE_NATSTEST_CHILD"

// Children maps role names to what a child process runs. A test package
// that starts children calls RunChild from its TestMain before m.Run.
type Children map[string]func() int

// RunChild runs the child role the environment asks for, and exits with
// its status; it returns at once in the parent test process.
func RunChild(roles Children) {
	role := os.Getenv(childEnv)
	if role == "" {
		return
	}
	fn, ok := roles[role]
	if !ok {
		fmt.Fprintf(os.Stderr, "natstest: unknown child role %q\n", role)
		os.Exit(3)
	}
	os.Exit(fn())
}

// Child is a re-executed test binary playing a role.
type Child struct {
	Cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// StartChild starts the test binary as role, with env added to the
// environment (KEY=VALUE). The test's cleanup kills it if it still runs.
func StartChild(t testing.TB, role string, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{Cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.Kill()
		if t.Failed() {
			t.Logf("child %s output:\n%s", role, c.Output())
		}
	})
	return c
}

// Kill sends SIGKILL and waits for the process to end.
func (c *Child) Kill() {
	select {
	case <-c.done:
		return
	default:
	}
	c.Cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Signal sends sig to the child.
func (c *Child) Signal(sig os.Signal) error { return c.Cmd.Process.Signal(sig) }

// Wait waits up to d for the child to exit and returns its exit error.
func (c *Child) Wait(d time.Duration) (exited bool, err error) {
	select {
	case <-c.done:
		return true, c.err
	case <-time.After(d):
		return false, nil
	}
}

// Output is what the child printed so far.
func (c *Child) Output() string { return c.out.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
