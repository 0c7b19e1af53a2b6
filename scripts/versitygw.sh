#!/usr/bin/env bash
# Installs the S3 server the S3 tests run against: versitygw (Apache-2.0),
# pinned, built from the Go module proxy into a cache directory, once.
#
#   scripts/versitygw.sh          # installs if missing, prints the binary's path
#
# Tests find the binary through SLUICE_VERSITYGW (set it to this script's
# output), or in the default cache directory below, or on PATH. Without it
# they skip on a developer machine and fail under CI=true or
# SLUICE_REQUIRE_S3=1 (set both in the repository's test script).
set -euo pipefail
VERSION=v1.8.0
CACHE="${SLUICE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/tools}"
DIR="$CACHE/versitygw-$VERSION"
BIN="$DIR/versitygw"
if [ ! -x "$BIN" ]; then
	echo "building versitygw $VERSION into $DIR (about 2 minutes, once)" >&2
	mkdir -p "$DIR"
	# Built outside this module, so that its dependencies never enter go.mod.
	GOFLAGS=-buildvcs=false GOBIN="$DIR" go install "github.com/versity/versitygw/cmd/versitygw@$VERSION" >&2
fi
echo "$BIN"
