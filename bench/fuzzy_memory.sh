#!/usr/bin/env bash
# Memory of fuzzy dedup on larger corpora made from the shared corpus (the
# corpus plus N-1 mutated copies, bench/mutate_corpus.py): for each size,
# peak RSS with --bands-per-iteration 1 against 20, and with --memory-limit
# 256MiB (and 32MiB) against unlimited. Median of RUNS runs each. If memory is
# bounded by the limit and not by the data, the limited runs stay flat as the
# corpus grows while the unlimited ones grow with it.
#
#   bench/fuzzy_memory.sh [CORPUS_DIR] [RUNS] [SIZES]
#   (defaults: ../shared/bench/corpus, 3, "10 30")
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
runs=${2:-3}
sizes=${3:-10 30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/fuzzy-memory-$(date -u +%Y%m%dT%H%M%SZ).jsonl
go build -o "$work/sluice" ./cmd/sluice
for n in $sizes; do
  python3 bench/mutate_corpus.py "$corpus/corpus.jsonl.gz" "$n" > "$work/corpus$n.jsonl"
  echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cores\":$(nproc),\"size\":$n,\"corpus_bytes\":$(stat -c %s "$work/corpus$n.jsonl")}" | tee -a "$out"
  # Signatures once; every measured run re-does LSH, components and the
  # duplicate list from the cached signatures (the MinHash cache key ignores
  # these settings).
  "$work/sluice" dedup fuzzy --input "$work/corpus$n.jsonl" --output "$work/warm" --cache "$work/cache$n" --no-remove --overwrite 2>/dev/null
  for args in "--memory-limit 0 --bands-per-iteration 1" "--memory-limit 0 --bands-per-iteration 20" \
              "--memory-limit 256MiB --bands-per-iteration 20" "--memory-limit 32MiB --bands-per-iteration 20"; do
    label=$(echo "$args" | tr ' ' '_')
    python3 bench/measure.py --runs "$runs" --label "memory${n}x/$label" --json "$out" \
      --before "rm -rf $work/cache$n/mh-*/lsh-* $work/o" -- \
      "$work/sluice" dedup fuzzy --input "$work/corpus$n.jsonl" --output "$work/o" --cache "$work/cache$n" --no-remove $args
  done
  rm -rf "$work/cache$n" "$work/corpus$n.jsonl"
done
echo "results: $out"
