// The model object: architecture names and spec checks, the memory plan (one allocation each for
// parameters, gradients, activations and workspace, sized for the largest batch), initialization,
// and the forward and backward passes that walk the layer list.
#include "common/check.h"
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timer.h"
#include "model/gemm.h"
#include "model/model_impl.h"
#include "model/ops.h"

static const char *const arch_names[MODEL_ARCH_COUNT] = {"mlp", "cnn", "resnet8", "resnet20",
                                                         "resnet18"};

enum { BN_SAVE = 2 }; // mean and invstd per channel
static const float BN_EPS = 1e-5f, BN_MOMENTUM = 0.1f;

const char *model_arch_name(model_arch arch) {
    return (arch >= 0 && arch < MODEL_ARCH_COUNT) ? arch_names[arch] : "unknown";
}

kdt_status model_arch_from_name(const char *name, model_arch *arch) {
    for (int i = 0; i < MODEL_ARCH_COUNT; i++) {
        if (name && strcmp(name, arch_names[i]) == 0) {
            *arch = (model_arch)i;
            return KDT_OK;
        }
    }
    return kdt_fail(KDT_ERR_CONFIG,
                    "unknown model architecture '%s': use one of mlp, cnn, resnet8, resnet20, "
                    "resnet18", name ? name : "(null)");
}

kdt_status model_spec_validate(const model_spec *s) {
    if (s->arch < 0 || s->arch >= MODEL_ARCH_COUNT)
        return kdt_fail(KDT_ERR_CONFIG, "model: unknown architecture id %d", (int)s->arch);
    const char *name = arch_names[s->arch];
    if (s->in_c < 1 || s->in_c > 4096 || s->in_h < 1 || s->in_h > 4096 || s->in_w < 1 ||
        s->in_w > 4096)
        return kdt_fail(KDT_ERR_CONFIG, "model %s: input shape %dx%dx%d is out of range (each of "
                        "C, H, W must be in 1..4096)", name, s->in_c, s->in_h, s->in_w);
    if (s->num_classes < 1 || s->num_classes > 100000)
        return kdt_fail(KDT_ERR_CONFIG, "model %s: %d classes is out of range (1..100000)", name,
                        s->num_classes);
    if (s->arch == MODEL_MLP) {
        if (s->num_hidden < 0 || s->num_hidden > MODEL_MAX_HIDDEN)
            return kdt_fail(KDT_ERR_CONFIG, "model mlp: %d hidden layers; use 0 to %d",
                            s->num_hidden, MODEL_MAX_HIDDEN);
        for (int i = 0; i < s->num_hidden; i++)
            if (s->hidden[i] < 1 || s->hidden[i] > 1 << 16)
                return kdt_fail(KDT_ERR_CONFIG, "model mlp: hidden layer %d has width %d; use 1 "
                                "to 65536", i + 1, s->hidden[i]);
    } else if (s->in_h < 4 || s->in_w < 4) {
        return kdt_fail(KDT_ERR_CONFIG, "model %s: input %dx%d is too small; it needs at least "
                        "4x4 pixels", name, s->in_h, s->in_w);
    }
    return KDT_OK;
}

// ---- builders (used by arch.c) ------------------------------------------------------------------

static void *grow(void *p, int *cap, int need, size_t elem) {
    if (need <= *cap) return p;
    int ncap = *cap ? *cap * 2 : 32;
    while (ncap < need) ncap *= 2;
    void *q = realloc(p, (size_t)ncap * elem);
    if (!q) abort(); // tiny tables at creation time: out of memory here is not recoverable
    *cap = ncap;
    return q;
}

int model_add_act(model *m, int C, int H, int W) {
    m->acts = grow(m->acts, &m->cap_acts, m->n_acts + 1, sizeof *m->acts);
    act_desc a = {C, H, W, m->n_act_floats, false};
    m->n_act_floats += (size_t)C * H * W * (size_t)m->max_batch;
    m->acts[m->n_acts] = a;
    return m->n_acts++;
}

int model_add_named(model *m, const char *name, int ndim, const int *shape, bool is_buffer,
                    int fan_in, bool is_bn_weight) {
    m->named = grow(m->named, &m->cap_named, m->n_named + 1, sizeof *m->named);
    named_desc *t = &m->named[m->n_named];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->is_buffer = is_buffer;
    t->fan_in = fan_in;
    t->is_bn_weight = is_bn_weight;
    if (is_buffer) {
        t->off = m->n_buffers; // rebased after all parameters once the plan is complete
        m->n_buffers += t->numel;
    } else {
        t->off = m->n_params;
        m->n_params += t->numel;
    }
    return m->n_named++;
}

int model_add_layer(model *m, const layer *l) {
    m->layers = grow(m->layers, &m->cap_layers, m->n_layers + 1, sizeof *m->layers);
    m->layers[m->n_layers] = *l;
    return m->n_layers++;
}

// ---- creation -----------------------------------------------------------------------------------

// A tensor read by a single 2x2 stride-2 max pool that tiles it gets its whole gradient written by
// that pool's backward, so model_backward need not zero it first; when a fused ReLU produced it
// (conv or linear), the pool applies that ReLU's backward too, saving a pass over the gradient.
static void mark_overwritten_grads(model *m) {
    for (int a = 1; a < m->n_acts; a++) {
        int readers = 0, reader = -1, producer = -1;
        for (int i = 0; i < m->n_layers; i++) {
            const layer *l = &m->layers[i];
            if (l->in == a || l->in2 == a) {
                readers++;
                reader = i;
            }
            if (l->out == a) producer = i;
        }
        if (readers != 1) continue;
        layer *l = &m->layers[reader];
        m->acts[a].grad_overwritten = l->kind == LAYER_MAXPOOL && l->in == a && l->k == 2 &&
                                      l->stride == 2 && l->H % 2 == 0 && l->W % 2 == 0;
        layer *p = producer >= 0 ? &m->layers[producer] : NULL;
        if (m->acts[a].grad_overwritten && p && p->relu &&
            (p->kind == LAYER_CONV || p->kind == LAYER_LINEAR)) {
            p->relu_grad_done = true;
            l->pool_relu_mask = true;
        }
    }
}

static float *alloc_floats(size_t n) {
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

// Plans m (tables only, nothing large allocated): layers, tensors and the workspace size.
static bool plan(model *m) {
    if (!model_build_arch(m)) return false;
    for (int i = 0; i < m->n_named; i++)
        if (m->named[i].is_buffer) m->named[i].off += m->n_params;
    mark_overwritten_grads(m);
    // workspace: the largest im2col, then logits (B, K) and the transposed dlogits
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        if (l->kind != LAYER_CONV) continue;
        size_t ws = conv2d_workspace_floats(m->max_batch, l->C, l->OC, l->OH, l->OW, l->k, l->k,
                                            l->stride, l->pad);
        if (ws > m->n_ws) m->n_ws = ws;
    }
    return true;
}

static size_t logits_offset(const model *m) { return (m->n_ws + 15) / 16 * 16; }

// Bytes of the four allocations of a planned model. Every size is a size_t from inputs bounded by
// model_spec_validate, so the sums cannot wrap on a 64-bit machine; checked anyway.
static bool planned_bytes(const model *m, size_t *bytes) {
    size_t K = (size_t)m->spec.num_classes, B = (size_t)m->max_batch;
    size_t parts[] = {m->n_params, m->n_buffers, m->n_params, m->n_act_floats, m->n_act_floats,
                      m->n_stats, logits_offset(m), K * B};
    size_t floats = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i] > SIZE_MAX / 8 - floats) return false;
        floats += parts[i];
    }
    *bytes = floats * sizeof(float) + 4 * 64; // and the alignment of each allocation
    return true;
}

size_t model_memory_limit(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return SIZE_MAX;
    return (size_t)pages * (size_t)page;
}

// The spec in words, for messages: "mlp (hidden 128 64) for 1x16x16 inputs".
static void describe(char *out, size_t cap, const model_spec *s) {
    int n = snprintf(out, cap, "%s", arch_names[s->arch]);
    if (s->arch == MODEL_MLP && n > 0 && (size_t)n < cap) {
        n += snprintf(out + n, cap - (size_t)n, " (hidden");
        for (int i = 0; i < s->num_hidden && n > 0 && (size_t)n < cap; i++)
            n += snprintf(out + n, cap - (size_t)n, " %d", s->hidden[i]);
        if (n > 0 && (size_t)n < cap) n += snprintf(out + n, cap - (size_t)n, ")");
    }
    if (n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " for %dx%dx%d inputs", s->in_c, s->in_h, s->in_w);
}

// Refuses a model larger than the machine before anything is allocated, naming the bytes.
static kdt_status check_fits(const model *m, size_t *bytes_out) {
    char what[256];
    describe(what, sizeof what, &m->spec);
    size_t bytes;
    if (!planned_bytes(m, &bytes))
        return kdt_fail(KDT_ERR_CONFIG, "model %s: its size overflows; use a smaller model", what);
    if (bytes_out) *bytes_out = bytes;
    size_t limit = model_memory_limit();
    if (bytes > limit)
        return kdt_fail(KDT_ERR_CONFIG, "model %s: needs %.1f MiB (%zu parameters: %.1f MiB with "
                        "their gradients; activations for batch %d: %.1f MiB), more than this "
                        "machine's %.1f MiB of memory; use a smaller model or batch",
                        what, (double)bytes / 1048576.0, m->n_params,
                        8.0 * (double)m->n_params / 1048576.0, m->max_batch,
                        8.0 * (double)m->n_act_floats / 1048576.0, (double)limit / 1048576.0);
    return KDT_OK;
}

kdt_status model_bytes_needed(const model_spec *spec, int max_batch, size_t *bytes) {
    *bytes = 0;
    kdt_status s = model_spec_validate(spec);
    if (s) return s;
    if (max_batch < 1) return kdt_fail(KDT_ERR_CONFIG, "model: max batch %d must be at least 1", max_batch);
    model *m = calloc(1, sizeof *m);
    if (!m) return kdt_fail(KDT_ERR_NOMEM, "model: out of memory");
    m->spec = *spec;
    m->max_batch = max_batch;
    if (!plan(m)) s = KDT_ERR_CONFIG;
    char what[256];
    describe(what, sizeof what, spec);
    if (!s && !planned_bytes(m, bytes))
        s = kdt_fail(KDT_ERR_CONFIG, "model %s: its size overflows; use a smaller model", what);
    model_destroy(m);
    return s;
}

model *model_create(const model_spec *spec, int max_batch) {
    if (model_spec_validate(spec) != KDT_OK) return NULL;
    if (max_batch < 1) {
        kdt_fail(KDT_ERR_CONFIG, "model: max batch %d must be at least 1", max_batch);
        return NULL;
    }
    gemm_init_threads();
    model *m = calloc(1, sizeof *m);
    if (!m) {
        kdt_fail(KDT_ERR_NOMEM, "model: out of memory");
        return NULL;
    }
    m->spec = *spec;
    m->max_batch = max_batch;
    size_t bytes = 0;
    if (!plan(m) || check_fits(m, &bytes) != KDT_OK) {
        model_destroy(m);
        return NULL;
    }
    size_t K = (size_t)spec->num_classes, logits_off = logits_offset(m);
    m->params = alloc_floats(m->n_params + m->n_buffers);
    m->grads = alloc_floats(m->n_params);
    m->acts_mem = alloc_floats(2 * m->n_act_floats + m->n_stats);
    m->ws = alloc_floats(logits_off + K * (size_t)max_batch);
    if (!m->params || !m->grads || !m->acts_mem || !m->ws) {
        char what[256];
        describe(what, sizeof what, spec);
        kdt_fail(KDT_ERR_NOMEM, "model %s: out of memory for %.1f MiB (parameters and gradients "
                 "%.1f MiB, activations for batch %d %.1f MiB); use a smaller model or batch", what,
                 (double)bytes / 1048576.0, 8.0 * (double)m->n_params / 1048576.0, max_batch,
                 8.0 * (double)m->n_act_floats / 1048576.0);
        model_destroy(m);
        return NULL;
    }
    m->dacts_mem = m->acts_mem + m->n_act_floats;
    m->stats_mem = m->dacts_mem + m->n_act_floats;
    m->logits = m->ws + logits_off;
    // default state: BN weight and running var 1 (so an uninitialized model is still well defined)
    for (int i = 0; i < m->n_named; i++) {
        named_desc *t = &m->named[i];
        if (t->is_bn_weight)
            for (size_t j = 0; j < t->numel; j++) m->params[t->off + j] = 1.0f;
    }
    return m;
}

void model_destroy(model *m) {
    if (!m) return;
    free(m->prof_fwd);
    free(m->prof_bwd);
    free(m->layers);
    free(m->acts);
    free(m->named);
    free(m->params);
    free(m->grads);
    free(m->acts_mem);
    free(m->ws);
    free(m);
}

void model_init_params(model *m, rng *r) {
    for (int i = 0; i < m->n_named; i++) {
        named_desc *t = &m->named[i];
        float *p = m->params + t->off;
        if (t->fan_in > 0) {
            // Kaiming uniform with a = sqrt(5) (nn.Conv2d / nn.Linear defaults): bound 1/sqrt(fan_in)
            float bound = 1.0f / sqrtf((float)t->fan_in);
            for (size_t j = 0; j < t->numel; j++) p[j] = (2.0f * rng_uniformf(r) - 1.0f) * bound;
        } else {
            float v = t->is_bn_weight ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) p[j] = v;
        }
    }
}

const model_spec *model_get_spec(const model *m) { return &m->spec; }
int model_max_batch(const model *m) { return m->max_batch; }
size_t model_num_params(const model *m) { return m->n_params; }
float *model_params(model *m) { return m->params; }
float *model_grads(model *m) { return m->grads; }
const float *model_params_const(const model *m) { return m->params; }
int model_num_tensors(const model *m) { return m->n_named; }

model_tensor model_get_tensor(const model *m, int i) {
    KDT_ASSERT(i >= 0 && i < m->n_named);
    const named_desc *t = &m->named[i];
    model_tensor r = {.name = t->name, .ndim = t->ndim, .numel = t->numel,
                      .is_buffer = t->is_buffer, .data = m->params + t->off,
                      .grad = t->is_buffer ? NULL : m->grads + t->off};
    memcpy(r.shape, t->shape, sizeof r.shape);
    return r;
}

void model_zero_grad(model *m) { memset(m->grads, 0, sizeof(float) * m->n_params); }

void model_copy_params(model *dst, const model *src) {
    KDT_ASSERT(dst->n_params == src->n_params && dst->n_buffers == src->n_buffers);
    KDT_ASSERT(memcmp(&dst->spec, &src->spec, sizeof dst->spec) == 0);
    memcpy(dst->params, src->params, sizeof(float) * (src->n_params + src->n_buffers));
}

void model_set_threads(int n) {
    KDT_ASSERT(n >= 1);
    gemm_init_threads(); // OpenBLAS runs single-threaded inside the engine's OpenMP threads
    omp_set_num_threads(n);
}

size_t model_memory_bytes(const model *m) {
    size_t floats = (m->n_params + m->n_buffers) + m->n_params + 2 * m->n_act_floats + m->n_stats +
                    m->n_ws + (size_t)m->spec.num_classes * (size_t)m->max_batch;
    return floats * sizeof(float);
}

double model_forward_macs(const model *m) {
    double macs = 0.0;
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        if (l->kind == LAYER_CONV)
            macs += (double)l->OC * l->OH * l->OW * (double)l->C * l->k * l->k;
        else if (l->kind == LAYER_LINEAR)
            macs += (double)l->OC * l->C;
    }
    return macs;
}

// ---- forward and backward -----------------------------------------------------------------------

static float *P(const model *m, int id) { return id < 0 ? NULL : m->params + m->named[id].off; }
static float *G(const model *m, int id) { return id < 0 ? NULL : m->grads + m->named[id].off; }
static float *A(const model *m, int id) { return m->acts_mem + m->acts[id].off; }
static float *D(const model *m, int id) { return m->dacts_mem + m->acts[id].off; }
static size_t numel(const model *m, int id, int B) {
    const act_desc *a = &m->acts[id];
    return (size_t)a->C * a->H * a->W * (size_t)B;
}

static void layer_forward(model *m, const layer *l, int B, bool train) {
    float *out = A(m, l->out);
    const float *in = A(m, l->in);
    switch (l->kind) {
    case LAYER_CONV:
        conv2d_forward(out, m->ws, in, P(m, l->weight), P(m, l->bias), B, l->C, l->H, l->W, l->OC,
                       l->k, l->k, l->stride, l->pad, l->relu);
        break;
    case LAYER_BN: {
        float *st = m->stats_mem + l->stats;
        batchnorm_forward(out, st, st + l->C, P(m, l->rmean), P(m, l->rvar), in, P(m, l->weight),
                          P(m, l->bias), l->C, (size_t)B * l->H * l->W, BN_EPS, BN_MOMENTUM, train,
                          l->relu);
        break;
    }
    case LAYER_MAXPOOL:
        maxpool_forward(out, in, l->C, B, l->H, l->W, l->k, l->stride);
        break;
    case LAYER_GAP:
        gap_forward(out, in, l->C, B, l->H * l->W);
        break;
    case LAYER_LINEAR:
        linear_forward(out, in, P(m, l->weight), P(m, l->bias), B, l->C, l->OC);
        if (l->relu) relu_forward(out, out, numel(m, l->out, B));
        break;
    case LAYER_ADD:
        add_forward(out, in, A(m, l->in2), numel(m, l->out, B), l->relu);
        break;
    case LAYER_FLATTEN:
        flatten_forward(out, in, l->C, B, l->H * l->W);
        break;
    case LAYER_SHORTCUT_PAD:
        shortcut_pad_forward(out, in, l->C, B, l->H, l->W, l->OC, l->stride);
        break;
    }
}

static void layer_backward(model *m, const layer *l, int B) {
    float *dout = D(m, l->out);
    const float *out = A(m, l->out), *in = A(m, l->in);
    // the network input needs no gradient
    float *din = l->in == 0 ? NULL : D(m, l->in);
    switch (l->kind) {
    case LAYER_CONV:
        conv2d_backward(din, G(m, l->weight), G(m, l->bias), m->ws, dout, out, in, P(m, l->weight),
                        B, l->C, l->H, l->W, l->OC, l->k, l->k, l->stride, l->pad,
                        l->relu && !l->relu_grad_done);
        break;
    case LAYER_BN: {
        const float *st = m->stats_mem + l->stats;
        batchnorm_backward(din, G(m, l->weight), G(m, l->bias), dout, out, in, P(m, l->weight), st,
                           st + l->C, l->C, (size_t)B * l->H * l->W, m->cur_train, l->relu);
        break;
    }
    case LAYER_MAXPOOL:
        if (din)
            maxpool_backward(din, dout, in, l->C, B, l->H, l->W, l->k, l->stride,
                             !m->acts[l->in].grad_overwritten, l->pool_relu_mask);
        break;
    case LAYER_GAP:
        if (din) gap_backward(din, dout, l->C, B, l->H * l->W);
        break;
    case LAYER_LINEAR:
        if (l->relu && !l->relu_grad_done) relu_mask_inplace(dout, out, numel(m, l->out, B));
        linear_backward(din, G(m, l->weight), G(m, l->bias), dout, in, P(m, l->weight), B, l->C,
                        l->OC);
        break;
    case LAYER_ADD:
        KDT_ASSERT(din && l->in2 != 0);
        add_backward(din, D(m, l->in2), dout, out, numel(m, l->out, B), l->relu);
        break;
    case LAYER_FLATTEN:
        if (din) flatten_backward(din, dout, l->C, B, l->H * l->W);
        break;
    case LAYER_SHORTCUT_PAD:
        if (din) shortcut_pad_backward(din, dout, l->C, B, l->H, l->W, l->OC, l->stride);
        break;
    }
}

const float *model_forward(model *m, const float *x, int B, bool train) {
    KDT_ASSERT(B >= 1 && B <= m->max_batch);
    const act_desc *in = &m->acts[0];
    layout_to_channel_major(A(m, 0), x, B, in->C, in->H * in->W);
    for (int i = 0; i < m->n_layers; i++) {
        double t0 = m->profile ? timer_now() : 0.0;
        layer_forward(m, &m->layers[i], B, train);
        if (m->profile) m->prof_fwd[i] += timer_now() - t0;
    }
    layout_to_batch_major(m->logits, A(m, m->output), B, m->spec.num_classes, 1);
    m->cur_batch = B;
    m->cur_train = train;
    return m->logits;
}

void model_backward(model *m, const float *dlogits) {
    int B = m->cur_batch;
    KDT_ASSERT(B >= 1 && "model_backward needs a forward first");
    // activation gradients accumulate (a tensor may feed two layers): clear the batch's part
    double t0 = m->profile ? timer_now() : 0.0;
    for (int i = 1; i < m->n_acts; i++) {
        if (m->acts[i].grad_overwritten) continue;
        float *d = D(m, i);
        size_t n = numel(m, i, B);
        // in blocks over the threads: one core alone does not saturate the memory bandwidth
        enum { BLOCK = 1 << 16 };
#pragma omp parallel for schedule(static)
        for (size_t b = 0; b < (n + BLOCK - 1) / BLOCK; b++) {
            size_t lo = b * BLOCK, len = lo + BLOCK <= n ? BLOCK : n - lo;
            memset(d + lo, 0, sizeof(float) * len);
        }
    }
    if (m->profile) m->prof_bwd[m->n_layers] += timer_now() - t0;
    layout_to_channel_major(D(m, m->output), dlogits, B, m->spec.num_classes, 1);
    for (int i = m->n_layers - 1; i >= 0; i--) {
        double t0 = m->profile ? timer_now() : 0.0;
        layer_backward(m, &m->layers[i], B);
        if (m->profile) m->prof_bwd[i] += timer_now() - t0;
    }
}

// ---- profiling ----------------------------------------------------------------------------------

void model_set_profiling(model *m, bool on) {
    if (on && !m->prof_fwd) {
        m->prof_fwd = calloc((size_t)m->n_layers + 1, sizeof(double));
        m->prof_bwd = calloc((size_t)m->n_layers + 1, sizeof(double));
        if (!m->prof_fwd || !m->prof_bwd) return;
    }
    m->profile = on;
}

void model_print_profile(const model *m, void *file) {
    static const char *const kinds[] = {"conv", "bn", "maxpool", "gap", "linear", "add",
                                        "flatten", "shortcut_pad"};
    FILE *f = file;
    if (!m->prof_fwd) return;
    double tf = 0.0, tb = 0.0;
    for (int i = 0; i <= m->n_layers; i++) {
        tf += m->prof_fwd[i];
        tb += m->prof_bwd[i];
    }
    fprintf(f, "%-4s %-12s %-22s %9s %9s\n", "#", "layer", "in -> out", "fwd s", "bwd s");
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        char shape[64];
        snprintf(shape, sizeof shape, "%dx%dx%d->%dx%dx%d", l->C, l->H, l->W, l->OC, l->OH, l->OW);
        char kind[32];
        if (l->kind == LAYER_CONV)
            snprintf(kind, sizeof kind, "conv%dx%d/%d", l->k, l->k, l->stride);
        else
            snprintf(kind, sizeof kind, "%s%s", kinds[l->kind], l->relu ? "+relu" : "");
        fprintf(f, "%-4d %-12s %-22s %9.4f %9.4f\n", i, kind, shape, m->prof_fwd[i], m->prof_bwd[i]);
    }
    fprintf(f, "     %-35s %9s %9.4f\n", "zeroing activation gradients", "", m->prof_bwd[m->n_layers]);
    fprintf(f, "     %-35s %9.4f %9.4f\n", "total", tf, tb);
}
