#!/usr/bin/env python3
"""Run a command several times and report the median wall time, CPU seconds
(user+system) and peak RSS, measured by GNU time. Standard library only.

usage: measure.py [--runs N] [--label L] [--json OUT] -- COMMAND ARGS...
Prints one JSON object: label, runs, each run's figures and the medians.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time


def once(cmd):
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.time()
        p = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%e %U %S %M"] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.time() - t0
        if p.returncode != 0:
            sys.stderr.write(p.stderr[-4000:])
            raise SystemExit("command failed (%d): %s" % (p.returncode, " ".join(cmd)))
        e, u, s, m = tf.read().split()[-4:]
        return {"wall_s": float(e), "cpu_s": round(float(u) + float(s), 3), "peak_rss_mib": round(int(m) / 1024, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--label", default="")
    ap.add_argument("--json")
    ap.add_argument("--before", help="shell command run before each run (e.g. clearing an output dir)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    runs = []
    for _ in range(a.runs):
        if a.before:
            subprocess.run(a.before, shell=True, check=True)
        runs.append(once(cmd))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out = {"label": a.label, "command": " ".join(cmd), "runs": runs, "median": med}
    print(json.dumps(out))
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
