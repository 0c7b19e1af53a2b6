#!/usr/bin/env bash
# Accuracy, speed and memory of the language_id stage's detectors
# (bench/langid), and the size of the sluice binary with and without
# lingua: on Debian's translated manual pages (installed here with apt-get
# when missing) and on the shared corpus's Debian Administrator's Handbook
# documents (label = the handbook edition's language).
#
#   bench/langid.sh [CORPUS_DIR] [PAGES_PER_LANGUAGE] [RUNS]   (default ../shared/bench/corpus, 150, 3)
#
# Detectors: trigram (the default), lingua (built with -tags lingua) and
# whatlanggo (evaluated, not adopted). CPU time is the median of RUNS
# passes (one pass for the slow lingua settings marked once).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
per=${2:-150}
runs=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/langid-$(date -u +%Y%m%dT%H%M%SZ).txt

langs="cs da de el es fi fr hu id it ja nb nl pl pt ro ru sr sv tr uk vi zh"
missing=""
for l in $langs; do [ -d "/usr/share/man/$l" ] || [ -d "/usr/share/man/${l}_CN" ] || missing="$missing manpages-$l"; done
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
python3 bench/manpages_corpus.py /usr/share/man "$per" > "$work/manpages.jsonl"
go build -o "$work/langid" ./bench/langid
go build -tags lingua -o "$work/langid-lingua" ./bench/langid
CGO_ENABLED=0 go build -o "$work/sluice" ./cmd/sluice
CGO_ENABLED=0 go build -tags lingua -o "$work/sluice-lingua" ./cmd/sluice
timed() { /usr/bin/time -f "time: %e s wall, %U s user, %S s sys, peak RSS %M KB" "$@" 2>&1; }
cands=$(echo en $langs | tr ' ' ,)
{
  echo "commit $(git rev-parse --short HEAD) date $(date -u +%FT%TZ) cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "sluice binary (CGO_ENABLED=0): $(stat -c %s "$work/sluice") bytes; with -tags lingua: $(stat -c %s "$work/sluice-lingua") bytes"
  m="$work/manpages.jsonl"
  echo "## manpages trigram (defaults)";             timed "$work/langid" -input "$m" -runs "$runs"
  echo "## manpages trigram -max-chars 500";         timed "$work/langid" -input "$m" -runs "$runs" -max-chars 500
  echo "## manpages trigram -max-chars -1";          timed "$work/langid" -input "$m" -runs "$runs" -max-chars -1
  echo "## manpages trigram, 24 candidates";         timed "$work/langid" -input "$m" -runs "$runs" -languages "$cands"
  echo "## manpages lingua (defaults: low, 500)";    timed "$work/langid-lingua" -input "$m" -detector lingua -runs "$runs"
  echo "## manpages lingua -max-chars 2000 (one pass)"; timed "$work/langid-lingua" -input "$m" -detector lingua -max-chars 2000
  echo "## manpages lingua, 24 candidates";          timed "$work/langid-lingua" -input "$m" -detector lingua -runs "$runs" -languages "$cands"
  echo "## manpages whatlanggo (500 characters)";    timed "$work/langid" -input "$m" -detector whatlang -runs "$runs"
  echo "## manpages whatlanggo -max-chars 2000";     timed "$work/langid" -input "$m" -detector whatlang -runs "$runs" -max-chars 2000
  c="$corpus/corpus.jsonl.gz"
  for d in trigram lingua whatlang; do
    bin="$work/langid"; [ "$d" = lingua ] && bin="$work/langid-lingua"
    echo "## handbook (non-English editions) $d";    timed "$bin" -input "$c" -detector "$d" -skip-en -runs "$runs"
    echo "## the same without documents that are mostly English (their label is the edition's) $d"
    timed "$bin" -input "$c" -detector "$d" -skip-en -max-english-share 0.1 -runs "$runs"
  done
} | tee "$out"
