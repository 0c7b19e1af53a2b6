#!/usr/bin/env bash
# What the removal ledger, the audit (sources, histograms, the precision
# sample) and report.html cost: `sluice dedup fuzzy` on the shared
# benchmark corpus, built from BASE (a commit before the ledger) and from
# the working tree, runs interleaved (base, new, base, new, ...), at the
# defaults and with --verify-threshold 0.8. Each run starts with an empty
# cache. Prints measure.py's JSON lines (medians of wall, CPU seconds and
# peak RSS).
#
#   bench/fuzzy_audit.sh BASE [CORPUS_DIR] [RUNS]   (default ../shared/bench/corpus, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
base=$1
corpus=${2:-../shared/bench/corpus}
runs=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
zcat "$corpus/corpus.jsonl.gz" > "$work/corpus.jsonl"
git archive "$base" | tar -x -C "$work" --one-top-level=base
(cd "$work/base" && go build -o "$work/sluice-base" ./cmd/sluice)
go build -o "$work/sluice-new" ./cmd/sluice
echo "{\"base\":\"$(git rev-parse --short "$base")\",\"new\":\"$(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc)}"
for flags in "" "--verify-threshold 0.8"; do
  for i in $(seq "$runs"); do
    for b in base new; do
      # shellcheck disable=SC2086
      python3 bench/measure.py --runs 1 --label "$b ${flags:-defaults} #$i" \
        --before "rm -rf $work/out-$b" -- "$work/sluice-$b" dedup fuzzy --input "$work/corpus.jsonl" --output "$work/out-$b" $flags
    done
  done
done
