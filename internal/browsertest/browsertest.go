// Package browsertest drives a real headless Chromium (through
// github.com/chromedp/chromedp) for tests of the pages Sluice writes: it
// opens a page, records every console message, uncaught exception, browser
// log entry and network request of the page, and takes screenshots.
//
// Start one Browser per test package (it takes about a second) and open
// a Page per check. When no browser can start, Start returns an error that
// says how to install one: tests must fail with it, not skip.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// EnvBrowser names an environment variable that, when set, is the path of
// the browser to start.
const EnvBrowser = "SLUICE_CHROMIUM"

// candidates are the browser commands Start looks for, in order.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless-shell"}

// InstallHint says how to get a browser for the tests.
const InstallHint = "install Chromium: `apt-get install -y chromium` (Debian/Ubuntu, as root), " +
	"or run scripts/test.sh, which installs it when missing and then runs the test suite; " +
	"or set " + EnvBrowser + " to the path of a Chromium or Chrome binary"

// Browser is one headless browser process.
type Browser struct {
	ctx         context.Context
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	Path        string
}

// Find returns the path of the browser Start would run, or an error that
// says how to install one.
func Find() (string, error) {
	if p := os.Getenv(EnvBrowser); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("browsertest: %s=%s: %w", EnvBrowser, p, err)
		}
		return p, nil
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("browsertest: no Chromium or Chrome found (looked for %s on PATH): %s", strings.Join(candidates, ", "), InstallHint)
}

// Start starts a headless browser. It fails, with a message saying how to
// install one, when no browser is found or it does not start within
// timeout.
func Start(timeout time.Duration) (*Browser, error) {
	path, err := Find()
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // containers run tests as root
		chromedp.WindowSize(1100, 900),
		chromedp.Flag("disable-gpu", true),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{ctx: ctx, cancel: cancel, allocCancel: allocCancel, Path: path}
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }() // starts the browser, with no timeout on its life
	select {
	case err = <-done:
	case <-time.After(timeout):
		err = fmt.Errorf("did not start within %s", timeout)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("browsertest: cannot start %s: %w (%s)", path, err, InstallHint)
	}
	return b, nil
}

// Close stops the browser and waits for it to exit.
func (b *Browser) Close() {
	b.cancel()
	b.allocCancel()
}

// Page is one tab, with what it logged and requested.
type Page struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	messages []string // console calls of type error or warning, exceptions, browser log warnings and errors
	requests []string // the URL of every request the page made
	failed   []string // requests that failed, with the reason
}

// Open opens url in a new tab and waits for it to load. Every event of the
// tab is recorded from its start.
func (b *Browser) Open(url string, timeout time.Duration) (*Page, error) {
	p := &Page{}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(p.record))
	p.ctx, p.cancel = ctx, cancel
	// The first call opens the tab and binds its life to its context: the
	// tab's own, not one with a timeout.
	attached := make(chan error, 1)
	go func() { attached <- chromedp.Do(ctx) }()
	select {
	case err := <-attached:
		if err != nil {
			cancel()
			return nil, fmt.Errorf("browsertest: open a tab: %w", err)
		}
	case <-time.After(timeout):
		cancel()
		return nil, fmt.Errorf("browsertest: open a tab: no answer within %s", timeout)
	}
	if err := p.do(timeout, chromedp.Navigate(url)); err != nil {
		cancel()
		return nil, fmt.Errorf("browsertest: open %s: %w", url, err)
	}
	return p, nil
}

// callTimeout bounds every call to the page after it opened.
const callTimeout = 30 * time.Second

// do runs actions with a timeout.
func (p *Page) do(timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// record runs in the tab's message loop: it must return fast.
func (p *Page) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			p.messages = append(p.messages, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		text := ev.ExceptionDetails.Text
		if e := ev.ExceptionDetails.Exception; e != nil && e.Description != "" {
			text += " " + e.Description
		}
		p.messages = append(p.messages, "exception: "+text)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			p.messages = append(p.messages, fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	case *network.EventLoadingFailed:
		p.failed = append(p.failed, fmt.Sprintf("%s (%s)", ev.ErrorText, ev.BlockedReason))
	}
}

// Messages returns the console errors and warnings, uncaught exceptions
// and browser log warnings and errors the page produced so far.
func (p *Page) Messages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(append([]string(nil), p.messages...), p.failed...)
}

// Requests returns the URL of every request the page made so far (the
// page itself included).
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
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

// Screenshot saves a PNG of the whole page to path.
func (p *Page) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(p.ctx, callTimeout)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Close closes the tab.
func (p *Page) Close() { p.cancel() }
