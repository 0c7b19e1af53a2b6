#!/usr/bin/env bash
# Many small files: `sluice dedup fuzzy` on the same documents as one JSONL
# file and split into many small JSONL files (by default the first 15,000
# documents of the shared benchmark corpus, 3 per file: 5,000 files),
# interleaved round by round so that load from other work on a shared
# machine hits every variant alike. Variants: the one file; the small files
# at the defaults; with --blocksize 1GiB; with --files-per-partition 1 (one
# file per group, the default before issue 12). Reports per binary and
# variant the median over rounds of wall, CPU seconds (user + system, GNU
# time) and peak RSS, and the median of the per-round ratio of the
# variant's CPU to the one file's.
#
#   [BINARIES="base=PATH new=PATH"] [VARIANTS="one-file small-files"] \
#     bench/small_files.sh [CORPUS_DIR] [ROUNDS] [DOCS] [PER_FILE]
#
# VARIANTS keeps only the named variants (one-file, small-files,
# small-files-blocksize-1GiB, small-files-one-per-group; one-file is always
# run, as the reference).
# Default: the binary built from this tree, 3 rounds, 15000 documents, 3 per
# file. The split corpus is written under a fresh directory in /tmp; every
# run gets a fresh output and cache directory, and the outputs are deleted
# only at the end. ext4 without a journal (as on the machine these figures
# come from) allocates a new file's inode by skipping the inodes freed in
# the last one to five minutes, looking each up in the buffer cache: right
# after the previous run's 5,000 files were deleted, creating the next
# run's output files cost up to eight times as much system time (about
# 230 µs per file against 30 µs, measured with perf here), which measured
# the benchmark's own deletions rather than Sluice. The file system is
# synced before each run. For the same reason, start it at least five
# minutes after deleting many files on the same file system, such as the
# outputs an earlier run of this script deletes when it ends. JSON lines go to
# bench/results/small-files-<date>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
rounds=${2:-3}
docs=${3:-15000}
per=${4:-3}
if [ ! -r "$corpus/corpus.jsonl.gz" ]; then
  echo "no corpus at $corpus/corpus.jsonl.gz (give the shared corpus directory, e.g. /work/shared/bench/corpus)" >&2
  exit 2
fi
work=$(mktemp -d /tmp/sluice-small-files.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/small-files-$(date -u +%Y%m%dT%H%M%SZ).jsonl

(zcat "$corpus/corpus.jsonl.gz" || true) | head -n "$docs" > "$work/single.jsonl"  # zcat stops early: SIGPIPE
mkdir "$work/split"
split -l "$per" -d -a 6 --additional-suffix=.jsonl "$work/single.jsonl" "$work/split/part-"
nfiles=$(ls "$work/split" | wc -l)
if [ -z "${BINARIES:-}" ]; then
  go build -o "$work/sluice" ./cmd/sluice
  BINARIES="$(git rev-parse --short HEAD)=$work/sluice"
fi
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"docs\":$docs,\"files\":$nfiles,\"binaries\":\"$BINARIES\",\"load_before\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a "$out"

variants=("one-file:$work/single.jsonl:" "small-files:$work/split:" "small-files-blocksize-1GiB:$work/split:--blocksize,1GiB" "small-files-one-per-group:$work/split:--files-per-partition,1")
n=0
for r in $(seq "$rounds"); do
  for b in $BINARIES; do
    for v in "${variants[@]}"; do
      IFS=: read -r label input flagstr <<< "$v"
      if [ -n "${VARIANTS:-}" ] && [ "$label" != one-file ] && ! grep -qw -- "$label" <<< "$VARIANTS"; then continue; fi
      IFS=, read -r -a flags <<< "$flagstr"
      n=$((n + 1))
      python3 bench/measure.py --runs 1 --label "${b%%=*}/$label" --json "$work/runs.jsonl" \
        --before "sync" -- \
        "${b#*=}" dedup fuzzy --input "$input" --output "$work/out/$n" "${flags[@]}" > /dev/null
      echo "{\"label\":\"${b%%=*}/$label\",\"round\":$r,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$work/meta.jsonl"
    done
  done
done
cat "$work/runs.jsonl" "$work/meta.jsonl" >> "$out"
echo "{\"load_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a "$out"

python3 - "$work/runs.jsonl" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
labels = list(dict.fromkeys(r["label"] for r in runs))
by = {l: [r["runs"][0] for r in runs if r["label"] == l] for l in labels}
print("| binary / variant | wall s (runs) | CPU s (runs) | peak RSS MiB (runs) | CPU × one file |")
print("|---|---|---|---|---|")
for l in labels:
    rs = by[l]
    base = by[l.split("/")[0] + "/one-file"]
    def col(k, f):
        return "%s → **%s**" % (" · ".join(f % r[k] for r in rs), f % statistics.median(r[k] for r in rs))
    ratio = statistics.median(r["cpu_s"] / b["cpu_s"] for b, r in zip(base, rs))
    print("| %s | %s | %s | %s | %.2f |" % (l, col("wall_s", "%.2f"), col("cpu_s", "%.2f"), col("peak_rss_mib", "%.1f"), ratio))
EOF
echo "results: $out" >&2
