#!/usr/bin/env bash
# Memory of fuzzy dedup on a 10× corpus (the shared corpus plus 9 mutated
# copies): peak RSS with --bands-per-iteration 1 against 20, and with
# --memory-limit 256MiB (and 32MiB, which forces spilling at this size)
# against unlimited. Median of RUNS runs each.
#
#   bench/fuzzy_memory.sh [CORPUS_DIR] [RUNS]   (default ../shared/bench/corpus, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
runs=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/fuzzy-memory-$(date -u +%Y%m%dT%H%M%SZ).jsonl
python3 bench/mutate_corpus.py "$corpus/corpus.jsonl.gz" 10 > "$work/corpus10.jsonl"
GOEXPERIMENT=simd go build -o "$work/sluice" ./cmd/sluice
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cores\":$(nproc),\"corpus_bytes\":$(stat -c %s "$work/corpus10.jsonl")}" | tee -a "$out"
# Signatures once; every measured run re-does LSH, components and removal
# from the cached signatures (the cache key ignores these two settings).
"$work/sluice" dedup fuzzy --input "$work/corpus10.jsonl" --output "$work/warm" --cache "$work/cache" --no-remove 2>/dev/null
for args in "--bands-per-iteration 1" "--bands-per-iteration 20" "--memory-limit 256MiB --bands-per-iteration 20" "--memory-limit 32MiB --bands-per-iteration 20" "--memory-limit 0 --bands-per-iteration 20"; do
  label=$(echo "$args" | tr ' ' '_')
  python3 bench/measure.py --runs "$runs" --label "memory10x/$label" --json "$out" \
    --before "rm -rf $work/cache/mh-*/lsh-* $work/o" -- \
    "$work/sluice" dedup fuzzy --input "$work/corpus10.jsonl" --output "$work/o" --cache "$work/cache" --no-remove $args
done
echo "results: $out"
