// The neural-network model object: an architecture built from a model_spec, with its parameters,
// gradients, batch-norm running statistics, activations and workspace each carved from one
// allocation sized for the largest batch, so a training step allocates nothing. Inputs and
// logits use the batch-major layout (B, C, H, W) and (B, K); inside, activations are channel-major.
//
// Typical step:
//   model_zero_grad(m);
//   const float *logits = model_forward(m, x, B, true);
//   float loss = loss_cross_entropy(dlogits, logits, y, B, K);
//   model_backward(m, dlogits);
//   sgd_step(opt, lr);
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/rng.h"

typedef enum {
    MODEL_MLP = 0,
    MODEL_CNN,
    MODEL_RESNET8,
    MODEL_RESNET20,
    MODEL_RESNET18,
    MODEL_ARCH_COUNT
} model_arch;

enum { MODEL_MAX_HIDDEN = 8 };

typedef struct {
    model_arch arch;
    int in_c, in_h, in_w;            // input shape of one image, from the dataset
    int num_classes;                 // K
    int num_hidden;                  // mlp only: number of hidden layers (0..MODEL_MAX_HIDDEN)
    int hidden[MODEL_MAX_HIDDEN];    // mlp only: their widths
} model_spec;

typedef struct model model;

// "mlp", "cnn", "resnet8", "resnet20", "resnet18".
const char *model_arch_name(model_arch arch);
// KDT_OK and *arch set, or KDT_ERR_CONFIG with a message listing the known names.
kdt_status model_arch_from_name(const char *name, model_arch *arch);

// Checks a spec (shape, classes, hidden sizes, and that the architecture fits the input size).
// KDT_ERR_CONFIG with a message saying what is wrong.
kdt_status model_spec_validate(const model_spec *spec);

// A model for batches of up to max_batch images; NULL on a bad spec or out of memory
// (kdt_errmsg() says which). Parameters start at zero: call model_init_params.
model *model_create(const model_spec *spec, int max_batch);
void model_destroy(model *m);

// PyTorch's default initialization: conv and linear weights and biases Kaiming-uniform
// (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), batch-norm weight 1, bias 0, running mean 0, var 1.
void model_init_params(model *m, rng *r);

const model_spec *model_get_spec(const model *m);
int model_max_batch(const model *m);
size_t model_num_params(const model *m);  // trainable parameters (what SGD updates)
float *model_params(model *m);            // (model_num_params) contiguous
float *model_grads(model *m);             // (model_num_params), same order
const float *model_params_const(const model *m);

// Named tensors in PyTorch state_dict order and naming (parameters and batch-norm running
// statistics); used by checkpoints and by the reference tests.
typedef struct {
    const char *name;   // e.g. "layer1.0.conv1.weight", "bn1.running_var"
    int ndim;
    int shape[4];
    size_t numel;
    bool is_buffer;     // running statistic, not a trainable parameter
    float *data;
    float *grad;        // NULL for buffers
} model_tensor;
int model_num_tensors(const model *m);
model_tensor model_get_tensor(const model *m, int i);

// Forward pass on x (B, C, H, W), B <= max_batch; returns the logits (B, K), valid until the next
// forward. train: batch-norm batch statistics (and running-statistics update), else running ones.
const float *model_forward(model *m, const float *x, int B, bool train);
// Backward pass of the last forward, given dlogits (B, K); ACCUMULATES parameter gradients.
void model_backward(model *m, const float *dlogits);
void model_zero_grad(model *m);

// Copies parameters and running statistics from src into dst (same spec; max batch may differ).
void model_copy_params(model *dst, const model *src);

// Mean cross-entropy (log-softmax + negative log-likelihood, PyTorch's mean reduction) of logits
// (B, K) against labels y (B); writes its gradient dlogits (B, K) when dlogits is not NULL.
float loss_cross_entropy(float *dlogits, const float *logits, const int *y, int B, int K);

// Checkpoints (checkpoint.c): a binary file with a magic number, a version, the spec, every
// tensor's name and shape, and a CRC32; written atomically. model_load refuses a truncated,
// corrupted or mismatched file with KDT_ERR_FORMAT and a message saying which and why, leaving the
// model unchanged.
kdt_status model_save(const model *m, const char *path);
kdt_status model_load(model *m, const char *path);
// Reads only the spec stored in a checkpoint (to create the matching model).
kdt_status model_load_spec(const char *path, model_spec *spec);

// Sets the engine's threads (n >= 1): OpenMP runs n threads that share every GEMM's blocks, each
// calling OpenBLAS single-threaded (model_create also makes OpenBLAS single-threaded). Results are
// bit-identical at any n, and when a model runs inside a parallel region (one thread each).
void model_set_threads(int n);

// Profiling for benchmarks: when on, forward and backward time every layer; model_print_profile
// writes the accumulated seconds per layer kind and shape to f.
void model_set_profiling(model *m, bool on);
void model_print_profile(const model *m, void *file /* FILE * */);

// Bytes the model holds: parameters, gradients, running statistics, activations and their
// gradients, workspace (the optimizer's momentum buffers are the optimizer's).
size_t model_memory_bytes(const model *m);

// Bytes model_create(spec, max_batch) would allocate, computed without allocating them (for checks
// of a config before anything is built). KDT_ERR_CONFIG on an invalid spec or a size that overflows.
// model_create itself refuses (KDT_ERR_CONFIG, with the bytes) a model over model_memory_limit().
kdt_status model_bytes_needed(const model_spec *spec, int max_batch, size_t *bytes);

// The memory a model may take: this machine's physical memory.
size_t model_memory_limit(void);

// Multiply-adds of one image's forward pass (convolutions and linear layers).
double model_forward_macs(const model *m);
