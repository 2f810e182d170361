// The resolved kdtune configuration: one struct with a section per YAML section. Every key, its
// type, range, default and meaning is declared once, in the schema of app/config_schema.c; the
// embedded default is that schema's defaults, and experiments/default.yaml is generated from it.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

enum { CFG_LIST_MAX = 64, CFG_STR_MAX = 512 };

typedef struct { int n; double v[CFG_LIST_MAX]; } cfg_floats;
typedef struct { int n; int v[CFG_LIST_MAX]; } cfg_ints;   // integers or enum choice indices

// Enum choices, in the order of their names in the schema.
typedef enum { SOURCE_SYNTHETIC, SOURCE_CIFAR10, SOURCE_CIFAR100, SOURCE_MNIST, SOURCE_FASHION_MNIST } cfg_source;
typedef enum { LABELS_FINE, LABELS_COARSE } cfg_cifar100_labels;
typedef enum { FLIP_AUTO, FLIP_ALWAYS, FLIP_NEVER } cfg_flip;
typedef enum { SCHEME_IID, SCHEME_DIRICHLET, SCHEME_SHARDS, SCHEME_PATHOLOGICAL, SCHEME_FROM_FILE } cfg_scheme;
typedef enum { ARCH_MLP, ARCH_CNN, ARCH_RESNET8, ARCH_RESNET20, ARCH_RESNET18 } cfg_arch;
typedef enum { SCHEDULE_CONSTANT, SCHEDULE_STEP, SCHEDULE_COSINE } cfg_schedule;
typedef enum { TRANSFER_UNLABELLED, TRANSFER_UNLABELLED_SELF, TRANSFER_STUDENT_DATA } cfg_transfer;
typedef enum { POSITION_FORWARD, POSITION_REVERSE } cfg_position;
typedef enum { SCALE_LOG, SCALE_LINEAR } cfg_scale;
typedef enum {
    STRATEGY_GP, STRATEGY_RANDOM, STRATEGY_BOBYQA, STRATEGY_COBYLA, STRATEGY_NELDERMEAD,
    STRATEGY_SBPLX, STRATEGY_DIRECT_L
} cfg_strategy;

typedef struct {
    double lr, momentum, weight_decay;
    int epochs, batch_size;
    bool nesterov, augment;
} cfg_sgd;

typedef struct {
    struct { char name[CFG_STR_MAX]; int seed, threads; } experiment;
    struct {
        int source;                 // cfg_source
        char path[CFG_STR_MAX];
        int cifar100_labels;        // cfg_cifar100_labels
        int pool_size, transfer_size, val_size, test_size;
        bool normalize;
        struct { int channels, image_size, classes; } synthetic;
        struct { bool crop; int crop_padding, flip; } augment; // flip: cfg_flip
    } data;
    struct {
        int scheme;                 // cfg_scheme
        double dirichlet_alpha;
        int min_partition_size, max_retries, num_shards_per_partition, num_classes_per_partition;
        char file[CFG_STR_MAX];
        int seed;
    } partition;
    struct { int participants; } federation;
    struct { cfg_ints arch; cfg_ints mlp_hidden; } model; // arch: cfg_arch, one or one per participant
    struct {
        cfg_sgd sgd;
        int schedule;               // cfg_schedule
        int step_epochs;
        double gamma, warmup_epochs;
    } pretrain;
    struct {
        cfg_sgd sgd;
        double temperature, alpha;  // the default setting (untuned); `kdtune eval` uses it
        int transfer_set, position; // cfg_transfer, cfg_position
    } kd;
    struct {
        cfg_floats temperature, alpha; // [min, max]; min == max fixes the value
        int temperature_scale;         // cfg_scale
        cfg_ints transfer_sets, positions;
    } space;
    struct { cfg_floats temperatures, alphas; cfg_ints transfer_sets, positions; } grid;
    struct {
        cfg_ints strategies;           // cfg_strategy
        int budget, initial_points;
        bool ordered;
        double epsilon;
    } tuner;
    struct { char dir[CFG_STR_MAX]; bool plots; } output;
} kdt_config;

// The embedded default.
void config_default(kdt_config *cfg);

// Reads a YAML file over cfg (keys not in the file keep their current values).
kdt_status config_load_file(kdt_config *cfg, const char *path);

// Reads a YAML document held in memory; `origin` names it in error messages.
kdt_status config_load_string(kdt_config *cfg, const char *yaml, size_t len, const char *origin);

// Applies one `key.path=value` override; the value is YAML (`3`, `0.5`, `cnn`, `[1,2,4]`).
kdt_status config_set(kdt_config *cfg, const char *assignment);

// Checks what no single key can: relations between keys (list lengths, sizes, ranges).
kdt_status config_check(const kdt_config *cfg);

// The resolved config as YAML that reads back to the same config; with `commented`, each key is
// preceded by its documentation. Returns a malloc'ed string.
char *config_to_yaml(const kdt_config *cfg, bool commented);

// The name of an enum value of the key at `path` (e.g. "kd.transfer_set", TRANSFER_STUDENT_DATA);
// "?" for a value out of range. The text stays valid for the next 15 calls on the same thread.
const char *config_choice_name(const char *path, int value);
