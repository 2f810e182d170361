// One round of KD for a pair and a setting (DESIGN.md section 2): the student starts from its
// pre-trained weights, trains kd.epochs epochs on the transfer set with one of the methods below,
// and is measured before and after.
//
// Methods. Every method uses L = alpha * L_soft + (1 - alpha) * L_anchor (alpha weights the soft
// term, the same convention and range for every method, so that alpha = 0 is anchor-only
// training whatever the method), L_soft = T^2 KL(p_target^T || p_s^T) with batch-mean reduction,
// and the anchor of the transfer set (kd/loss.h):
// - `kd`: target = the frozen teacher's logits (cached: they do not depend on T or alpha).
// - `dml` (deep mutual learning): the student and the teacher (its "peer") both train at once,
//   each from its pre-trained weights, with the same optimizer settings, on the same batches. At
//   each step both forward the batch in training mode, each loss takes the other's CURRENT logits
//   as a constant target, and both step from the gradients at the same parameters (a
//   simultaneous update, so neither order nor thread decides who moves first). Anchors, per
//   participant: `unlabelled` CE with the hard pseudo-label of the OTHER's frozen pre-trained
//   model (the student: the teacher's; the peer: the student's; from the logit cache);
//   `unlabelled_self` T^2 KL from its OWN frozen pre-KD model; `student_data` both train on the
//   named student's local data with its true labels. No cache serves the soft term (the peer
//   moves). Both are measured: the peer_* fields of kd_result; the objective stays the named
//   student's val_gain. Note: DML after Zhang et al. (2018) adds the full CE and KL; here it is
//   their convex combination with weight alpha, so that its frozen-peer limit is exactly `kd`.
// - `dpkd` (data-partitioning KD, after Roth et al., ICLR 2024): per example, the target is the
//   teacher's logits where the teacher is strictly more confident than the frozen pre-KD student
//   (max softmax probability at T = 1), else the frozen student's (ties: the student). Anchor:
//   `unlabelled` CE with the ROUTED model's hard pseudo-label; `unlabelled_self` and
//   `student_data` as `kd`. Routing uses the frozen models only, so the cache serves it.
//   routed_fraction = examples routed to the teacher / examples trained on, over all epochs (with
//   augmentation each epoch's crops are routed anew; without, it is the per-example fraction).
//
// Replicates: replicate 0 is the round's original stream; replicate r > 0 draws the batch order
// and the augmentation from rng_stream(seed, "kd-round-replicate", pair, transfer << 32 | r). The
// pair is student * 64 + teacher. The data, partition, participants and the fidelity subsets
// never depend on the replicate (nor on the method: rounds of all methods share the stream).
//
// Fidelity f in (0, 1] (0 means 1): the round trains on the first ceil(f * n) examples of a fixed
// permutation of its transfer set (rng_stream(seed, "kd-fidelity", 0 for the public transfer set
// or 1 + student for its own data, 0)), with the configured epochs, and scores val accuracy (both
// before and after, so the gain is paired) on the first ceil(f * n_val) images of a fixed
// permutation of the validation split (rng_stream(seed, "kd-fidelity-val", 0, 0)). The test split
// is always scored in full. f = 1 is the full round, identical to a round without fidelity.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "kd/federation.h"
#include "kd/loss.h"
#include "kd/vocab.h"   // kd_method and its names

// New fields are appended, so that positional initializers of the first five keep working and a
// zero value is the original round (method kd, replicate 0, fidelity 0 = 1).
typedef struct {
    int student, teacher;           // participants; with dml the teacher is the student's peer
    float temperature, alpha;       // T > 0; alpha in [0, 1] weights the soft term
    kd_transfer transfer;
    kd_method method;
    int replicate;                  // >= 0: which independent stream of KD randomness
    float fidelity;                 // (0, 1]; 0 means 1 (the full round)
} kd_setting;

typedef struct {
    bool ok;                        // false: the round diverged (reason says how); gains are NaN
    char reason[160];
    double val_gain, test_gain;     // accuracy after minus before (fractions); val on the fidelity subset
    double forgetting;              // drop of the own-distribution test accuracy (positive = forgot)
    double student_val_before, student_val_after, student_test_before, student_test_after;
    double teacher_test;
    double seconds;
    // dml: the same for the peer (the setting's teacher); NaN for the other methods.
    double peer_val_gain, peer_test_gain, peer_forgetting;
    double peer_val_before, peer_val_after, peer_test_before, peer_test_after;
    // dpkd: fraction of transfer examples whose target is the teacher's; NaN for the other methods.
    double routed_fraction;
    int val_images;                 // validation images scored (ceil(fidelity * n_val))
} kd_result;

typedef struct kd_round kd_round;

// Scratch for rounds on f: per distinct architecture, the models a round trains (student, DML
// peer) and the frozen copies it runs (teacher, pre-KD student) when the cache cannot serve,
// created on first use; optimizers; batch buffers and per-image outcomes. Rounds on different
// kd_round objects share only read-only data (the federation's models and its logit cache,
// which must be filled first: kd_federation_cache_logits), so they may run on several threads.
kdt_status kd_round_create(kd_round **out, kd_federation *f);
void kd_round_destroy(kd_round *r);

// With the cache off, the teacher's (and the frozen student's) logits are recomputed for every
// batch, as they must be with augmentation; the results are the same. For benchmarks.
void kd_round_use_cache(kd_round *r, bool on);

// Test only: with dml, the peer does not train (forward in evaluation mode, no step), which makes
// dml the kd round with the teacher recomputed per batch.
void kd_round_freeze_peer(kd_round *r, bool on);

// Runs one round. A pure function of (seed, setting): the batch order depends on the seed, the
// pair, the transfer set and the replicate only (common random numbers across T, alpha and the
// method). Returns KDT_OK with out->ok false when the loss diverges; KDT_ERR_CONFIG for a bad
// setting (participants, T, alpha, method, replicate, fidelity), another status only for errors
// outside the round.
kdt_status kd_round_run(kd_round *r, const kd_setting *s, kd_result *out);

// Which images the last successful round's student (or, with dml, its peer) gets right after
// KD, as a bitset over the whole split (kd_bitset_bytes(n) bytes, kd/federation.h). Test: every
// image; validation: the fidelity subset only (the other bits are 0), so the count divided by
// out->val_images is student_val_after exactly. NULL when the last round failed or, for the
// peer, was not dml. Valid until the next round on r.
const uint8_t *kd_round_correct(const kd_round *r, kd_split split);
const uint8_t *kd_round_peer_correct(const kd_round *r, kd_split split);

// The validation images the last round scored: their indices in the validation split (n of
// them), in the fixed permutation's order for fidelity < 1, or NULL (all images) at fidelity 1.
const int *kd_round_val_images(const kd_round *r, int *n);
