// Package browsertest runs a real headless Chromium for tests, driven with
// chromedp: one browser process per test that asks for it, with tabs that
// record console errors, uncaught exceptions and every request the page
// makes, and screenshots saved where CI keeps them.
//
// The browser is Debian's chromium package (apt-get install -y chromium),
// or the one named by SLUICE_CHROMIUM. Without a browser, a test fails in
// CI (CI=true) with that message; elsewhere it is skipped with it.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// InstallHint says how to get a browser.
const InstallHint = "install Debian's chromium (apt-get update && apt-get install -y chromium), or set SLUICE_CHROMIUM to a Chromium or Chrome binary"

// Browser is one headless browser process.
type Browser struct {
	ctx context.Context // the browser's first tab; tabs are made from it
}

// FindChromium returns the browser binary: SLUICE_CHROMIUM, or chromium,
// chromium-browser, google-chrome or headless-shell on the PATH.
func FindChromium() (string, error) {
	if p := os.Getenv("SLUICE_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found on the PATH")
}

// Start starts a headless browser for t and stops it when t ends. When no
// browser can start, t fails in CI and is skipped elsewhere, saying how to
// install one.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := FindChromium()
	if err == nil {
		var b *Browser
		if b, err = start(t, path); err == nil {
			return b
		}
	}
	msg := fmt.Sprintf("browsertest: cannot start a headless browser: %v; %s", err, InstallHint)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}

func start(t testing.TB, path string) (*Browser, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1100),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// Start the process; the first action's context becomes the browser's,
	// so the timeout cancels the browser itself rather than that context.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(bctx) }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case <-time.After(60 * time.Second):
		cancelBrowser()
		<-done
		return nil, fmt.Errorf("%s: did not start within 60s", path)
	}
	return &Browser{ctx: bctx}, nil
}

// Tab is one browser tab. Its context (Ctx) runs chromedp actions.
type Tab struct {
	Ctx context.Context

	mu       sync.Mutex
	errors   []string
	requests []string
}

// Tab opens a tab that records console errors, exceptions and requests; it
// is closed when t ends.
func (b *Browser) Tab(t testing.TB) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tab := &Tab{Ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		tab.mu.Lock()
		defer tab.mu.Unlock()
		switch e := ev.(type) {
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError || e.Type == cdpruntime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, strings.TrimSpace(string(a.Value)+" "+a.Description))
				}
				tab.errors = append(tab.errors, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *cdpruntime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tab.errors = append(tab.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				tab.errors = append(tab.errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			tab.requests = append(tab.requests, e.Request.URL)
		}
	})
	if err == nil {
		_, err = chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err != nil {
		t.Fatalf("browsertest: open a tab: %v", err)
	}
	return tab
}

// Errors returns the console errors, exceptions and error log entries so
// far.
func (tab *Tab) Errors() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.errors...)
}

// Requests returns the URLs the page requested so far.
func (tab *Tab) Requests() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.requests...)
}

// Do runs actions in the tab, with a timeout.
func (tab *Tab) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tab.Ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// into a T.
func Eval[T any](tab *Tab, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(tab.Ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// Screenshot saves a PNG of the tab's viewport as name (such as
// "dashboard-final.png") in ArtifactDir(t) and returns its path.
func (tab *Tab) Screenshot(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	path := filepath.Join(ArtifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

var artifactDirs sync.Map // test name -> dir

// ArtifactDir is where a test's screenshots go: $SLUICE_TEST_ARTIFACTS/TEST
// when set (CI keeps that directory), else the test's temp dir.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	if d, ok := artifactDirs.Load(t.Name()); ok {
		return d.(string)
	}
	dir := t.TempDir()
	if root := os.Getenv("SLUICE_TEST_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	artifactDirs.Store(t.Name(), dir)
	return dir
}
