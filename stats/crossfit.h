// Cross-fitting of a selected gain: the held-out estimate of the gain of "the best of C candidate
// settings", which the best's own validation gain overstates (it was chosen for being high).
//
// Split rule: the permutation of 0..n-1 made by rng_shuffle on rng_stream(seed, "stats.crossfit",
// n, 0), applied to the identity; half A is its first n / 2 entries (rounded down), half B the
// rest. On each half h the candidate with the most images right after KD is selected (ties to the
// lowest index, so a caller that puts the default first keeps it on ties); its gain (right after
// minus right before, over the half's images) is then measured on the other half. The estimate is
// the plain average of the two held-out gains (Chernozhukov et al. 2018, "Double/debiased machine
// learning", the cross-fitting idea; here for the winner's curse of an argmax).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct {
    double gain;        // the cross-fit estimate: (heldout[0] + heldout[1]) / 2, a fraction
    size_t select[2];   // the candidate selected on half A (0) and on half B (1)
    double heldout[2];  // the gain of select[h] on the other half
    double insample[2]; // the gain of select[h] on half h itself (optimistic)
    size_t n_half[2];   // images in half A and half B
    size_t full_select; // the candidate selected on all n images (same tie rule)
    double full_gain;   // its gain on all n images: the in-sample, optimistic figure
} stats_crossfit;

// after (n_cand) bitsets, each over the n validation images after KD with one candidate; before:
// the bitset before KD. KDT_ERR_STATE when n < 2 or n_cand == 0, KDT_ERR_CONFIG when n exceeds
// INT_MAX, KDT_ERR_NOMEM.
kdt_status stats_crossfit_gain(stats_crossfit *out, const uint8_t *const *after, size_t n_cand,
                               const uint8_t *before, size_t n, uint64_t seed);

// The two halves themselves, as image indices in increasing order: half_a (n / 2), half_b
// (n - n / 2). Same rule and errors as above.
kdt_status stats_crossfit_halves(size_t *half_a, size_t *half_b, size_t n, uint64_t seed);
