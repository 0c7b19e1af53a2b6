#!/usr/bin/env bash
# Fuzzy dedup with s3:// input, output and cache against local paths, on the
# same data in one session: median wall time, CPU seconds and peak RSS of
# RUNS runs of `sluice dedup fuzzy` (each with a fresh output and cache), MB
# of JSONL per CPU-second, and the S3 server's own CPU seconds per run. The
# server is versitygw (scripts/versitygw.sh) on 127.0.0.1, serving a local
# directory, so the figures show Sluice's S3 overhead (HTTP, signing,
# copies), not a network's.
#
#   bench/s3.sh [CORPUS_DIR] [RUNS]      (default ../shared/bench/corpus, 3)
#
# Variants: local (local input, output and cache); s3 (all three on S3);
# s3-local-cache (input and output on S3, cache on local disk).
# Results are appended as JSON lines to bench/results/s3-<date>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus}
runs=${2:-3}
work=$(mktemp -d)
gwbin=$(scripts/versitygw.sh)
mkdir -p bench/results "$work/gw/bench/in"
out=bench/results/s3-$(date -u +%Y%m%dT%H%M%SZ).jsonl

zcat "$corpus/corpus.jsonl.gz" > "$work/corpus.jsonl"
cp "$work/corpus.jsonl" "$work/gw/bench/in/corpus.jsonl" # the posix backend serves it as s3://bench/in/corpus.jsonl
go build -o "$work/sluice" ./cmd/sluice
bytes=$(stat -c %s "$work/corpus.jsonl")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=benchsecret0123456789 AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:$port
"$gwbin" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --port "127.0.0.1:$port" posix "$work/gw" >"$work/gw.log" 2>&1 &
gwpid=$!
trap 'kill $gwpid 2>/dev/null; wait $gwpid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "$AWS_ENDPOINT_URL/" && break; sleep 0.1; done

echo "{\"commit\":\"$(git rev-parse --short HEAD)\",\"date\":\"$(date -u +%FT%TZ)\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",\"cores\":$(nproc),\"corpus_bytes\":$bytes}" | tee -a "$out"

servercpu() { # user+system seconds of the server so far
  awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$gwpid/stat"
}
measure() { # label, flags...
  local label=$1; shift
  local c0 c1
  c0=$(servercpu)
  python3 bench/measure.py --runs "$runs" --label "s3/$label" --json "$out" \
    --before "rm -rf $work/out $work/cache $work/gw/bench/out $work/gw/bench/cache" -- "$work/sluice" dedup fuzzy "$@" >"$work/m.json"
  c1=$(servercpu)
  python3 - "$work/m.json" "$label" "$bytes" "$c0" "$c1" "$runs" <<'PY' | tee -a "$out"
import json, sys
r = json.load(open(sys.argv[1])); label, size = sys.argv[2], int(sys.argv[3])
srv = (float(sys.argv[5]) - float(sys.argv[4])) / int(sys.argv[6])
m = r["median"]
print(json.dumps({"label": label, "median": m, "server_cpu_s_per_run": round(srv, 2), "runs": r["runs"], "command": r["command"]}))
sys.stderr.write("%-15s wall %.2f s  CPU %.2f s (+ server %.2f s)  peak RSS %.1f MiB  %.1f MB/CPU-s  runs wall %s CPU %s\n" % (
    label, m["wall_s"], m["cpu_s"], srv, m["peak_rss_mib"], size / 1e6 / m["cpu_s"],
    [x["wall_s"] for x in r["runs"]], [x["cpu_s"] for x in r["runs"]]))
PY
}
measure local --input "$work/corpus.jsonl" --output "$work/out"
measure s3 --input s3://bench/in/corpus.jsonl --output s3://bench/out --cache s3://bench/cache
measure s3-local-cache --input s3://bench/in/corpus.jsonl --output s3://bench/out --cache "$work/cache"
echo "results: $out" >&2
