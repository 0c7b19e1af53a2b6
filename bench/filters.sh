#!/usr/bin/env bash
# Benchmark of the quality-filter presets on the shared benchmark corpus:
# `sluice filter --preset P` end to end (read JSONL, filter, write JSONL),
# median of RUNS runs of wall time, CPU seconds and peak RSS (GNU time, via
# bench/measure.py), and MB of input text per CPU-second. Also runs the
# in-process benchmark of the rules alone (every rule on every document,
# no early drop): go test -bench Presets ./text/.
#
#   bench/filters.sh [CORPUS_DIR] [RUNS]      (default ../shared/bench/corpus, 5)
#
# Results are appended as JSON lines to bench/results/filters-<date>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
runs=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out=bench/results/filters-$(date -u +%Y%m%dT%H%M%SZ).jsonl

zcat "$corpus/corpus.jsonl.gz" > "$work/corpus.jsonl"
go build -o "$work/sluice" ./cmd/sluice
text_mb=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['text'].encode()) for l in open(sys.argv[1]))/1e6)" "$work/corpus.jsonl")
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"corpus_bytes\":$(stat -c %s "$work/corpus.jsonl"),\"text_mb\":$text_mb}" | tee -a "$out"

for preset in gopher c4 fineweb nemo; do
  python3 bench/measure.py --runs "$runs" --label "sluice-filter/$preset" --json "$out" \
    --before "rm -rf $work/out-$preset $work/rej-$preset" -- \
    "$work/sluice" filter --preset "$preset" --input "$work/corpus.jsonl" --output "$work/out-$preset" --rejected "$work/rej-$preset"
done
# Baseline in the same session: the same read and write with no filter.
cat > "$work/baseline.yaml" <<YAML
stages:
  - {type: jsonl_reader, name: read, config: {paths: [$work/corpus.jsonl]}}
  - {type: jsonl_writer, name: write, config: {dir: $work/out-baseline}}
YAML
python3 bench/measure.py --runs "$runs" --label "sluice-filter/baseline-read-write" --json "$out" \
  --before "rm -rf $work/out-baseline" -- "$work/sluice" run "$work/baseline.yaml"
# The 28 scores of NeMo's English pipeline, all computed for every document,
# by Sluice (bench/filterscores) and by a pure-Python rendering of NeMo's
# definitions (bench/nemo_crosscheck.py; needs Python's regex module), on
# the first 3,000 documents.
head -3000 "$work/corpus.jsonl" > "$work/c3k.jsonl"
go build -o "$work/filterscores" ./bench/filterscores
python3 bench/measure.py --runs "$runs" --label "nemo-scores/sluice-3k" --json "$out" -- sh -c "$work/filterscores -preset nemo < $work/c3k.jsonl > /dev/null"
if python3 -c "import regex" 2>/dev/null; then
  python3 bench/measure.py --runs 1 --label "nemo-scores/python-3k" --json "$out" -- sh -c "python3 bench/nemo_crosscheck.py < $work/c3k.jsonl > /dev/null"
fi
mb3k=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['text'].encode()) for l in open(sys.argv[1]))/1e6)" "$work/c3k.jsonl")
python3 - "$out" "$text_mb" "$mb3k" <<'PY'
import json, sys
path, mb, mb3k = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
for line in open(path):
    r = json.loads(line)
    label = r.get("label", "")
    if label.startswith(("sluice-filter/", "nemo-scores/")):
        m = r["median"]
        size = mb3k if label.startswith("nemo-scores/") else mb
        print(f'{label:36s} median wall {m["wall_s"]:6.2f}s  cpu {m["cpu_s"]:6.2f}s  rss {m["peak_rss_mib"]:6.1f} MiB  {size / m["cpu_s"]:6.2f} MB/cpu-s')
PY
SLUICE_BENCH_CORPUS="$work/corpus.jsonl" go test -run '^$' -bench Presets -benchtime 1x -count "$runs" ./text/ | tee -a "$out.bench.txt"
