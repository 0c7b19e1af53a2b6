#!/usr/bin/env bash
# Fuzzy dedup on 1, 2 and 3 `sluice worker` processes (one CPU each, on
# this machine, joined over loopback with token and TLS as in production)
# against the local runtime in the same session, on COPIES copies of the
# shared benchmark corpus. Per setting, the median of RUNS runs: wall, CPU
# seconds summed over every process (head + workers), MB of JSONL per
# CPU-second, peak RSS, the head's CPU share and the bytes its NATS server
# carried per byte of input (bench/cluster.py).
#
#   bench/cluster.sh [CORPUS_DIR] [RUNS] [COPIES] [WORKERS] [WORKER_ENV]
#                    (default ../shared/bench/corpus, 3, 10, "1,2,3", "")
#
# WORKER_ENV (KEY=VALUE,...) is added to the workers' environment, e.g.
# GOMAXPROCS=1. Settings are interleaved run by run.
#
# Results are appended as JSON lines to bench/results/cluster-<date>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
runs=${2:-3}
copies=${3:-10}
workers=${4:-1,2,3}
worker_env=${5:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results "$work/in"
out=bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ).jsonl

zcat "$corpus/corpus.jsonl.gz" > "$work/in/part-00.jsonl"
for i in $(seq 1 $((copies - 1))); do
  cp "$work/in/part-00.jsonl" "$work/in/part-$(printf %02d "$i").jsonl"
done
go build -o "$work/sluice" ./cmd/sluice
echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"copies\":$copies,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a "$out"
python3 bench/cluster.py --sluice "$work/sluice" --input "$work/in" --work "$work" --runs "$runs" --workers "$workers" --worker-env "$worker_env" --json "$out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "results: $out"
