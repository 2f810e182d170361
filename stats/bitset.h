// Per-image outcome bitsets: bit i lives in byte i / 8, least significant bit first, (n + 7) / 8
// bytes; 1 = the image is classified right. Counts, and the paired discordant counts of two
// outcome vectors, over all n images or over an index subset (a cross-fitting half). Bits past n in
// the last byte are ignored, whatever they hold.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline size_t stats_bitset_bytes(size_t n) { return (n + 7) / 8; }

static inline bool stats_bitset_get(const uint8_t *bits, size_t i) {
    return (bits[i / 8] >> (i % 8)) & 1u;
}

static inline void stats_bitset_set(uint8_t *bits, size_t i, bool right) {
    if (right) bits[i / 8] |= (uint8_t)(1u << (i % 8));
    else bits[i / 8] &= (uint8_t)~(1u << (i % 8));
}

// The number of images right among the n of bits ((n + 7) / 8 bytes).
size_t stats_bitset_count(const uint8_t *bits, size_t n);

// The number of images right among idx[0..m) (each < n, the bitset's length; repeats count again).
size_t stats_bitset_count_subset(const uint8_t *bits, size_t n, const size_t *idx, size_t m);

// The paired discordant counts of outcomes a and b over n images: *n_ab = images right under a
// and wrong under b ("b" in McNemar's notation), *n_ba = the reverse ("c"). With idx
// non-NULL, over idx[0..m) only (each < n); with idx NULL, m is ignored and all n images count.
void stats_bitset_discordant(size_t *n_ab, size_t *n_ba, const uint8_t *a, const uint8_t *b,
                             size_t n, const size_t *idx, size_t m);
