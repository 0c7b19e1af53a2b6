#!/usr/bin/env bash
# Whole-workflow benchmark of `sluice dedup exact` on the shared benchmark
# corpus: median wall time, CPU seconds and peak RSS of RUNS runs (each with
# a fresh output and cache), and MB of text per CPU-second, for the default
# (NeMo's scheme: MD5 of the raw text), --normalize, --no-remove (no
# dataset written) and the gzip-compressed corpus read as it is.
#
#   bench/exact.sh [CORPUS_DIR] [RUNS]      (default ../shared/bench/corpus, 5)
#
# Results are appended as JSON lines to bench/results/exact-<date>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/exact-$(date -u +%Y%m%dT%H%M%SZ).jsonl

zcat "$corpus/corpus.jsonl.gz" > "$work/corpus.jsonl"
cp "$corpus/corpus.jsonl.gz" "$work/gz.jsonl.gz"
go build -o "$work/sluice" ./cmd/sluice
bytes=$(stat -c %s "$work/corpus.jsonl")
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"corpus_bytes\":$bytes}" | tee -a "$out"

measure() { # label, input, extra flags...
  local label=$1 input=$2; shift 2
  python3 bench/measure.py --runs "$runs" --label "exact/$label" --json "$out" \
    --before "rm -rf $work/out" -- "$work/sluice" dedup exact --input "$input" --output "$work/out" "$@" |
    python3 -c "import json,sys; r=json.load(sys.stdin); m=r['median']; print('%-12s wall %.2f s  CPU %.2f s  peak RSS %.1f MiB  %.0f MB/CPU-s  runs %s' % ('$label', m['wall_s'], m['cpu_s'], m['peak_rss_mib'], $bytes/1e6/m['cpu_s'], [x['cpu_s'] for x in r['runs']]))"
}
measure default "$work/corpus.jsonl"
measure normalize "$work/corpus.jsonl" --normalize
measure no-remove "$work/corpus.jsonl" --no-remove
measure gzip "$work/gz.jsonl.gz"
echo "results: $out"
