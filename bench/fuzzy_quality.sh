#!/usr/bin/env bash
# Precision and recall of `sluice dedup fuzzy` on the shared benchmark corpus
# for several LSH shapes (bands × rows) and signature schemes, without and
# with --verify-threshold 0.8, scored with eval_pairs.py against J5 and
# Jc24 (document level, t = 0.8). A run is deterministic for its seed, but
# one seed is one draw of the hash functions (see the candidate-rate section
# of docs/benchmarks.md), so each configuration runs once per seed in SEEDS
# (default 42) and the table gives the mean over seeds, with the range when
# there are several. Each run's CPU seconds and peak RSS come from
# summary.json (single runs on a shared machine: indicative only).
#
#   [SEEDS="1 2 3"] bench/fuzzy_quality.sh [CORPUS_DIR] [CONFIGS...]
#
# A configuration is SCHEME:BANDSxROWS[:EXTRA FLAGS, comma-separated], e.g.
# oph:40x10 or oph:30x10:--normalize. Default: NeMo at 20x13 and OPH at
# 20x13, 25x10, 30x10, 40x10, 40x13 and 50x10.
#
# Prints a Markdown table; JSON lines go to bench/results/quality-<date>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
shift || true
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  configs=(nemo:20x13 oph:20x13 oph:25x10 oph:30x10 oph:40x10 oph:40x13 oph:50x10)
fi
seeds=${SEEDS:-42}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/quality-$(date -u +%Y%m%dT%H%M%SZ).jsonl
zcat "$corpus/corpus.jsonl.gz" > "$work/corpus.jsonl"
go build -o "$work/sluice" ./cmd/sluice
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"seeds\":\"$seeds\"}" >> "$out"

# record SCHEME SHAPE FLAGS SEED J5 JC24 SUMMARY: one JSON line for a run.
record() {
  python3 -c '
import json, sys
scheme, shape, flags, seed, j5, jc, summary = sys.argv[1:]
s = json.load(open(summary))
print(json.dumps({"scheme": scheme, "shape": shape, "flags": flags, "seed": int(seed), "J5": json.loads(j5),
                  "Jc24": json.loads(jc), "cpu_s": round(s["cpu_seconds"], 2), "peak_rss_mib": round(s["peak_rss_bytes"] / 2**20, 1)}))
' "$@"
}

# row RUNS.jsonl: one table row, the mean (and range) over the runs.
row() {
  python3 -c '
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def cell(vals):
    m = statistics.mean(vals)
    return "%.3f" % m if len(vals) == 1 else "%.3f (%.3f–%.3f)" % (m, min(vals), max(vals))
r0 = runs[0]
cols = [cell([r[sim][k] for r in runs]) for sim in ("J5", "Jc24") for k in ("precision", "recall")]
print("| %s | %s | %s | %s | %.2f | %.1f |" % (r0["scheme"], r0["shape"].replace("x", " × "), r0["flags"] or "–", " | ".join(cols),
      statistics.median(r["cpu_s"] for r in runs), statistics.median(r["peak_rss_mib"] for r in runs)))
' "$1"
}

echo "seeds: $seeds"
echo
echo "| scheme | bands × rows | flags | J5 P | J5 R | Jc24 P | Jc24 R | CPU s | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in "${configs[@]}"; do
  IFS=: read -r scheme shape extra <<< "$c"
  bands=${shape%x*}
  rows=${shape#*x}
  IFS=, read -r -a flags <<< "${extra:-}"
  for verify in 0 0.8; do
    f="${extra//,/ }"
    if [ "$verify" != 0 ]; then f="${f:+$f }--verify-threshold $verify"; fi
    : > "$work/runs.jsonl"
    for seed in $seeds; do
      o="$work/o"
      rm -rf "$o"
      "$work/sluice" dedup fuzzy --input "$work/corpus.jsonl" --output "$o" --no-remove \
        --removed-ids-out "$o/removed.txt" --scheme "$scheme" --bands "$bands" --rows "$rows" \
        --seed "$seed" --verify-threshold "$verify" "${flags[@]}" 2>/dev/null
      j5=$(python3 "$corpus/../eval_pairs.py" "$corpus" "$o/removed.txt" --kind removed --t 0.8 --sim J5)
      jc=$(python3 "$corpus/../eval_pairs.py" "$corpus" "$o/removed.txt" --kind removed --t 0.8 --sim Jc24)
      record "$scheme" "$shape" "$f" "$seed" "$j5" "$jc" "$o/summary.json" >> "$work/runs.jsonl"
    done
    cat "$work/runs.jsonl" >> "$out"
    row "$work/runs.jsonl"
  done
done
echo "results: $out" >&2
