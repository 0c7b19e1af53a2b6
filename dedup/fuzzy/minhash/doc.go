// Package minhash computes MinHash signatures of texts for fuzzy
// deduplication, bit-compatible with NVIDIA NeMo Curator's GPU MinHash stage
// (which calls cuDF's nvtext::minhash / minhash64 permuted kernels).
//
// # Scheme
//
// For a text and [Params] p (defaults: 260 permutations, 24-character
// shingles, seed 42, 32-bit hashes):
//
//  1. Shingles are the windows of p.CharNgrams consecutive characters (Unicode
//     code points of the UTF-8 text), one window starting at every character,
//     sliding by one character. A text with fewer than p.CharNgrams characters
//     has exactly one shingle, the whole text. An empty text has no shingles
//     and gets an all-zero signature.
//  2. Each shingle's UTF-8 bytes are hashed with MurmurHash3: x86_32 for
//     32-bit signatures, the first 64-bit half of x64_128 for 64-bit ones. The
//     murmur seed is a₀, the first permutation multiplier (NeMo passes
//     seeds[0][0]). A hash of 0 is replaced by 1.
//  3. Permutation i maps a shingle hash h to (aᵢ·h + bᵢ) mod 2³² for 32-bit
//     signatures, and to ((aᵢ·h + bᵢ) mod 2⁶⁴) mod (2⁶¹−1) for 64-bit ones.
//     Signature value i is the minimum over the text's shingles.
//  4. The pairs (aᵢ, bᵢ) are drawn from numpy.random.RandomState(p.Seed),
//     for each permutation aᵢ = randint(1, P) then bᵢ = randint(0, P), with
//     P = 2³¹−1 (uint32) or 2⁶¹−1 (uint64); see package nprand.
//
// docs/fuzzy-dedup.md ("MinHash scheme") records where this reference
// behaviour was established and where it differs from other descriptions.
//
// # OPH scheme
//
// With Params.Scheme = [SchemeOPH] a Hasher computes instead a signature of
// the same shape by one-permutation hashing with optimal densification
// (Shrivastava, ICML 2017): the same shingles, one XXH3-64 hash per
// shingle whose low half picks one of NumPerm bins and whose high 31 bits
// plus one are the value, a minimum per bin, and empty bins filled along a
// fixed random probe sequence. It is several times faster and follows the
// same LSH curve, but its signatures are not NeMo Curator's; see
// docs/fuzzy-dedup.md ("The OPH scheme").
//
// # Performance
//
// The cost is dominated by step 3: NumPerm multiply-add-min operations per
// shingle, and a text of n ASCII bytes has about n shingles. On amd64 CPUs
// with AVX2 (every amd64 build unless it has the purego tag), AVX2 assembly
// hashes runs of 32 ASCII windows at once and evaluates eight 32-bit (or
// four 64-bit) permutations per instruction over blocks of shingle hashes;
// otherwise a portable scalar loop computes identical results.
//
// A [Hasher] reuses internal scratch buffers, so computing a signature into a
// caller-provided slice does not allocate. A Hasher is not safe for concurrent
// use; give each goroutine its own ([Hasher.Clone] is cheap).
package minhash
