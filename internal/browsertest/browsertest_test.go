package browsertest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRecordsWhatPagesDo checks, in a real browser, that a page's console
// errors and warnings, exceptions and requests are recorded (so that tests
// asserting their absence can fail), and that a clean page records none.
func TestRecordsWhatPagesDo(t *testing.T) {
	b := Start(t)
	dir := t.TempDir()
	noisy := filepath.Join(dir, "noisy.html")
	os.WriteFile(noisy, []byte(`<!DOCTYPE html><html><body><p>x</p>
<img src="http://127.0.0.1:9/nothing.png">
<script>console.warn("careful"); console.error("boom"); throw new Error("thrown");</script></body></html>`), 0o644)
	clean := filepath.Join(dir, "clean.html")
	os.WriteFile(clean, []byte(`<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><svg><rect width="5" height="5"/></svg></body></html>`), 0o644)

	p := b.Open(t, fileURL(noisy))
	errs, msgs := strings.Join(p.Errors(), "\n"), strings.Join(p.Messages(), "\n")
	if !strings.Contains(errs, "boom") || !strings.Contains(errs, "thrown") || strings.Contains(errs, "careful") {
		t.Errorf("errors of the noisy page = %q; want the console error and the exception, not the warning", errs)
	}
	if !strings.Contains(msgs, "careful") || !strings.Contains(msgs, "boom") {
		t.Errorf("messages of the noisy page = %q; want the warning and the error", msgs)
	}
	if reqs := p.Requests(); !slices.Contains(reqs, "http://127.0.0.1:9/nothing.png") {
		t.Errorf("requests of the noisy page = %q; want the image", reqs)
	}
	p.Close()

	p = b.Open(t, fileURL(clean))
	if m := p.Messages(); len(m) != 0 {
		t.Errorf("clean page: messages %q", m)
	}
	if r := p.Requests(); len(r) != 1 || r[0] != fileURL(clean) {
		t.Errorf("clean page: requests %q, want only the page", r)
	}
	if n, err := p.Count("svg rect"); err != nil || n != 1 {
		t.Errorf("Count(svg rect) = %d, %v; want 1", n, err)
	}
	shot := p.Screenshot(t, "clean.png")
	if b, _ := os.ReadFile(shot); len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Fatalf("screenshot %s is not a PNG", shot)
	}
}

// fakeTB records what Start asks of a test instead of ending it.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Fatal(args ...any) { f.fatal = fmt.Sprint(args...) }
func (f *fakeTB) Skip(args ...any)  { f.skip = fmt.Sprint(args...) }

// TestNoBrowserFails: with no browser to start (SLUICE_CHROMIUM names a
// missing file), Start fails the test with a message that says how to
// install one; only SLUICE_BROWSER_OPTIONAL turns that into a skip.
func TestNoBrowserFails(t *testing.T) {
	t.Setenv(EnvBrowser, filepath.Join(t.TempDir(), "no-such-chromium"))
	t.Setenv(EnvOptional, "")
	f := &fakeTB{TB: t}
	if b := Start(f); b != nil || f.skip != "" || !strings.Contains(f.fatal, "cannot start a headless browser") ||
		!strings.Contains(f.fatal, "apt-get install -y chromium") || !strings.Contains(f.fatal, "no-such-chromium") {
		t.Fatalf("without a browser: browser %v, fatal %q, skip %q; want a failure saying how to install one", b, f.fatal, f.skip)
	}
	t.Setenv(EnvOptional, "1")
	f = &fakeTB{TB: t}
	if b := Start(f); b != nil || f.fatal != "" || !strings.Contains(f.skip, EnvOptional) {
		t.Fatalf("with %s: browser %v, fatal %q, skip %q; want a skip", EnvOptional, b, f.fatal, f.skip)
	}
}

func fileURL(path string) string { return (&url.URL{Scheme: "file", Path: path}).String() }
