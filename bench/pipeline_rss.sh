#!/usr/bin/env bash
# Peak RSS of a 3-stage pipeline over 1 GiB of synthetic documents
# (bench/pipeline-1g.yaml: generate → normalize → discard), streaming mode
# against stage-by-stage mode, median of RUNS runs each.
#
#   bench/pipeline_rss.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/pipeline-rss-$(date -u +%Y%m%dT%H%M%SZ).jsonl
go build -o "$work/sluice" ./cmd/sluice
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cores\":$(nproc)}" | tee -a "$out"
for mode in streaming stage-by-stage; do
  python3 bench/measure.py --runs "$runs" --label "pipeline-1g/$mode" --json "$out" -- \
    "$work/sluice" run bench/pipeline-1g.yaml --mode "$mode"
done
echo "results: $out"
