#!/usr/bin/env python3
"""Write a corpus N times larger: the original plus N-1 mutated copies of
every document (a few word substitutions each, new ids), so that the copies
are near-duplicates of their originals. Standard library only.

usage: mutate_corpus.py CORPUS.jsonl[.gz] N > OUT.jsonl
"""
import gzip, json, random, sys

path, n = sys.argv[1], int(sys.argv[2])
opener = gzip.open if path.endswith(".gz") else open
docs = [json.loads(l) for l in opener(path, "rt", encoding="utf-8") if l.strip()]
rng = random.Random(1)
out = sys.stdout
for copy in range(n):
    for d in docs:
        text = d["text"]
        if copy:
            words = text.split(" ")
            for _ in range(max(1, len(words) // 200)):
                words[rng.randrange(len(words))] = rng.choice(("alpha", "beta", "gamma", "delta"))
            text = " ".join(words)
        rec = dict(d, id="%s~%d" % (d["id"], copy), text=text)
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
