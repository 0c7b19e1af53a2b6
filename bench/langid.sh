#!/usr/bin/env bash
# Accuracy, speed and memory of the language_id stage's detector
# (bench/langid): on Debian's translated manual pages (installed here with
# apt-get when missing) and on the shared corpus's Debian Administrator's
# Handbook documents (label = the handbook edition's language).
#
#   bench/langid.sh [CORPUS_DIR] [PAGES_PER_LANGUAGE]   (default ../shared/bench/corpus, 150)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
per=${2:-150}
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
{
  echo "commit $(git rev-parse --short HEAD) date $(date -u +%FT%TZ) cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  for args in "-accuracy low" "-accuracy low -max-chars 2000" "-accuracy high"; do
    echo "## manpages $args"
    /usr/bin/time -f "time: %e s wall, %U s user, %S s sys, peak RSS %M KB" "$work/langid" -input "$work/manpages.jsonl" $args 2>&1
  done
  echo "## shared corpus (non-English handbook editions) -accuracy low"
  /usr/bin/time -f "time: %e s wall, %U s user, %S s sys, peak RSS %M KB" "$work/langid" -input "$corpus/corpus.jsonl.gz" -skip-en -accuracy low 2>&1
  echo "## the same without documents that are mostly English (their label is the edition's)"
  /usr/bin/time -f "time: %e s wall, %U s user, %S s sys, peak RSS %M KB" "$work/langid" -input "$corpus/corpus.jsonl.gz" -skip-en -max-english-share 0.1 -accuracy low 2>&1
} | tee "$out"
