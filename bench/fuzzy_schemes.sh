#!/usr/bin/env bash
# Whole-workflow speed of `sluice dedup fuzzy` on the shared benchmark
# corpus, NeMo's scheme against OPH (and any other flag sets), interleaved:
# every round runs each variant once, so that load from other work on a
# shared machine hits all of them alike. Reports per variant the median of
# the rounds (wall, CPU seconds = user + system, peak RSS, from GNU time via
# measure.py), MB of JSONL and of text per CPU-second, and each variant's
# CPU ratio to the first, median over rounds of the per-round ratio.
#
#   [BINARIES="base=PATH new=PATH"] bench/fuzzy_schemes.sh [CORPUS_DIR] [ROUNDS] [VARIANT...]
#
# With BINARIES, every round runs each variant with each binary (labels
# "binary/variant"; the ratios are to the first binary's first variant),
# so that builds of two commits are compared in one session. Default: the
# binary built from this tree.
# A variant is a label and flags, "label:flag,flag,...", e.g.
# "oph:--scheme,oph". Default: nemo (defaults), oph (--scheme oph) and the
# two presets. Fresh output and cache every run.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
rounds=${2:-5}
shift 2 || shift $#
variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
  variants=("nemo:" "oph:--scheme,oph" "high-recall:--preset,high-recall" "high-recall-normalized:--preset,high-recall-normalized")
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/schemes-$(date -u +%Y%m%dT%H%M%SZ).jsonl
zcat "$corpus/corpus.jsonl.gz" > "$work/corpus.jsonl"
if [ -z "${BINARIES:-}" ]; then
  go build -o "$work/sluice" ./cmd/sluice
  BINARIES="$(git rev-parse --short HEAD)=$work/sluice"
fi
jsonl=$(stat -c %s "$work/corpus.jsonl")
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"binaries\":\"$BINARIES\",\"corpus_bytes\":$jsonl,\"load_before\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a "$out"

nbin=$(wc -w <<< "$BINARIES")
for r in $(seq "$rounds"); do
  for b in $BINARIES; do
  for v in "${variants[@]}"; do
    label=${v%%:*}
    if [ "$nbin" -gt 1 ]; then label="${b%%=*}/$label"; fi
    IFS=, read -r -a flags <<< "${v#*:}"
    python3 bench/measure.py --runs 1 --label "$label" --json "$work/runs.jsonl" \
      --before "rm -rf $work/out" -- \
      "${b#*=}" dedup fuzzy --input "$work/corpus.jsonl" --output "$work/out" "${flags[@]}" > /dev/null
    text=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["text_bytes"])' "$work/out/summary.json")
    echo "{\"label\":\"$label\",\"round\":$r,\"text_bytes\":$text,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$work/meta.jsonl"
  done
  done
done
cat "$work/runs.jsonl" >> "$out"
echo "{\"load_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a "$out"

python3 - "$work/runs.jsonl" "$work/meta.jsonl" "$jsonl" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
meta = [json.loads(l) for l in open(sys.argv[2])]
jsonl_mb = int(sys.argv[3]) / 1e6
labels = list(dict.fromkeys(r["label"] for r in runs))
by = {l: [r["runs"][0] for r in runs if r["label"] == l] for l in labels}
text_mb = meta[0]["text_bytes"] / 1e6
base = by[labels[0]]
print("| variant | wall s (runs) | CPU s (runs) | peak RSS MiB (runs) | MB JSONL / CPU-s | MB text / CPU-s | CPU × %s |" % labels[0])
print("|---|---|---|---|---|---|---|")
for l in labels:
    rs = by[l]
    def col(k):
        return "%s → **%s**" % (" · ".join("%.2f" % r[k] if k != "peak_rss_mib" else "%.1f" % r[k] for r in rs),
                                ("%.2f" if k != "peak_rss_mib" else "%.1f") % statistics.median(r[k] for r in rs))
    cpu = statistics.median(r["cpu_s"] for r in rs)
    ratio = statistics.median(b["cpu_s"] / r["cpu_s"] for b, r in zip(base, rs))
    print("| %s | %s | %s | %s | %.1f | %.1f | %.2f |" % (l, col("wall_s"), col("cpu_s"), col("peak_rss_mib"), jsonl_mb / cpu, text_mb / cpu, ratio))
EOF
echo "results: $out" >&2
