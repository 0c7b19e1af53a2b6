#!/usr/bin/env python3
"""Upper bounds for a dedup method that measures one similarity perfectly,
scored against another: for each similarity S in the truth file, the ideal
removal list under S (all but the smallest id of each connected component of
truth pairs with S >= t) is scored with eval_pairs.py against every
similarity. Standard library only.

usage: oracle_bound.py CORPUS_DIR [--t 0.8]
(eval_pairs.py is looked for next to CORPUS_DIR)
"""
import argparse, gzip, json, os, subprocess, sys, tempfile
from collections import defaultdict


def ideal(truth_path, sim, t):
    opener = gzip.open if truth_path.endswith(".gz") else open
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    with opener(truth_path, "rt", encoding="utf-8") as f:
        col = f.readline().rstrip("\n").split("\t").index(sim)
        for line in f:
            x = line.rstrip("\n").split("\t")
            if float(x[col]) >= t:
                parent[find(x[0])] = find(x[1])
    comps = defaultdict(list)
    for x in list(parent):
        comps[find(x)].append(x)
    return sorted(y for c in comps.values() for y in sorted(c)[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--t", type=float, default=0.8)
    a = ap.parse_args()
    truth = os.path.join(a.corpus, "truth_pairs.tsv")
    if not os.path.exists(truth):
        truth += ".gz"
    with (gzip.open(truth, "rt") if truth.endswith(".gz") else open(truth)) as f:
        sims = [c for c in f.readline().rstrip("\n").split("\t") if c.startswith("J")]
    evaluator = os.path.join(os.path.dirname(os.path.abspath(a.corpus)), "eval_pairs.py")
    print("| ideal list for | scored against | precision | recall |\n|---|---|---|---|")
    for s in sims:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as tf:
            tf.write("\n".join(ideal(truth, s, a.t)) + "\n")
        for e in sims:
            r = json.loads(subprocess.run([sys.executable, evaluator, a.corpus, tf.name, "--kind", "removed",
                                           "--t", str(a.t), "--sim", e], check=True, capture_output=True, text=True).stdout)
            print("| %s ≥ %g | %s | %.3f | %.3f |" % (s, a.t, e, r["precision"], r["recall"]))
        os.unlink(tf.name)


if __name__ == "__main__":
    main()
