// The resolved kdtune configuration: one struct with a section per YAML section. Every key, its
// type, range, default and meaning is declared once, in the schema of app/config_schema.c; the
// embedded default is that schema's defaults, and experiments/default.yaml is generated from it.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/error.h"
#include "data/partition.h"
#include "data/splits.h"
#include "kd/vocab.h"
#include "model/model.h"
#include "model/sgd.h"
#include "tuner/tuner.h"

enum { CFG_LIST_MAX = 64, CFG_STR_MAX = 512 };

typedef struct { int n; double v[CFG_LIST_MAX]; } cfg_floats;
typedef struct { int n; int v[CFG_LIST_MAX]; } cfg_ints;   // integers or enum choice indices

// A list of enum values; the parser stores them as int, which every enum here is.
#define CFG_ENUM_LIST(type) struct { int n; type v[CFG_LIST_MAX]; }
typedef CFG_ENUM_LIST(model_arch) cfg_archs;
typedef CFG_ENUM_LIST(kd_transfer) cfg_transfers;
typedef CFG_ENUM_LIST(kd_position) cfg_positions;
typedef CFG_ENUM_LIST(kd_method) cfg_methods;
typedef CFG_ENUM_LIST(tuner_strategy) cfg_strategies;

// The config's own choices (every other enum belongs to the module that uses it).
typedef enum { CONFIG_LABELS_FINE, CONFIG_LABELS_COARSE, CONFIG_N_LABELS } config_cifar100_labels;
typedef enum { CONFIG_SCALE_LOG, CONFIG_SCALE_LINEAR, CONFIG_N_SCALES } config_scale;
const char *config_labels_name(config_cifar100_labels l);
const char *config_scale_name(config_scale s);

typedef struct {
    double lr, momentum, weight_decay;
    int epochs, batch_size;
    bool nesterov, augment;
} cfg_sgd;

typedef struct {
    struct { char name[CFG_STR_MAX]; int seed, threads; } experiment;
    struct {
        data_source source;
        char path[CFG_STR_MAX];
        config_cifar100_labels cifar100_labels;
        int pool_size, transfer_size, val_size, test_size;
        bool normalize;
        struct { int channels, image_size, classes; } synthetic;
        struct { bool crop; int crop_padding; data_flip flip; } augment;
    } data;
    struct {
        partition_scheme scheme;
        double dirichlet_alpha;
        int min_partition_size, max_retries, num_shards_per_partition, num_classes_per_partition;
        char file[CFG_STR_MAX];
        int seed;
    } partition;
    struct { int participants; } federation;
    struct { cfg_archs arch; cfg_ints mlp_hidden; } model; // arch: one, or one per participant
    struct {
        cfg_sgd sgd;
        lr_kind schedule;
        int step_epochs;
        double gamma, warmup_epochs;
    } pretrain;
    struct {
        cfg_sgd sgd;
        double temperature, alpha;  // the default setting (untuned); `kdtune eval` uses it
        kd_transfer transfer_set;
        kd_position position;
        kd_method method;
        int replicate;              // `kdtune eval`'s draw of the KD randomness
    } kd;
    struct {
        cfg_floats temperature, alpha; // [min, max]; min == max fixes the value
        config_scale temperature_scale;
        cfg_transfers transfer_sets;
        cfg_positions positions;
        cfg_methods methods;
    } space;
    struct {
        cfg_floats temperatures, alphas;
        cfg_transfers transfer_sets;
        cfg_positions positions;
        cfg_methods methods;
        int replicates;
    } grid;
    struct {
        cfg_strategies strategies;
        int budget, initial_points;
        int replicates, final_candidates;
        int transfer_wave;
        double screen_fidelity, screen_cost;
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

// Walks a YAML event stream without building a document, so that deep nesting is refused before
// libyaml spends superlinear time on it: CONFIG_YAML_TOO_DEEP at the first mapping or sequence
// deeper than max_depth (its mark in *at), CONFIG_YAML_MALFORMED with the parser's problem set.
typedef enum { CONFIG_YAML_OK, CONFIG_YAML_MALFORMED, CONFIG_YAML_TOO_DEEP } config_yaml_nesting;
config_yaml_nesting config_yaml_check_nesting(yaml_parser_t *parser, int max_depth, yaml_mark_t *at);

// The name of an enum value of the key at `path` (e.g. "kd.transfer_set", KD_STUDENT_DATA);
// "?" for a value out of range. The text stays valid for the next 15 calls on the same thread.
const char *config_choice_name(const char *path, int value);
