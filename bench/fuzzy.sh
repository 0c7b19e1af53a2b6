#!/usr/bin/env bash
# Whole-workflow benchmark of `sluice dedup fuzzy` on the shared benchmark
# corpus: speed (median of RUNS runs: wall, CPU seconds, peak RSS) of the
# default build (AVX2 assembly kernels) against the pure-Go build measured in
# the same run, with --verify-threshold 0.8, and quality
# (eval_pairs.py) at the defaults, with --verify-threshold, and with
# --normalize.
#
#   bench/fuzzy.sh [CORPUS_DIR] [RUNS]      (default ../shared/bench/corpus, 3)
#
# Results are appended as JSON lines to bench/results/fuzzy-<date>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
runs=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/fuzzy-$(date -u +%Y%m%dT%H%M%SZ).jsonl

zcat "$corpus/corpus.jsonl.gz" > "$work/corpus.jsonl"
go build -o "$work/sluice-asm" ./cmd/sluice                   # default build: AVX2 assembly kernels
go build -tags purego -o "$work/sluice-purego" ./cmd/sluice   # pure Go: the baseline
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"corpus_bytes\":$(stat -c %s "$work/corpus.jsonl")}" | tee -a "$out"

for build in asm purego; do
  python3 bench/measure.py --runs "$runs" --label "workflow/$build" --json "$out" \
    --before "rm -rf $work/out-$build" -- \
    "$work/sluice-$build" dedup fuzzy --input "$work/corpus.jsonl" --output "$work/out-$build"
done
python3 bench/measure.py --runs "$runs" --label "workflow/asm/verify-0.8" --json "$out" \
  --before "rm -rf $work/out-verify" -- \
  "$work/sluice-asm" dedup fuzzy --input "$work/corpus.jsonl" --output "$work/out-verify" --verify-threshold 0.8

quality() { # label, extra flags...
  local label=$1; shift
  "$work/sluice-asm" dedup fuzzy --input "$work/corpus.jsonl" --output "$work/q-$label" \
    --cache "$work/qcache" --removed-ids-out "$work/q-$label/removed.txt" "$@" 2>/dev/null
  for sim in J5 Jc24; do
    r=$(python3 "$corpus/../eval_pairs.py" "$corpus" "$work/q-$label/removed.txt" --kind removed --t 0.8 --sim $sim)
    echo "{\"label\":\"quality/$label\",\"flags\":\"$*\",\"sim\":\"$sim\",\"result\":$r}" | tee -a "$out"
  done
}
quality defaults
quality verify-0.8 --verify-threshold 0.8
quality verify-0.78 --verify-threshold 0.78
quality normalize --normalize
quality normalize-verify-0.8 --normalize --verify-threshold 0.8

# LSH candidate rate per similarity bucket against theory, over 21 seeds
# (signatures computed in-process with the workflow's kernel).
go run ./bench/lshcurve -corpus "$corpus" -seeds 1-20,42 -sim Jc24 | tee -a "$out.curve.md"
echo "results: $out"
