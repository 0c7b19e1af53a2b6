// Package browsertest runs a real headless Chromium for tests, driven with
// github.com/chromedp/chromedp, for the pages Sluice serves or writes (the
// live dashboard, report.html): one browser process per test that asks for
// it, with pages (tabs) that record console errors and warnings, uncaught
// exceptions, browser log entries and every request, and screenshots saved
// where CI keeps them.
//
// The browser is the one named by SLUICE_CHROMIUM, or Debian's chromium
// package (apt-get install -y chromium; scripts/test.sh installs it when
// missing) or another Chromium or Chrome on the PATH. When no browser can
// start, the test fails, saying how to install one. It is skipped instead
// only when SLUICE_BROWSER_OPTIONAL is set to a non-empty value, which
// scripts/test.sh and .ci/run never set.
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

// Environment variables the package reads.
const (
	// EnvBrowser, when set, is the path of the browser to start.
	EnvBrowser = "SLUICE_CHROMIUM"
	// EnvOptional, when set to a non-empty value, makes a test without a
	// browser skip instead of fail.
	EnvOptional = "SLUICE_BROWSER_OPTIONAL"
	// EnvArtifacts, when set, is a directory that receives the tests'
	// screenshots (CI keeps it); by default they go to the test's temp dir.
	EnvArtifacts = "SLUICE_TEST_ARTIFACTS"
)

// candidates are the browser commands Find looks for on the PATH, in order.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless-shell"}

// InstallHint says how to get a browser for the tests.
const InstallHint = "install Debian's chromium (as root: apt-get update && apt-get install -y chromium), " +
	"or run scripts/test.sh, which installs it when missing and then runs the test suite, " +
	"or set " + EnvBrowser + " to the path of a Chromium or Chrome binary"

// startTimeout bounds the browser's start; callTimeout every call to a
// page that names no timeout of its own.
const (
	startTimeout = 60 * time.Second
	callTimeout  = 30 * time.Second
)

// Find returns the path of the browser Start runs: SLUICE_CHROMIUM, or the
// first of chromium, chromium-browser, google-chrome, … on the PATH.
func Find() (string, error) {
	if p := os.Getenv(EnvBrowser); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBrowser, p, err)
		}
		return p, nil
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium or Chrome found (looked for %s on the PATH)", strings.Join(candidates, ", "))
}

// Browser is one headless browser process.
type Browser struct {
	// Path is the browser binary.
	Path   string
	ctx    context.Context // the browser's first tab; pages are made from it
	cancel func()
}

// Start starts a headless browser for t and stops it when t ends. When no
// browser can start, t fails with a message that says how to install one
// (or, with SLUICE_BROWSER_OPTIONAL set, is skipped with it).
func Start(t testing.TB) *Browser {
	t.Helper()
	b, err := Launch()
	if err != nil {
		msg := fmt.Sprintf("browsertest: cannot start a headless browser: %v; %s", err, InstallHint)
		if os.Getenv(EnvOptional) != "" {
			t.Skip(msg + " (skipped: " + EnvOptional + " is set)")
		} else {
			t.Fatal(msg)
		}
		return nil
	}
	t.Cleanup(b.Close)
	return b
}

// Launch starts a headless browser (Find's); Close stops it.
func Launch() (*Browser, error) {
	path, err := Find()
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // containers run tests as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	b := &Browser{Path: path, ctx: bctx, cancel: func() { cancelBrowser(); cancelAlloc() }}
	// The first action starts the process and binds the browser's life to
	// its context: bctx, not one with a timeout.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(bctx) }()
	select {
	case err = <-done:
	case <-time.After(startTimeout):
		err = fmt.Errorf("did not start within %s", startTimeout)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Close stops the browser and waits for it to exit.
func (b *Browser) Close() { b.cancel() }

// Page is one browser tab, with what it logged and requested.
type Page struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	errors   []string // console errors and asserts, exceptions, browser log errors, failed loads
	warnings []string // console and browser log warnings
	requests []string // the URL of every request the page made
}

// Tab opens an empty tab that records everything from its start; it is
// closed when t ends. Page.Do navigates it.
func (b *Browser) Tab(t testing.TB) *Page {
	t.Helper()
	p, err := b.tab()
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Open opens url in a new tab (Tab) and waits for it to load.
func (b *Browser) Open(t testing.TB, url string) *Page {
	t.Helper()
	p := b.Tab(t)
	if err := p.Do(callTimeout, chromedp.Navigate(url)); err != nil {
		t.Fatalf("browsertest: open %s: %v", url, err)
	}
	return p
}

func (b *Browser) tab() (*Page, error) {
	p := &Page{}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(p.record))
	p.ctx, p.cancel = ctx, cancel
	// The first call opens the tab (binding its life to ctx) and enables
	// the domains whose events the page records.
	done := make(chan error, 1)
	go func() {
		_, err := chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{})
		if err == nil {
			_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
		}
		if err == nil {
			_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(callTimeout):
		err = fmt.Errorf("no answer within %s", callTimeout)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open a tab: %w", err)
	}
	return p, nil
}

// record runs in the tab's message loop: it must return fast.
func (p *Page) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *cdpruntime.EventConsoleAPICalled:
		var args []string
		for _, a := range e.Args {
			args = append(args, strings.TrimSpace(strings.Trim(string(a.Value), `"`)+" "+a.Description))
		}
		msg := "console." + string(e.Type) + ": " + strings.Join(args, " ")
		switch e.Type {
		case cdpruntime.ConsoleAPICalledTypeError, cdpruntime.ConsoleAPICalledTypeAssert:
			p.errors = append(p.errors, msg)
		case cdpruntime.ConsoleAPICalledTypeWarning:
			p.warnings = append(p.warnings, msg)
		}
	case *cdpruntime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		p.errors = append(p.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *cdplog.EventEntryAdded:
		msg := fmt.Sprintf("log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL)
		switch e.Entry.Level {
		case cdplog.EntryLevelError:
			p.errors = append(p.errors, msg)
		case cdplog.EntryLevelWarning:
			p.warnings = append(p.warnings, msg)
		}
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, e.Request.URL)
	case *network.EventLoadingFailed:
		p.errors = append(p.errors, fmt.Sprintf("loading failed: %s (%s)", e.ErrorText, e.BlockedReason))
	}
}

// Errors returns the console errors, uncaught exceptions, browser log
// errors and failed loads of the page so far.
func (p *Page) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...)
}

// Messages returns Errors and the console and browser log warnings.
func (p *Page) Messages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(append([]string(nil), p.errors...), p.warnings...)
}

// Requests returns the URL of every request the page made so far (the
// page itself included).
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Do runs actions in the page, with a timeout.
func (p *Page) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Eval evaluates a JavaScript expression in the page and decodes its
// value into a T.
func Eval[T any](p *Page, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, callTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// Count returns the number of elements the CSS selector matches.
func (p *Page) Count(selector string) (int, error) {
	return Eval[int](p, fmt.Sprintf("document.querySelectorAll(%q).length", selector))
}

// Screenshot saves a PNG of the whole page as name (such as
// "dashboard-final.png") in ArtifactDir(t), logs and returns its path.
func (p *Page) Screenshot(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, callTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
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

// Close closes the tab.
func (p *Page) Close() { p.cancel() }

var artifactDirs sync.Map // test name -> dir

// ArtifactDir is where a test's screenshots go: $SLUICE_TEST_ARTIFACTS/TEST
// when set (CI keeps that directory), else the test's temp dir.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	if d, ok := artifactDirs.Load(t.Name()); ok {
		return d.(string)
	}
	dir := t.TempDir()
	if root := os.Getenv(EnvArtifacts); root != "" {
		dir = filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	artifactDirs.Store(t.Name(), dir)
	return dir
}
