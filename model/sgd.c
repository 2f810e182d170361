// SGD with momentum, Nesterov and weight decay as torch.optim.SGD (dampening 0: a zero momentum
// buffer gives PyTorch's first step buf = d), and the learning-rate schedules.
#include "model/sgd.h"

#include "common/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sgd {
    model *m;
    float lr, momentum, weight_decay;
    bool nesterov;
    float *buf; // (model_num_params) momentum buffers
};

sgd *sgd_create(model *m, float lr, float momentum, float weight_decay, bool nesterov) {
    if (!(lr >= 0.0f) || !(momentum >= 0.0f && momentum < 1.0f) || !(weight_decay >= 0.0f)) {
        kdt_fail(KDT_ERR_CONFIG, "sgd: lr %g, momentum %g, weight decay %g: need lr >= 0, "
                 "0 <= momentum < 1, weight decay >= 0", lr, momentum, weight_decay);
        return NULL;
    }
    if (nesterov && momentum <= 0.0f) {
        kdt_fail(KDT_ERR_CONFIG, "sgd: Nesterov momentum needs momentum > 0");
        return NULL;
    }
    sgd *o = calloc(1, sizeof *o);
    size_t n = model_num_params(m);
    if (o) o->buf = calloc(n ? n : 1, sizeof(float));
    if (!o || !o->buf) {
        free(o);
        kdt_fail(KDT_ERR_NOMEM, "sgd: out of memory");
        return NULL;
    }
    o->m = m;
    o->lr = lr;
    o->momentum = momentum;
    o->weight_decay = weight_decay;
    o->nesterov = nesterov;
    return o;
}

void sgd_destroy(sgd *o) {
    if (!o) return;
    free(o->buf);
    free(o);
}

void sgd_reset(sgd *o) { memset(o->buf, 0, sizeof(float) * model_num_params(o->m)); }

void sgd_step(sgd *o, float lr) {
    if (lr < 0.0f) lr = o->lr;
    size_t n = model_num_params(o->m);
    float *p = model_params(o->m), *g = model_grads(o->m), *buf = o->buf;
    float mu = o->momentum, wd = o->weight_decay;
    bool nesterov = o->nesterov;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        if (mu != 0.0f) {
            buf[i] = mu * buf[i] + d;
            d = nesterov ? d + mu * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

static const char *const lr_names[] = {"constant", "step", "cosine"};

const char *lr_kind_name(lr_kind kind) {
    return (kind >= LR_CONSTANT && kind <= LR_COSINE) ? lr_names[kind] : "unknown";
}

kdt_status lr_kind_from_name(const char *name, lr_kind *kind) {
    for (int i = 0; i < 3; i++) {
        if (name && strcmp(name, lr_names[i]) == 0) {
            *kind = (lr_kind)i;
            return KDT_OK;
        }
    }
    return kdt_fail(KDT_ERR_CONFIG, "unknown learning-rate schedule '%s': use constant, step or "
                    "cosine", name ? name : "(null)");
}

float lr_schedule_value(const lr_schedule *s, int t, int total_steps) {
    int w = s->warmup_steps > 0 ? s->warmup_steps : 0;
    if (t < w) return s->base_lr * (float)(t + 1) / (float)w;
    int u = t - w, span = total_steps - w;
    switch (s->kind) {
    case LR_CONSTANT:
        return s->base_lr;
    case LR_STEP:
        return s->step_size > 0 ? s->base_lr * powf(s->gamma, (float)(u / s->step_size)) : s->base_lr;
    case LR_COSINE:
        if (span <= 0) return s->base_lr;
        if (u > span) u = span;
        return s->min_lr + (s->base_lr - s->min_lr) *
                               (float)(0.5 * (1.0 + cos(3.14159265358979323846 * u / span)));
    case LR_N_KINDS: break;
    }
    return s->base_lr;
}
