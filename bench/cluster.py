#!/usr/bin/env python3
"""Fuzzy dedup on `sluice worker` processes against the local runtime.

usage: cluster.py --sluice BIN --input DIR --work DIR [--runs N] [--workers 1,2,3] [--json OUT]

For each setting (local, then 1, 2, 3 workers) and each run: a fresh output
directory; the head (`sluice dedup fuzzy ... --listen 127.0.0.1:PORT
--min-workers N`) and each worker (`sluice worker --join ... --cpus 1`) run
under GNU time; the workers are started from the join line the head prints
and stopped with SIGTERM once the head exits. CPU is user+system of every
process (head + workers), so that MB per CPU-second counts all of it.
Also: the head's share of that CPU, and the bytes the head's NATS server
carried (its log line) per byte of input. Standard library only.
"""
import argparse, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

CARRIED = re.compile(r'msg="the head\'s NATS server carried" in_bytes=(\d+) out_bytes=(\d+) in_msgs=(\d+) out_msgs=(\d+)')
JOIN = re.compile(r'sluice worker --join (\S+) --token (\S+) --ca-sha256 (\S+)')


def timed(cmd, tfile, **kw):
    return subprocess.Popen(["/usr/bin/time", "-o", tfile, "-f", "%e %U %S %M"] + cmd, **kw)


def read_time(tfile):
    e, u, s, m = open(tfile).read().split()[-4:]
    return {"wall_s": float(e), "cpu_s": float(u) + float(s), "peak_rss_mib": int(m) / 1024}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def input_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def phases(out):
    """CPU seconds of each phase's calls, as the run's summary.json reports them."""
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    return {p["name"]: round(p["cpu_seconds"], 3) for p in s.get("phases", [])}


def run_local(a, tmp):
    out = os.path.join(tmp, "out")
    shutil.rmtree(out, ignore_errors=True)
    tf = os.path.join(tmp, "local.time")
    p = timed([a.sluice, "--log-level", "warn", "dedup", "fuzzy", "--input", a.input, "--output", out], tf,
              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = p.communicate()
    if p.returncode != 0:
        sys.exit("local run failed:\n" + err[-4000:])
    t = read_time(tf)
    return {"wall_s": t["wall_s"], "cpu_s": t["cpu_s"], "peak_rss_mib": t["peak_rss_mib"], "phase_cpu_s": phases(out)}


def run_cluster(a, tmp, n):
    out = os.path.join(tmp, "out")
    shutil.rmtree(out, ignore_errors=True)
    port = free_port()
    htf = os.path.join(tmp, "head.time")
    herr = open(os.path.join(tmp, "head.log"), "w+")
    head = timed([a.sluice, "dedup", "fuzzy", "--input", a.input, "--output", out,
                  "--listen", "127.0.0.1:%d" % port, "--min-workers", str(n), "--wait-workers", "60s"], htf,
                 stdout=subprocess.DEVNULL, stderr=herr)
    join = None
    for _ in range(600):
        herr.seek(0)
        m = JOIN.search(herr.read())
        if m:
            join = m.groups()
            break
        time.sleep(0.05)
    if not join:
        head.kill()
        sys.exit("the head printed no join line")
    url, token, pin = join
    workers = []
    for i in range(n):
        tf = os.path.join(tmp, "w%d.time" % i)
        log = open(os.path.join(tmp, "w%d.log" % i), "w")
        scratch = os.path.join(tmp, "scratch%d" % i)
        env = dict(os.environ)
        env.update(kv.split("=", 1) for kv in a.worker_env.split(",") if kv)
        p = timed([a.sluice, "worker", "--join", url, "--token", token, "--ca-sha256", pin, "--cpus", "1",
                   "--name", "w%d" % (i + 1), "--scratch", scratch], tf, stdout=log, stderr=log, env=env)
        workers.append((p, tf))
    head.wait()
    for p, _ in workers:
        # SIGTERM to the worker itself (GNU time does not pass it on): it
        # leaves and exits 0, and time writes its figures.
        for c in open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split():
            os.kill(int(c), signal.SIGTERM)
    for p, _ in workers:
        p.wait(timeout=30)
    herr.seek(0)
    log = herr.read()
    if head.returncode != 0:
        for i in range(n):
            sys.stderr.write("--- w%d's log:\n%s\n" % (i + 1, open(os.path.join(tmp, "w%d.log" % i)).read()[-3000:]))
        sys.exit("cluster run (%d workers) failed:\n%s" % (n, log[-4000:]))
    h = read_time(htf)
    ws = [read_time(tf) for _, tf in workers]
    c = CARRIED.search(log)
    cpu = h["cpu_s"] + sum(w["cpu_s"] for w in ws)
    return {"wall_s": h["wall_s"], "cpu_s": cpu, "head_cpu_s": h["cpu_s"], "worker_cpu_s": [w["cpu_s"] for w in ws],
            "peak_rss_mib": max([h["peak_rss_mib"]] + [w["peak_rss_mib"] for w in ws]),
            "head_rss_mib": h["peak_rss_mib"], "worker_rss_mib": [w["peak_rss_mib"] for w in ws],
            "server_in_bytes": int(c.group(1)) if c else None, "server_out_bytes": int(c.group(2)) if c else None,
            "phase_cpu_s": phases(out), "nodes_lost": [l for l in log.splitlines() if 'msg="node lost" ' in l]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", default="1,2,3")
    ap.add_argument("--json")
    ap.add_argument("--worker-env", default="", help="KEY=VALUE,... added to the workers' environment (e.g. GOMAXPROCS=1)")
    a = ap.parse_args()
    size = input_bytes(a.input)
    settings = ["local"] + [int(x) for x in a.workers.split(",")]
    # Runs are interleaved (local, 1, 2, 3 workers, then again), so that the
    # load of a shared machine drifts over every setting alike.
    runs = {s: [] for s in settings}
    for _ in range(a.runs):
        for s in settings:
            tmp = tempfile.mkdtemp(dir=a.work)
            runs[s].append(run_local(a, tmp) if s == "local" else run_cluster(a, tmp, s))
            shutil.rmtree(tmp)
            print(json.dumps({"setting": str(s), "run": runs[s][-1]}), file=sys.stderr, flush=True)
    for s in settings:
        rs = runs[s]
        med = {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "peak_rss_mib")}
        med["mb_per_cpu_s"] = size / 1e6 / med["cpu_s"]
        if s != "local":
            med["head_cpu_share"] = statistics.median(r["head_cpu_s"] / r["cpu_s"] for r in rs)
            if all(r["server_in_bytes"] is not None for r in rs):
                med["head_in_bytes_per_input_byte"] = statistics.median(r["server_in_bytes"] / size for r in rs)
                med["head_out_bytes_per_input_byte"] = statistics.median(r["server_out_bytes"] / size for r in rs)
        out = {"label": "local" if s == "local" else "workers=%d" % s, "input_bytes": size, "worker_env": a.worker_env,
               "runs": rs, "median": med}
        print(json.dumps(out), flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(out) + "\n")

if __name__ == "__main__":
    main()
