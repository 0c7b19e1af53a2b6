#!/usr/bin/python3
"""Generate reference vectors for package dedup/fuzzy/minhash.

The vectors are computed independently of the Go code:

  * the permutation parameters come straight from numpy's legacy
    numpy.random.RandomState, drawn exactly as NeMo Curator's GPUMinHash does
    (per permutation: randint(1, P) then randint(0, P), P a Mersenne prime);
    a pure-Python MT19937 with numpy's masked rejection sampling is run next to
    it and must agree, which documents the algorithm the Go port follows;
  * MurmurHash3 (x86_32 and x64_128) is re-implemented here in pure Python and
    checked against published test vectors;
  * shingles are cut with Python string slicing (code points), and the
    permutations are evaluated with numpy's wrapping unsigned arithmetic.

The script also reproduces the expected values of cuDF's own C++ unit test for
nvtext::minhash_permuted (cpp/tests/text/minhash_tests.cpp), which pins the
scheme to the reference implementation.

Run with the Debian interpreter, which sees the python3-numpy package:

    /usr/bin/python3 testdata/minhash/gen_vectors.py > testdata/minhash/vectors.json
"""

import json
import sys

import numpy as np

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
MERSENNE31 = (1 << 31) - 1
MERSENNE61 = (1 << 61) - 1


# ---------------------------------------------------------------------------
# MurmurHash3, pure Python.


def _rotl32(x, r):
    return ((x << r) | (x >> (32 - r))) & MASK32


def _rotl64(x, r):
    return ((x << r) | (x >> (64 - r))) & MASK64


def _fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK32
    h ^= h >> 16
    return h


def _fmix64(k):
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & MASK64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & MASK64
    k ^= k >> 33
    return k


def murmur3_x86_32(data, seed):
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & MASK32
    n = len(data)
    nblocks = n // 4
    for i in range(nblocks):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * c1) & MASK32
        k = _rotl32(k, 15)
        k = (k * c2) & MASK32
        h ^= k
        h = _rotl32(h, 13)
        h = (h * 5 + 0xE6546B64) & MASK32
    tail = data[4 * nblocks :]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * c1) & MASK32
        k = _rotl32(k, 15)
        k = (k * c2) & MASK32
        h ^= k
    h ^= n
    return _fmix32(h)


def murmur3_x64_128(data, seed):
    """Returns (h1, h2); both halves start from the full 64-bit seed (as cuco does)."""
    c1, c2 = 0x87C37B91114253D5, 0x4CF5AD432745937F
    h1 = h2 = seed & MASK64
    n = len(data)
    nblocks = n // 16
    for i in range(nblocks):
        k1 = int.from_bytes(data[16 * i : 16 * i + 8], "little")
        k2 = int.from_bytes(data[16 * i + 8 : 16 * i + 16], "little")
        k1 = (k1 * c1) & MASK64
        k1 = _rotl64(k1, 31)
        k1 = (k1 * c2) & MASK64
        h1 ^= k1
        h1 = _rotl64(h1, 27)
        h1 = (h1 + h2) & MASK64
        h1 = (h1 * 5 + 0x52DCE729) & MASK64
        k2 = (k2 * c2) & MASK64
        k2 = _rotl64(k2, 33)
        k2 = (k2 * c1) & MASK64
        h2 ^= k2
        h2 = _rotl64(h2, 31)
        h2 = (h2 + h1) & MASK64
        h2 = (h2 * 5 + 0x38495AB5) & MASK64
    tail = data[16 * nblocks :]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        k2 = (k2 * c2) & MASK64
        k2 = _rotl64(k2, 33)
        k2 = (k2 * c1) & MASK64
        h2 ^= k2
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        k1 = (k1 * c1) & MASK64
        k1 = _rotl64(k1, 31)
        k1 = (k1 * c2) & MASK64
        h1 ^= k1
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & MASK64
    h2 = (h2 + h1) & MASK64
    h1 = _fmix64(h1)
    h2 = _fmix64(h2)
    h1 = (h1 + h2) & MASK64
    h2 = (h2 + h1) & MASK64
    return h1, h2


def check_murmur():
    # Published MurmurHash3_x86_32 vectors (SMHasher / Wikipedia).
    assert murmur3_x86_32(b"", 0) == 0
    assert murmur3_x86_32(b"", 1) == 0x514E28B7
    assert murmur3_x86_32(b"", 0xFFFFFFFF) == 0x81F16F39
    assert murmur3_x86_32(b"Hello, world!", 0x9747B28C) == 0x24884CBA
    assert murmur3_x86_32(b"The quick brown fox jumps over the lazy dog", 0x9747B28C) == 0x2FA826CD
    # MurmurHash3_x64_128 with seed 0.
    assert murmur3_x64_128(b"", 0) == (0, 0)
    assert murmur3_x64_128(b"The quick brown fox jumps over the lazy dog", 0) == (
        0xE34BBC7BBC071B6C,
        0x7A433CA9C49A9347,
    )


# ---------------------------------------------------------------------------
# numpy's legacy RandomState, pure Python (MT19937 + masked rejection).


class PyRandomState:
    def __init__(self, seed):
        mt = [0] * 624
        mt[0] = seed & MASK32
        for i in range(1, 624):
            mt[i] = (1812433253 * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i) & MASK32
        self.mt = mt
        self.pos = 624

    def _twist(self):
        mt = self.mt
        for i in range(624):
            y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
            v = mt[(i + 397) % 624] ^ (y >> 1)
            if y & 1:
                v ^= 0x9908B0DF
            mt[i] = v
        self.pos = 0

    def next32(self):
        if self.pos >= 624:
            self._twist()
        y = self.mt[self.pos]
        self.pos += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y

    def next64(self):
        hi = self.next32()
        lo = self.next32()
        return (hi << 32) | lo

    @staticmethod
    def _mask(rng):
        m = rng
        for s in (1, 2, 4, 8, 16, 32):
            m |= m >> s
        return m

    def randint(self, low, high):
        """Scalar randint(low, high) for dtype uint32 / uint64 (high exclusive)."""
        rng = high - 1 - low
        if rng == 0:
            return low
        if rng <= MASK32:
            if rng == MASK32:
                return low + self.next32()
            mask = self._mask(rng)
            while True:
                v = self.next32() & mask
                if v <= rng:
                    return low + v
        if rng == MASK64:
            return low + self.next64()
        mask = self._mask(rng)
        while True:
            v = self.next64() & mask
            if v <= rng:
                return low + v


def nemo_params(seed, num_perm, bits):
    """(a, b) lists drawn exactly like NeMo Curator's GPUMinHash.generate_seeds."""
    gen = np.random.RandomState(seed)
    py = PyRandomState(seed)
    if bits == 32:
        prime, dtype = np.uint32(MERSENNE31), np.uint32
    else:
        prime, dtype = np.uint64(MERSENNE61), np.uint64
    a, b = [], []
    for _ in range(num_perm):
        ai = int(gen.randint(1, prime, dtype=dtype))
        bi = int(gen.randint(0, prime, dtype=dtype))
        assert ai == py.randint(1, int(prime)), "pure-Python MT19937 disagrees with numpy"
        assert bi == py.randint(0, int(prime)), "pure-Python MT19937 disagrees with numpy"
        a.append(ai)
        b.append(bi)
    return a, b


# ---------------------------------------------------------------------------
# The MinHash scheme.


def shingles(text, width):
    if not text:
        return []
    n = len(text)  # code points
    if n <= width:
        return [text]
    return [text[i : i + width] for i in range(n - width + 1)]


def signature(text, width, bits, seed, a, b):
    """seed is the murmur seed (NeMo passes a[0]); a, b the permutation lists."""
    if bits == 32:
        dtype = np.uint32
    else:
        dtype = np.uint64
    a_arr = np.array(a, dtype=dtype)
    b_arr = np.array(b, dtype=dtype)
    sh = shingles(text, width)
    if not sh:
        return [0] * len(a)
    sig = np.full(len(a), np.iinfo(dtype).max, dtype=dtype)
    for s in set(sh):
        data = s.encode("utf-8")
        if bits == 32:
            h = murmur3_x86_32(data, seed)
        else:
            h = murmur3_x64_128(data, seed)[0]
        h = max(h, 1)
        with np.errstate(over="ignore"):
            v = a_arr * dtype(h) + b_arr  # wraps mod 2^32 / 2^64
        if bits == 64:
            v = v % np.uint64(MERSENNE61)
        sig = np.minimum(sig, v)
    return [int(x) for x in sig]


def check_cudf_unit_test():
    """Expected values of cuDF's MinHashTest.Permuted / PermutedWide (width 4, seed 0, a=b=[10,11,12])."""
    docs = [
        "doc 1",
        "this is doc 2",
        "doc 3",
        "d",
        "The quick brown fox jump\u00e9d over the lazy brown dog.",
        "line six",
        "line seven",
        "line eight",
        "line nine",
        "line ten",
    ]
    want32 = [
        [1392101586, 394869177, 811528444],
        [211415830, 187088503, 130291444],
        [2098117052, 394869177, 799753544],
        [2264583304, 2920538364, 3576493424],
        [253327882, 41747273, 302030804],
        [2109809594, 1017470651, 326988172],
        [1303819864, 850676747, 147107852],
        [736021564, 720812292, 1405158760],
        [902780242, 134064807, 1613944636],
        [547084870, 1748895564, 656501844],
    ]
    want64 = [
        [827364888116975697, 1601854279692781452, 70500662054893256],
        [18312093741021833, 133793446674258329, 21974512489226198],
        [22474244732520567, 1638811775655358395, 949306297364502264],
        [1332357434996402861, 2157346081260151330, 676491718310205848],
        [65816830624808020, 43323600380520789, 63511816333816345],
        [629657184954525200, 49741036507643002, 97466271004074331],
        [301611977846331113, 101188874709594830, 97466271004074331],
        [121498891461700668, 171065800427907402, 97466271004074331],
        [54617739511834072, 231454301607238929, 97466271004074331],
        [576418665851990314, 231454301607238929, 97466271004074331],
    ]
    p = [10, 11, 12]
    for doc, w32, w64 in zip(docs, want32, want64):
        assert signature(doc, 4, 32, 0, p, p) == w32, doc
        assert signature(doc, 4, 64, 0, p, p) == w64, doc
    p = [20, 21, 22]
    wide = [("x" * (2 << 10), [1731998032, 315359380, 3193688024],
             [1818322427062143853, 641024893347719371, 1769570368846988848]),
            ("y" * (2 << 19), [1293098788, 2860992281, 133918478],
             [1389920339306667795, 421787002125838902, 1759496674158703968])]
    for doc, w32, w64 in wide:
        assert signature(doc, 4, 32, 0, p, p) == w32
        assert signature(doc, 4, 64, 0, p, p) == w64


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


def nprand_vectors():
    """Raw and bounded draws of RandomState, for the Go port in package nprand."""
    out = []
    for seed in (0, 42, 5489, 0xFFFFFFFF):
        gen = np.random.RandomState(seed)
        py = PyRandomState(seed)
        # 700 raw 32-bit outputs cross the first state regeneration (624 words).
        raw32 = [int(gen.randint(0, 2**32, dtype=np.uint32)) for _ in range(700)]
        assert raw32 == [py.next32() for _ in range(700)]
        raw64 = [int(gen.randint(0, 2**64, dtype=np.uint64)) for _ in range(20)]
        assert raw64 == [py.next64() for _ in range(20)]
        draws = []
        for low, high, bits in [
            (0, 7, 32), (5, 1000, 32), (1, MERSENNE31, 32), (0, MERSENNE31, 32), (3, 2**31 + 1, 32),
            (0, 7, 64), (10, 2**32 + 10, 64), (0, 2**33 + 5, 64), (1, MERSENNE61, 64), (0, 2**63 + 12345, 64),
        ]:
            dtype = np.uint32 if bits == 32 else np.uint64
            vals = [int(gen.randint(low, high, dtype=dtype)) for _ in range(25)]
            assert vals == [py.randint(low, high) for _ in range(25)]
            draws.append({"low": low, "high": high, "bits": bits, "values": vals})
        out.append({"seed": seed, "raw32": raw32, "raw64": raw64, "draws": draws})
    return out


def main():
    check_murmur()
    check_cudf_unit_test()

    configs = [
        {"name": "seed42_w24_32", "seed": 42, "char_ngrams": 24, "hash_bits": 32, "num_perm": 260},
        {"name": "seed42_w24_64", "seed": 42, "char_ngrams": 24, "hash_bits": 64, "num_perm": 260},
        {"name": "seed7919_w24_32", "seed": 7919, "char_ngrams": 24, "hash_bits": 32, "num_perm": 260},
        {"name": "seed7919_w24_64", "seed": 7919, "char_ngrams": 24, "hash_bits": 64, "num_perm": 260},
        {"name": "seed42_w5_32_p37", "seed": 42, "char_ngrams": 5, "hash_bits": 32, "num_perm": 37},
    ]
    out = {
        "generator": "testdata/minhash/gen_vectors.py",
        "numpy_version": np.__version__,
        "texts": TEXTS,
        "configs": [],
        "nprand": nprand_vectors(),
    }
    for cfg in configs:
        a, b = nemo_params(cfg["seed"], cfg["num_perm"], cfg["hash_bits"])
        murmur_seed = a[0]  # NeMo Curator passes seeds[0][0] as the murmur seed
        sigs = {}
        for name, text in TEXTS.items():
            sigs[name] = signature(text, cfg["char_ngrams"], cfg["hash_bits"], murmur_seed, a, b)
        entry = dict(cfg)
        entry.update({"murmur_seed": murmur_seed, "a": a, "b": b, "signatures": sigs})
        out["configs"].append(entry)
    json.dump(out, sys.stdout, indent=1, ensure_ascii=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
