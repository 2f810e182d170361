// Stochastic gradient descent with momentum, optional Nesterov and weight decay (PyTorch's
// torch.optim.SGD semantics, dampening 0), and learning-rate schedules.
#pragma once
#include <stdbool.h>

#include "common/error.h"
#include "model/model.h"

typedef struct sgd sgd;

// An optimizer over m's parameters (it keeps one momentum buffer per parameter). lr is the
// default step size, momentum in [0, 1), weight_decay >= 0 (L2, added to the gradient);
// nesterov needs momentum > 0. NULL with a message (KDT_ERR_CONFIG or NOMEM) on bad values.
sgd *sgd_create(model *m, float lr, float momentum, float weight_decay, bool nesterov);
void sgd_destroy(sgd *o);
// One step with this learning rate (lr < 0: the one given at creation), using m's gradients:
//   d = g + wd * p; buf = momentum * buf + d; d = nesterov ? d + momentum * buf : buf; p -= lr * d
void sgd_step(sgd *o, float lr);
// Clears the momentum buffers (as a fresh torch.optim.SGD).
void sgd_reset(sgd *o);

typedef enum { LR_CONSTANT = 0, LR_STEP, LR_COSINE, LR_N_KINDS } lr_kind;

typedef struct {
    lr_kind kind;
    float base_lr;
    int warmup_steps;   // linear warm-up over the first warmup_steps steps (0: none)
    int step_size;      // LR_STEP: multiply by gamma every step_size steps (after warm-up)
    float gamma;        // LR_STEP
    float min_lr;       // LR_COSINE: the floor at the last step
} lr_schedule;

// "constant", "step", "cosine".
kdt_status lr_kind_from_name(const char *name, lr_kind *kind);
const char *lr_kind_name(lr_kind kind);

// Learning rate at step t (0-based) of total_steps. Warm-up (w = warmup_steps): step t < w uses
// base_lr * (t + 1) / w. After it the schedule runs over the remaining steps, u = t - w:
// constant: base_lr; step: base_lr * gamma^floor(u / step_size); cosine: min_lr +
// (base_lr - min_lr) * (1 + cos(pi * u / (total_steps - w))) / 2.
float lr_schedule_value(const lr_schedule *s, int t, int total_steps);
