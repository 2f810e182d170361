// The federation: every participant's model, pre-trained on its local partition (or loaded from
// its checkpoint), with its accuracies, plus the teacher-logit cache and the scratch space that
// KD rounds (kd/round.h) reuse. It borrows the data splits and the partition.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "data/batcher.h"
#include "data/partition.h"
#include "data/splits.h"
#include "model/model.h"
#include "model/sgd.h"

typedef struct {
    double lr, momentum, weight_decay;
    int epochs, batch_size;
    bool nesterov, augment;
} kd_sgd_spec;

typedef struct {
    kd_sgd_spec sgd;
    lr_kind schedule;
    int step_epochs;        // LR_STEP: epochs between decays
    double gamma;           // LR_STEP: factor at each decay
    double warmup_epochs;   // linear warm-up length
} kd_pretrain_spec;

// Per-image outcomes before KD measured earlier for these very participants (e.g. kept by a run's
// store under its fingerprint): true with val and test set (bitsets of the splits' sizes), or
// false when there are none. See kd_federation_spec.recall.
typedef bool (*kd_recall_fn)(void *ctx, int cid, const uint8_t **val_correct, const uint8_t **test_correct);

typedef struct {
    int participants;
    const model_spec *specs;        // (participants): one architecture each (they may differ)
    kd_pretrain_spec pretrain;
    kd_sgd_spec kd;                 // the training of one KD round (constant learning rate)
    augment_spec augment;           // applied where pretrain.sgd.augment or kd.augment is set
    uint64_t seed;
    const char *checkpoint_dir;     // where p<cid>.ckpt and pretrain.csv live; NULL: none
    int workers;                    // participants pre-trained at once, one thread each (>= 1)
    // Optional (NULL: always measure): for a participant whose checkpoint loads, its accuracies
    // are derived from the recalled outcomes (the same counts over the same images, so the same
    // numbers) instead of measured on the splits; pretrain.csv is then left as it is.
    kd_recall_fn recall;
    void *recall_ctx;
} kd_federation_spec;

typedef struct {
    int local_n;                    // examples in the participant's partition
    double val_acc, test_acc;       // after pre-training
    double own_test_acc;            // test accuracy weighted by its own class proportions
    double *class_test_acc;         // (classes) per-class test accuracy
    bool from_checkpoint;           // loaded rather than trained
    double seconds;                 // pre-training time (0 when loaded)
} kd_participant;

typedef struct kd_federation kd_federation;

// The evaluation splits that per-image outcomes are kept for.
typedef enum { KD_SPLIT_VAL = 0, KD_SPLIT_TEST, KD_SPLIT_COUNT } kd_split;
// "val", "test".
const char *kd_split_name(kd_split s);
// KDT_OK and *out set, or KDT_ERR_CONFIG with a message listing the names.
kdt_status kd_split_from_name(const char *name, kd_split *out);

// Bytes of a per-image bitset of n images: bit i is bit (i % 8), least significant first, of
// byte i / 8; the unused high bits of the last byte are 0.
static inline size_t kd_bitset_bytes(int n) { return ((size_t)n + 7) / 8; }
static inline bool kd_bit(const uint8_t *bits, int i) { return (bits[i >> 3] >> (i & 7)) & 1; }
// Set bits among the first n of a bitset.
int kd_bitset_count(const uint8_t *bits, int n);

// Copies the spec (not the data it points to, which must outlive the federation).
kdt_status kd_federation_create(kd_federation **out, const kd_federation_spec *spec, const data_splits *splits,
                                const partition *part);
void kd_federation_destroy(kd_federation *f);

// Pre-trains every participant, or loads its checkpoint when a valid one for the same
// architecture exists in checkpoint_dir (a damaged one is reported and retrained), then measures
// its accuracies and writes checkpoint_dir/pretrain.csv. With workers > 1 the participants are
// trained in parallel, one thread each (the caller sets the engine to one thread); every
// participant's training depends on the seed and its id only, so the result is the same.
kdt_status kd_federation_pretrain(kd_federation *f);

// Computes every participant's logits on the transfer set and the pool (in parallel, as above),
// so that KD rounds on several threads only read the cache.
kdt_status kd_federation_cache_logits(kd_federation *f);

const kd_participant *kd_federation_participant(const kd_federation *f, int cid);
// Which images of the validation or test split participant cid gets right before KD (after
// pre-training), as a bitset of the split's n images (kd_bitset_bytes(n) bytes), set by
// kd_federation_pretrain. Its count / n is the participant's val_acc
// or test_acc exactly (all zero before pre-training).
const uint8_t *kd_federation_correct(const kd_federation *f, int cid, kd_split split);
const data_splits *kd_federation_splits(const kd_federation *f);

// Internal to kd/: the pieces a KD round needs.
typedef struct {
    const float *logits;  // (n, K) the participant's logits, in dataset order
    const int *argmax;    // (n) their argmax: the hard pseudo-labels
} kd_logits;

typedef enum { KD_ON_TRANSFER = 0, KD_ON_POOL = 1 } kd_logit_set;

// The participant's (frozen, pre-trained) logits on the transfer set or the pool, computed on
// first use and cached: they do not depend on T or alpha.
kdt_status kd_federation_logits(kd_federation *f, int cid, kd_logit_set set, kd_logits *out);
model *kd_federation_model(kd_federation *f, int cid);
const kd_federation_spec *kd_federation_spec_of(const kd_federation *f);
const partition *kd_federation_partition(const kd_federation *f);
// Own-distribution class proportions of participant cid (classes).
const double *kd_federation_own_props(const kd_federation *f, int cid);

// Accuracy of m on d (eval mode, in batches of m's max batch). When class_acc is not NULL it gets
// the per-class accuracy (classes; NaN for a class absent from d).
double kd_evaluate(model *m, const dataset *d, double *class_acc);

// The same on the images idx[0..n) of d (idx NULL: all of d in order, n ignored, as kd_evaluate).
// With idx, the images are gathered into xbuf (model_max_batch(m) images) first. When correct is
// not NULL it is cleared (kd_bitset_bytes(d->n) bytes) and gets bit idx[i] set for every image
// predicted right. class_acc as kd_evaluate, over the scored images. NaN when nothing is scored
// or memory runs out.
double kd_evaluate_images(model *m, const dataset *d, const int *idx, int n, float *xbuf,
                          double *class_acc, uint8_t *correct);

// Accuracy on one's own distribution: per-class accuracies weighted by class proportions
// (classes with no weight or no test example are left out).
double kd_own_accuracy(const double *props, const double *class_acc, int K);

// Pre-training spread over processes (app/mpi_run.c). kd_federation_train_one trains participant
// cid from scratch and reads or writes no file: the weights kd_federation_pretrain would give it.
// kd_federation_adopt takes the weights now in every participant's model (loaded, trained or
// received by the caller; from_checkpoint and seconds per participant), measures their accuracies
// (with the spec's workers) and writes checkpoint_dir/pretrain.csv when the spec has a directory.
kdt_status kd_federation_train_one(kd_federation *f, int cid, double *seconds);
kdt_status kd_federation_adopt(kd_federation *f, const bool *from_checkpoint, const double *seconds);
