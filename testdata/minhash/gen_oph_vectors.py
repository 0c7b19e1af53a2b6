#!/usr/bin/python3
"""Generate reference vectors for the OPH scheme of package dedup/fuzzy/minhash.

The vectors are computed independently of the Go code:

  * XXH3_64bits_withSeed comes from the reference C library (Debian's
    libxxhash0, loaded with ctypes), not from the Go package the code uses;
  * SplitMix64 is written out here from Vigna's reference and checked against
    the outputs of his splitmix64.c for the state 1234567;
  * shingles are cut with Python string slicing (code points), bins and
    values follow the scheme's definition, and optimal densification probes
    one attempt at a time, the straightforward way.

The scheme (docs/fuzzy-dedup.md, "OPH scheme"), for K bins and seed s:

    h     = XXH3_64(window's UTF-8 bytes, seed=s)
    bin   = ((h mod 2^32) * K) >> 32
    value = (h >> 33) + 1                                  (in [1, 2^31])
    sig[i] = min value of the windows in bin i
    empty bin i: sig[i] = sig[probe(i, t)] for the first t = 1, 2, ...
                 whose bin is not empty, where
    probe(i, t) = ((splitmix64(d ^ (i << 32 | t)) mod 2^32) * K) >> 32,
    d = splitmix64(s ^ 0x6f70682d64656e73)
    empty text: all zeros

Run:

    /usr/bin/python3 testdata/minhash/gen_oph_vectors.py > testdata/minhash/oph_vectors.json
"""

import ctypes
import json
import random
import sys

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
DENS_SALT = 0x6F70682D64656E73  # "oph-dens"

_lib = ctypes.CDLL("libxxhash.so.0")
_xxh3 = _lib.XXH3_64bits_withSeed
_xxh3.restype = ctypes.c_uint64
_xxh3.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]


def xxh3(data: bytes, seed: int) -> int:
    return _xxh3(data, len(data), seed)


def splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def check_splitmix():
    # splitmix64.c (Vigna), x = 1234567: the first outputs of next().
    want = [6457827717110365317, 3203168211198807973, 9817491932198370423]
    x, got = 1234567, []
    for _ in want:
        got.append(splitmix64(x))
        x = (x + 0x9E3779B97F4A7C15) & M64
    assert got == want, got


def windows(text: str, width: int):
    if len(text) <= width:
        return [text]
    return [text[i:i + width] for i in range(len(text) - width + 1)]


def probe(d: int, i: int, t: int, k: int) -> int:
    return ((splitmix64(d ^ ((i << 32) | t)) & M32) * k) >> 32


def oph(text: str, width: int, seed: int, k: int):
    if text == "":
        return [0] * k
    acc = [None] * k
    for w in windows(text, width):
        h = xxh3(w.encode("utf-8"), seed)
        b = ((h & M32) * k) >> 32
        v = (h >> 33) + 1
        if acc[b] is None or v < acc[b]:
            acc[b] = v
    d = splitmix64(seed ^ DENS_SALT)
    sig = []
    for i in range(k):
        t = 1
        j = i
        while acc[j] is None:
            j = probe(d, i, t, k)
            t += 1
        sig.append(acc[j])
    return sig


def long_texts():
    rnd = random.Random(20261206)
    words = "the of and to in is it that was for on are with as his they be at one have this from".split()
    ascii_run = " ".join(rnd.choice(words) for _ in range(600))
    mixed = []
    for _ in range(40):
        mixed.append(" ".join(rnd.choice(words) for _ in range(rnd.randrange(0, 30))))
        mixed.append(rnd.choice(["\u00e9", "\u4e2d\u6587", "\U0001F680", "\u2014", "\u00fc\u00df"]))
    return {"long_ascii": ascii_run, "long_mixed": "".join(mixed)}


TEXTS = {
    "ascii": (
        "The quick brown fox jumps over the lazy dog. Sphinx of black quartz, judge my vow! "
        "Pack my box with five dozen liquor jugs; how vexingly quick daft zebras jump. "
        "The five boxing wizards jump quickly, and the dog keeps sleeping in the sun."
    ),
    "utf8": (
        "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e \u2014 \u201cna\u00efve\u201d fa\u00e7ade. "
        "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! "
        "\u4f60\u597d\uff0c\u4e16\u754c\u3002\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002 "
        "Emoji \U0001F600\U0001F680\U0001F44D and math \U0001D4B3\u2211\u222b end."
    ),
    "short": "short text",
    "short_utf8": "\u00e9t\u00e9 \u2603 \U0001F600",
    "exact24": "abcdefghijklmnopqrstuvwx",
    "len25": "abcdefghijklmnopqrstuvwxy",
    "one_char": "\u00e9",
    "whitespace": "line one\n\tline two\r\n  line three \x00 nul and tab\tend\n",
    "repetitive": "ab" * 40,
    "empty": "",
}
TEXTS.update(long_texts())


def xxh3_vectors():
    rnd = random.Random(7)
    out = []
    for seed in (0, 42, 7919, M32):
        for n in list(range(0, 65)) + [95, 96, 97, 128, 129, 200, 240, 241, 300, 1000]:
            data = bytes(rnd.randrange(256) for _ in range(n))
            out.append({"seed": seed, "hex": data.hex(), "hash": xxh3(data, seed)})
    return out


def main():
    check_splitmix()
    configs = [
        {"name": "seed42_w24_k260", "seed": 42, "char_ngrams": 24, "num_perm": 260},
        {"name": "seed7919_w24_k260", "seed": 7919, "char_ngrams": 24, "num_perm": 260},
        {"name": "seed1_w20_k130", "seed": 1, "char_ngrams": 20, "num_perm": 130},
        {"name": "seed42_w5_k37", "seed": 42, "char_ngrams": 5, "num_perm": 37},
        {"name": "seed42_w24_k600", "seed": 42, "char_ngrams": 24, "num_perm": 600},
    ]
    out = {
        "generator": "testdata/minhash/gen_oph_vectors.py",
        "xxhash_version": _lib.XXH_versionNumber(),
        "texts": TEXTS,
        "splitmix64": [{"x": x, "out": splitmix64(x)} for x in (0, 1, 42, 1234567, M64)],
        "xxh3": xxh3_vectors(),
        "configs": [],
    }
    for cfg in configs:
        entry = dict(cfg)
        entry["signatures"] = {name: oph(t, cfg["char_ngrams"], cfg["seed"], cfg["num_perm"]) for name, t in TEXTS.items()}
        out["configs"].append(entry)
    json.dump(out, sys.stdout, indent=None, separators=(",", ":"), ensure_ascii=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
