// The model's internals shared by model.c (memory, forward, backward), arch.c (the architectures)
// and checkpoint.c: a list of layers over numbered activation tensors, and the named parameters.
// Not part of the public API.
#pragma once
#include <stddef.h>

#include "model/model.h"

typedef enum {
    LAYER_CONV,
    LAYER_BN,
    LAYER_MAXPOOL,
    LAYER_GAP,
    LAYER_LINEAR,
    LAYER_ADD,
    LAYER_FLATTEN,
    LAYER_SHORTCUT_PAD,
} layer_kind;

// One activation tensor: per-image shape (C, H, W); it holds (C, B, H, W) for the current batch
// at offset `off` of the activation arena (room for max_batch images), its gradient at the same
// offset of the gradient arena.
typedef struct {
    int C, H, W;
    size_t off;
    bool grad_overwritten;   // its only consumer overwrites its gradient: no zeroing needed
} act_desc;

typedef struct {
    layer_kind kind;
    int in, in2, out;        // activation ids (in2: second operand of an add)
    bool relu;               // fused ReLU on the output (conv, linear, bn, add)
    bool relu_grad_done;     // the only consumer (a max pool) applies that ReLU's backward
    bool pool_relu_mask;     // maxpool: applies its producer's ReLU backward (see above)
    int C, H, W;             // input shape per image
    int OC, OH, OW;          // output shape per image
    int k, stride, pad;      // kernel size (conv, pool), stride, padding
    int weight, bias;        // named-tensor ids, -1 when none (bn: gamma, beta)
    int rmean, rvar;         // bn running statistics (named-tensor ids)
    size_t stats;            // bn: offset of (mean, invstd) per channel in the stats arena
} layer;

typedef struct {
    char name[64];
    int ndim;
    int shape[4];
    size_t numel;
    bool is_buffer;
    size_t off;              // in the parameter arena (params) or after them (buffers)
    int fan_in;              // for initialization (0 for batch norm)
    bool is_bn_weight;       // initialized to 1 (bn weight, running var) rather than 0
} named_desc;

struct model {
    model_spec spec;
    int max_batch;

    layer *layers;
    int n_layers, cap_layers;
    act_desc *acts;
    int n_acts, cap_acts;
    named_desc *named;
    int n_named, cap_named;

    size_t n_params;         // trainable floats
    size_t n_buffers;        // running-statistic floats
    size_t n_act_floats;     // per max batch, all activations
    size_t n_stats;          // bn saved statistics
    size_t n_ws;             // convolution workspace

    float *params;           // (n_params + n_buffers): parameters, then running statistics
    float *grads;            // (n_params)
    float *acts_mem;         // activations, their gradients, bn saved statistics: one allocation
    float *dacts_mem;
    float *stats_mem;
    float *ws;               // workspace: convolution im2col, logits (B, K), dlogits (K, B)
    float *logits;

    bool profile;            // time every layer (model_set_profiling)
    double *prof_fwd, *prof_bwd; // (n_layers) seconds, when profiling

    int cur_batch;           // batch of the last forward
    bool cur_train;
    int output;              // activation id of the logits (K, 1, 1)
};

// Builders used by arch.c; they only record sizes, model.c allocates afterwards.
int model_add_act(model *m, int C, int H, int W);
int model_add_named(model *m, const char *name, int ndim, const int *shape, bool is_buffer,
                    int fan_in, bool is_bn_weight);
int model_add_layer(model *m, const layer *l);

// Builds the layers of m->spec (arch.c); false with a message (kdt_fail) when it does not fit.
bool model_build_arch(model *m);
