// Counting right images and discordant pairs in outcome bitsets.
#include "stats/bitset.h"

#include "common/check.h"

// The last byte's bits that belong to the n images (all eight when n is a multiple of 8).
static uint8_t last_mask(size_t n) { return n % 8 ? (uint8_t)((1u << (n % 8)) - 1u) : 0xFFu; }

size_t stats_bitset_count(const uint8_t *bits, size_t n) {
    if (n == 0) return 0;
    size_t nb = stats_bitset_bytes(n), total = 0;
    for (size_t i = 0; i + 1 < nb; i++) total += (size_t)__builtin_popcount(bits[i]);
    return total + (size_t)__builtin_popcount(bits[nb - 1] & last_mask(n));
}

size_t stats_bitset_count_subset(const uint8_t *bits, size_t n, const size_t *idx, size_t m) {
    size_t total = 0;
    for (size_t k = 0; k < m; k++) {
        KDT_ASSERT(idx[k] < n);
        total += stats_bitset_get(bits, idx[k]);
    }
    return total;
}

void stats_bitset_discordant(size_t *n_ab, size_t *n_ba, const uint8_t *a, const uint8_t *b,
                             size_t n, const size_t *idx, size_t m) {
    size_t ab = 0, ba = 0;
    if (idx) {
        for (size_t k = 0; k < m; k++) {
            KDT_ASSERT(idx[k] < n);
            bool ra = stats_bitset_get(a, idx[k]), rb = stats_bitset_get(b, idx[k]);
            ab += ra && !rb;
            ba += rb && !ra;
        }
    } else if (n > 0) {
        size_t nb = stats_bitset_bytes(n);
        for (size_t i = 0; i < nb; i++) {
            uint8_t mask = i + 1 == nb ? last_mask(n) : 0xFFu;
            ab += (size_t)__builtin_popcount((uint8_t)(a[i] & ~b[i] & mask));
            ba += (size_t)__builtin_popcount((uint8_t)(b[i] & ~a[i] & mask));
        }
    }
    *n_ab = ab;
    *n_ba = ba;
}
