// Package s3test runs a real S3 server for tests: versitygw (Apache-2.0),
// serving S3 from a temporary directory on 127.0.0.1, started once per test
// binary and stopped by Main.
//
// The binary is found through the SLUICE_VERSITYGW environment variable,
// in the cache directory scripts/versitygw.sh installs it into, or on PATH.
// Without it, tests that need it are skipped on a developer machine and
// fail under CI=true or SLUICE_REQUIRE_S3=1, naming the script that
// installs it.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw version scripts/versitygw.sh installs.
const Version = "v1.8.0"

// Access and Secret are the server's root credentials.
const (
	Access = "sluicetestaccess"
	Secret = "sluicetestsecret0123456789"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:PORT.
	Endpoint string
	// Dir is the directory it serves buckets from.
	Dir string
	// Addr is host:port.
	Addr string
	bin  string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
}

var (
	once    sync.Once
	shared  *Server
	initErr error
	tmpRoot string
)

// Find returns the versitygw binary's path, or "" with the places looked
// in.
func Find() (string, string) {
	if p := os.Getenv("SLUICE_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
		return "", "SLUICE_VERSITYGW=" + p + " does not exist"
	}
	cache := os.Getenv("SLUICE_TOOLS_DIR")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "sluice", "tools")
	}
	p := filepath.Join(cache, "versitygw-"+Version, "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p, ""
	}
	if lp, err := exec.LookPath("versitygw"); err == nil {
		return lp, ""
	}
	return "", "not in SLUICE_VERSITYGW, " + p + " or PATH"
}

// Shared returns the server of this test binary, starting it on first use
// (point the s3:// backend at it with dataio.SetS3Options and
// Server.Credentials). It skips the test when versitygw is missing,
// except under CI=true, where it fails.
func Shared(t testing.TB) *Server {
	t.Helper()
	once.Do(func() {
		bin, where := Find()
		if bin == "" {
			initErr = errMissing{where}
			return
		}
		tmpRoot, initErr = os.MkdirTemp("", "sluice-s3test-")
		if initErr != nil {
			return
		}
		shared, initErr = Start(bin, filepath.Join(tmpRoot, "data"))
	})
	var miss errMissing
	switch {
	case errors.As(initErr, &miss) && !Required():
		t.Skipf("S3 tests skipped: versitygw %s not found (%s); install it with scripts/versitygw.sh", Version, miss.where)
	case initErr != nil:
		t.Fatalf("S3 test server: %v", initErr)
	}
	return shared
}

// Required reports whether a missing versitygw fails the tests rather
// than skipping them: under CI=true, or with SLUICE_REQUIRE_S3=1 (which
// the repository's test script sets).
func Required() bool { return os.Getenv("CI") == "true" || os.Getenv("SLUICE_REQUIRE_S3") == "1" }

type errMissing struct{ where string }

func (e errMissing) Error() string {
	return "versitygw " + Version + " not found (" + e.where + "): run scripts/versitygw.sh (and set SLUICE_VERSITYGW to the path it prints)"
}

// Credentials returns the server's root credentials.
func Credentials() *credentials.Credentials { return credentials.NewStaticV4(Access, Secret, "") }

// Env returns the environment variables that point an AWS tool (or a
// sluice process) at the server with the root credentials.
func (s *Server) Env() []string {
	return []string{"AWS_ENDPOINT_URL=" + s.Endpoint, "AWS_ACCESS_KEY_ID=" + Access, "AWS_SECRET_ACCESS_KEY=" + Secret,
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=3"}
}

// M wraps a testing.M so that its Run stops the shared server, if one
// started, after the tests (pass it to goleak.VerifyTestMain, or call
// os.Exit(M{m}.Run())).
type M struct{ M interface{ Run() int } }

// Run runs the tests, then stops the server.
func (m M) Run() int {
	code := m.M.Run()
	if shared != nil {
		shared.Stop()
	}
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	return code
}

// Start runs versitygw serving dir on a free port of 127.0.0.1 and waits
// until it answers.
func Start(bin, dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{Endpoint: "http://" + addr, Dir: dir, Addr: addr, bin: bin}
	return s, s.start()
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, "--access", Access, "--secret", Secret, "--port", s.Addr, "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(s.done)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("versitygw exited at start")
		default:
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd.Process.Kill()
	return errors.New("versitygw did not answer within 20 s")
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same address and directory.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// Client returns a minio-go client with the root credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Addr, &minio.Options{Creds: credentials.NewStaticV4(Access, Secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bucket creates a bucket with a fresh name for the test and returns it.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d", time.Now().UnixNano())
	if err := s.Client(t).MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	return name
}
