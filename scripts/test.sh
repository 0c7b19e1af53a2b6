#!/usr/bin/env bash
# Runs Sluice's whole test suite: the README's test command, and what
# .ci/run runs after gofmt, vet and staticcheck. It first installs what the
# suite needs beyond Go modules (which `go test` fetches from go.mod): a
# headless Chromium for the tests that open the live dashboard and the HTML
# reports in a real browser (internal/browsertest). That is Debian's
# `chromium` package, installed with apt-get when no browser is found and
# the script runs as root; SLUICE_CHROMIUM=/path/to/chrome names a browser
# installed elsewhere. Without a browser the browser tests fail, saying how
# to install one: this script never lets them skip. The S3 tests run against
# a real S3 server, versitygw, which scripts/versitygw.sh builds from the Go
# module proxy once (about 2 minutes) into ~/.cache/sluice/tools; under this
# script a missing server fails those tests instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."

have_browser() {
  if [ -n "${SLUICE_CHROMIUM:-}" ]; then
    [ -x "$SLUICE_CHROMIUM" ] && return 0
    echo "scripts/test.sh: SLUICE_CHROMIUM=$SLUICE_CHROMIUM is not an executable file" >&2
    return 1
  fi
  for c in chromium chromium-browser google-chrome google-chrome-stable chrome headless-shell; do
    if command -v "$c" >/dev/null 2>&1; then
      echo "== browser for the browser tests: $(command -v "$c")"
      return 0
    fi
  done
  return 1
}

if ! have_browser; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== no Chromium found: installing Debian's chromium for the browser tests"
    echo "+ apt-get update"
    apt-get update -qq
    echo "+ apt-get install -y chromium"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    echo "== installed $(command -v chromium)"
  else
    echo "scripts/test.sh: no Chromium or Chrome found, and this script cannot install one (it needs root and apt-get)." >&2
    echo "  Install it (Debian/Ubuntu: sudo apt-get install -y chromium) or set SLUICE_CHROMIUM=/path/to/chrome;" >&2
    echo "  the browser tests will fail without it. Running the suite anyway." >&2
  fi
fi

# The browser tests skip instead of failing only with this variable set:
# never under this script.
if [ -n "${SLUICE_BROWSER_OPTIONAL:-}" ]; then
  echo "== ignoring SLUICE_BROWSER_OPTIONAL: under scripts/test.sh a missing browser fails the browser tests"
fi
unset SLUICE_BROWSER_OPTIONAL

echo "== S3 server for the S3 tests: scripts/versitygw.sh"
SLUICE_VERSITYGW="$(scripts/versitygw.sh)"
export SLUICE_VERSITYGW SLUICE_REQUIRE_S3=1
echo "== versitygw: $SLUICE_VERSITYGW"

echo "== go test -race ./... && go test -tags purego ./dedup/fuzzy/minhash/... && go test -race -tags lingua ./stages/filter/..."
go test -race ./... && go test -tags purego ./dedup/fuzzy/minhash/... && go test -race -tags lingua ./stages/filter/...
