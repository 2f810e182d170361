// One round of KD for a pair and a setting (DESIGN.md section 2): the student starts from its
// pre-trained weights, trains kd.epochs epochs on the transfer set with
// L = alpha * T^2 KL(p_t^T || p_s^T) + (1 - alpha) * L_anchor, and is measured before and after.
#pragma once
#include <stdbool.h>

#include "kd/federation.h"
#include "kd/loss.h"

typedef struct {
    int student, teacher;
    float temperature, alpha;
    kd_transfer transfer;
} kd_setting;

typedef struct {
    bool ok;                        // false: the round diverged (reason says how); gains are NaN
    char reason[160];
    double val_gain, test_gain;     // accuracy after minus before (fractions)
    double forgetting;              // drop of the own-distribution test accuracy (positive = forgot)
    double student_val_before, student_val_after, student_test_before, student_test_after;
    double teacher_test;
    double seconds;
} kd_result;

typedef struct kd_round kd_round;

// Scratch for rounds on f: a student copy and an optimizer per distinct architecture, and the
// batch buffers, allocated once so that a round allocates nothing while it trains.
kd_round *kd_round_create(kd_federation *f);
void kd_round_destroy(kd_round *r);

// With the cache off, the teacher's (and the frozen student's) logits are recomputed for every
// batch, as they must be with augmentation; the results are the same. For benchmarks.
void kd_round_use_cache(kd_round *r, bool on);

// Runs one round. A pure function of (seed, setting): the batch order depends on the seed, the
// pair and the transfer set only (common random numbers across T and alpha). Returns KDT_OK with
// out->ok false when the loss diverges; another status only for errors outside the round.
kdt_status kd_round_run(kd_round *r, const kd_setting *s, kd_result *out);
