#!/usr/bin/env bash
# Runs Sluice's whole test suite: the README's test command, after
# installing what the suite needs beyond Go modules. Today that is a
# headless Chromium for the tests that open the HTML reports in a real
# browser (internal/browsertest): Debian's `chromium` package, installed
# with apt-get when no browser is found and the script runs as root.
# Set SLUICE_CHROMIUM to use a browser installed elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

have_browser() {
  if [ -n "${SLUICE_CHROMIUM:-}" ]; then
    return 0
  fi
  for c in chromium chromium-browser google-chrome google-chrome-stable chrome headless-shell; do
    if command -v "$c" >/dev/null 2>&1; then
      return 0
    fi
  done
  return 1
}

if ! have_browser; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium with apt-get (for the browser tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "scripts/test.sh: no Chromium or Chrome found, and it cannot install one (needs root and apt-get)." >&2
    echo "  Install it (Debian/Ubuntu: sudo apt-get install -y chromium) or set SLUICE_CHROMIUM=/path/to/chrome;" >&2
    echo "  the browser tests fail without it. Running the suite anyway." >&2
  fi
fi

echo "== tests"
go test -race ./... && go test -tags purego ./dedup/fuzzy/minhash/...
