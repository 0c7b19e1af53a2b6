package browsertest

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRecordsWhatPagesDo checks, in a real browser, that a page's console
// errors, exceptions and requests are recorded (so that tests asserting
// their absence can fail), and that a clean page records none.
func TestRecordsWhatPagesDo(t *testing.T) {
	b, err := Start(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dir := t.TempDir()
	noisy := filepath.Join(dir, "noisy.html")
	os.WriteFile(noisy, []byte(`<!DOCTYPE html><html><body><p>x</p>
<img src="http://127.0.0.1:9/nothing.png">
<script>console.error("boom"); throw new Error("thrown");</script></body></html>`), 0o644)
	clean := filepath.Join(dir, "clean.html")
	os.WriteFile(clean, []byte(`<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><svg><rect width="5" height="5"/></svg></body></html>`), 0o644)

	p, err := b.Open(fileURL(noisy), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	msgs := strings.Join(p.Messages(), "\n")
	if !strings.Contains(msgs, "boom") || !strings.Contains(msgs, "thrown") {
		t.Errorf("messages of the noisy page = %q; want the console error and the exception", msgs)
	}
	if reqs := p.Requests(); !slices.Contains(reqs, "http://127.0.0.1:9/nothing.png") {
		t.Errorf("requests of the noisy page = %q; want the image", reqs)
	}
	p.Close()

	p, err = b.Open(fileURL(clean), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if m := p.Messages(); len(m) != 0 {
		t.Errorf("clean page: messages %q", m)
	}
	if r := p.Requests(); len(r) != 1 || r[0] != fileURL(clean) {
		t.Errorf("clean page: requests %q, want only the page", r)
	}
	if n, err := p.Count("svg rect"); err != nil || n != 1 {
		t.Errorf("Count(svg rect) = %d, %v; want 1", n, err)
	}
	shot := filepath.Join(dir, "clean.png")
	if err := p.Screenshot(shot); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(shot); len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Fatalf("screenshot %s is not a PNG", shot)
	}
}

func fileURL(path string) string { return (&url.URL{Scheme: "file", Path: path}).String() }
