// Every configuration key of kdtune, in the order they are printed. Adding a key means adding a
// field to kdt_config and a line here; loading, overrides, checks and printing follow.
#include "app/config_schema.h"

#include <float.h>
#include <string.h>

#include "app/config.h"
#include "data/partition.h"
#include "data/splits.h"
#include "kd/vocab.h"
#include "model/model.h"
#include "model/sgd.h"
#include "tuner/tuner.h"

#define OFF(field) offsetof(kdt_config, field)
#define BIG 1e9
#define INT(p, f, d, lo, hi, doc) {p, CFG_INT, OFF(f), d, lo, hi, 0, 0, NULL, 0, doc}
#define FLT(p, f, d, lo, hi, doc) {p, CFG_FLOAT, OFF(f), d, lo, hi, 0, 0, NULL, 0, doc}
#define BOOL(p, f, d, doc) {p, CFG_BOOL, OFF(f), d, 0, 0, 0, 0, NULL, 0, doc}
#define STR(p, f, d, doc) {p, CFG_STRING, OFF(f), d, 0, 0, 0, 0, NULL, 0, doc}
#define ENUM(p, f, d, ch, doc) {p, CFG_ENUM, OFF(f), d, 0, 0, 0, 0, ch, doc}
#define INTS(p, f, d, lo, hi, nlo, nhi, doc) {p, CFG_INT_LIST, OFF(f), d, lo, hi, nlo, nhi, NULL, 0, doc}
#define FLTS(p, f, d, lo, hi, nlo, nhi, doc) {p, CFG_FLOAT_LIST, OFF(f), d, lo, hi, nlo, nhi, NULL, 0, doc}
#define ENUMS(p, f, d, ch, nlo, nhi, doc) {p, CFG_ENUM_LIST, OFF(f), d, 0, 0, nlo, nhi, ch, doc}

// The names of each enum come from the module that owns it (one name table per enum); these
// adapters give the schema one signature for all of them.
#define NAMES(fn, type, count)                                                                     \
    static const char *fn##_of(int v) { return v >= 0 && v < (count) ? fn((type)v) : NULL; }
NAMES(data_source_name, data_source, DATA_N_SOURCES)
NAMES(data_flip_name, data_flip, DATA_N_FLIPS)
NAMES(partition_scheme_name, partition_scheme, PARTITION_N_SCHEMES)
NAMES(model_arch_name, model_arch, MODEL_ARCH_COUNT)
NAMES(lr_kind_name, lr_kind, LR_N_KINDS)
NAMES(kd_transfer_name, kd_transfer, KD_N_TRANSFERS)
NAMES(kd_position_name, kd_position, KD_N_POSITIONS)
NAMES(kd_method_name, kd_method, KD_N_METHODS)
NAMES(config_labels_name, config_cifar100_labels, CONFIG_N_LABELS)
NAMES(config_scale_name, config_scale, CONFIG_N_SCALES)
// The grid is `kdtune grid`, not a tuning strategy.
static const char *tuner_strategy_name_of(int v) {
    return v > TUNER_GRID && v < TUNER_N_STRATEGIES ? tuner_strategy_name((tuner_strategy)v) : NULL;
}
#define CHOICES(fn, count) fn##_of, count
#define SOURCES CHOICES(data_source_name, DATA_N_SOURCES)
#define FLIPS CHOICES(data_flip_name, DATA_N_FLIPS)
#define SCHEMES CHOICES(partition_scheme_name, PARTITION_N_SCHEMES)
#define ARCHS CHOICES(model_arch_name, MODEL_ARCH_COUNT)
#define SCHEDULES CHOICES(lr_kind_name, LR_N_KINDS)
#define TRANSFERS CHOICES(kd_transfer_name, KD_N_TRANSFERS)
#define POSITIONS CHOICES(kd_position_name, KD_N_POSITIONS)
#define METHODS CHOICES(kd_method_name, KD_N_METHODS)
#define LABELS CHOICES(config_labels_name, CONFIG_N_LABELS)
#define SCALES CHOICES(config_scale_name, CONFIG_N_SCALES)
#define STRATEGIES CHOICES(tuner_strategy_name, TUNER_N_STRATEGIES)

#define SGD(sec, d_epochs, d_batch, d_lr, d_wd, d_aug)                                                        \
    INT(#sec ".epochs", sec.sgd.epochs, d_epochs, 0, 10000, "passes over the training data"),         \
    INT(#sec ".batch_size", sec.sgd.batch_size, d_batch, 1, 4096, "examples per SGD step"),           \
    FLT(#sec ".lr", sec.sgd.lr, d_lr, 0, 10, "SGD learning rate"),                                    \
    FLT(#sec ".momentum", sec.sgd.momentum, "0.9", 0, 0.999, "SGD momentum"),                       \
    BOOL(#sec ".nesterov", sec.sgd.nesterov, "false", "Nesterov momentum"),                         \
    FLT(#sec ".weight_decay", sec.sgd.weight_decay, d_wd, 0, 1, "L2 weight decay"),                   \
    BOOL(#sec ".augment", sec.sgd.augment, d_aug, "apply data.augment while training")


const cfg_key config_schema[] = {
    STR("experiment.name", experiment.name, "default", "a name for the run, used in reports"),
    INT("experiment.seed", experiment.seed, "42", 0, 2147483647,
        "global seed: every random stream is derived from it and from what it is for"),
    INT("experiment.threads", experiment.threads, "0", 0, 1024,
        "threads for OpenBLAS and OpenMP; 0 = all cores (results do not depend on it)"),

    ENUM("data.source", data.source, "synthetic", SOURCES,
         "dataset: synthetic (generated from the seed, no file needed) or a real one under data.path"),
    STR("data.path", data.path, "", "directory holding the dataset's files (not used by synthetic)"),
    ENUM("data.cifar100_labels", data.cifar100_labels, "fine", LABELS,
         "CIFAR-100 labels: 100 fine classes or 20 coarse superclasses"),
    INT("data.pool_size", data.pool_size, "5000", 1, 10000000,
        "examples shared out among the participants"),
    INT("data.transfer_size", data.transfer_size, "500", 1, 10000000,
        "public transfer set for KD (its labels are never read by KD)"),
    INT("data.val_size", data.val_size, "5000", 1, 10000000,
        "validation split: the tuner's objective"),
    INT("data.test_size", data.test_size, "5000", 0, 10000000,
        "test split for reports; 0 = the source's whole test split"),
    BOOL("data.normalize", data.normalize, "true", "per-channel normalization from the pool's statistics"),
    INT("data.synthetic.channels", data.synthetic.channels, "1", 1, 4, "synthetic image channels"),
    INT("data.synthetic.image_size", data.synthetic.image_size, "16", 4, 256, "synthetic image height and width"),
    INT("data.synthetic.classes", data.synthetic.classes, "10", 2, 100, "synthetic class count"),
    BOOL("data.augment.crop", data.augment.crop, "true", "random crop after zero padding"),
    INT("data.augment.crop_padding", data.augment.crop_padding, "2", 0, 64, "padding of the random crop, in pixels"),
    ENUM("data.augment.flip", data.augment.flip, "auto", FLIPS,
         "random horizontal flip; auto = off for digit datasets (mnist), on otherwise"),

    ENUM("partition.scheme", partition.scheme, "dirichlet", SCHEMES,
         "how the pool is shared out among participants (names as in Flower and FedLab)"),
    FLT("partition.dirichlet_alpha", partition.dirichlet_alpha, "0.5", 1e-4, 1e6,
        "Dirichlet concentration: smaller = more skewed label distributions"),
    INT("partition.min_partition_size", partition.min_partition_size, "10", 0, 10000000,
        "dirichlet: redraw until every participant has at least this many examples"),
    INT("partition.max_retries", partition.max_retries, "1000", 1, 1000000,
        "dirichlet: redraws before giving up on min_partition_size"),
    INT("partition.num_shards_per_partition", partition.num_shards_per_partition, "2", 1, 10000,
        "shards: label-sorted shards given to each participant"),
    INT("partition.num_classes_per_partition", partition.num_classes_per_partition, "2", 1, 1000,
        "pathological: classes each participant holds"),
    STR("partition.file", partition.file, "", "from_file: a saved partition (partition/indices.bin)"),
    INT("partition.seed", partition.seed, "42", 0, 2147483647, "seed of the partition"),

    INT("federation.participants", federation.participants, "10", 2, CFG_LIST_MAX, "number of participants"),

    ENUMS("model.arch", model.arch, "[mlp]", ARCHS, 1, CFG_LIST_MAX,
          "architecture: one for all participants, or one per participant"),
    INTS("model.mlp_hidden", model.mlp_hidden, "[128]", 1, 65536, 0, 16, "hidden layer sizes of mlp"),

    SGD(pretrain, "30", "64", "0.05", "0.0005", "false"),
    ENUM("pretrain.schedule", pretrain.schedule, "cosine", SCHEDULES, "learning-rate schedule"),
    INT("pretrain.step_epochs", pretrain.step_epochs, "30", 1, 100000, "step: epochs between decays"),
    FLT("pretrain.gamma", pretrain.gamma, "0.1", 0, 1, "step: learning-rate factor at each decay"),
    FLT("pretrain.warmup_epochs", pretrain.warmup_epochs, "0.0", 0, 1000, "linear warm-up length"),

    SGD(kd, "2", "64", "0.01", "0.0005", "false"),
    FLT("kd.temperature", kd.temperature, "1.0", 0.01, 1000,
        "default setting: softmax temperature T (kdtune eval uses it; tuned gains are compared with it)"),
    FLT("kd.alpha", kd.alpha, "0.5", 0, 1, "default setting: weight of the teacher's soft term"),
    ENUM("kd.transfer_set", kd.transfer_set, "unlabelled", TRANSFERS,
         "default setting: what the student learns on"),
    ENUM("kd.position", kd.position, "forward", POSITIONS,
         "default setting: forward = i teaches j (i < j), reverse = j teaches i"),
    ENUM("kd.method", kd.method, "kd", METHODS,
         "default setting: kd (one teacher), dml (deep mutual learning: both train), dpkd (data-partitioning KD)"),
    INT("kd.replicate", kd.replicate, "0", 0, 1000000,
        "which draw of the KD randomness (batch order, augmentation); never changes data or participants"),

    FLTS("space.temperature", space.temperature, "[1.0, 20.0]", 0.01, 1000, 2, 2,
         "tuned temperature range [min, max]; min = max fixes it"),
    ENUM("space.temperature_scale", space.temperature_scale, "log", SCALES,
         "scale on which the tuner searches the temperature"),
    FLTS("space.alpha", space.alpha, "[0.0, 1.0]", 0, 1, 2, 2, "tuned alpha range [min, max]"),
    ENUMS("space.transfer_sets", space.transfer_sets, "[unlabelled, unlabelled_self, student_data]",
          TRANSFERS, 1, 3, "transfer sets the tuner chooses from"),
    ENUMS("space.positions", space.positions, "[forward, reverse]", POSITIONS, 1, 2,
          "positions the tuner chooses from"),
    ENUMS("space.methods", space.methods, "[kd]", METHODS, 1, KD_N_METHODS, "methods the tuner chooses from"),

    FLTS("grid.temperatures", grid.temperatures, "[1.0, 2.0, 4.0, 8.0, 16.0]", 0.01, 1000, 1,
         CFG_LIST_MAX, "grid: temperatures"),
    FLTS("grid.alphas", grid.alphas, "[0.0, 0.25, 0.5, 0.75, 1.0]", 0, 1, 1, CFG_LIST_MAX,
         "grid: alphas"),
    ENUMS("grid.transfer_sets", grid.transfer_sets, "[unlabelled, unlabelled_self, student_data]",
          TRANSFERS, 1, 3, "grid: transfer sets"),
    ENUMS("grid.positions", grid.positions, "[forward, reverse]", POSITIONS, 1, 2,
          "grid: positions"),
    ENUMS("grid.methods", grid.methods, "[kd]", METHODS, 1, KD_N_METHODS, "grid: methods"),
    INT("grid.replicates", grid.replicates, "1", 1, 100,
        "grid: evaluations of every point, each with another draw of the KD randomness (kd.replicate)"),

    ENUMS("tuner.strategies", tuner.strategies, "[gp, random, bobyqa]", STRATEGIES, 0, TUNER_N_STRATEGIES - 1,
          "strategies that kdtune run tunes every pair with"),
    INT("tuner.budget", tuner.budget, "15", 1, 100000, "paid evaluations per pair and strategy (the default phase's settings come on top, free to every strategy)"),
    INT("tuner.replicates", tuner.replicates, "1", 1, 100,
        "evaluations of each final candidate (re-evaluations count in the budget); the pick is the best mean"),
    INT("tuner.final_candidates", tuner.final_candidates, "2", 1, 8,
        "final candidates re-evaluated when tuner.replicates > 1"),
    INT("tuner.transfer_wave", tuner.transfer_wave, "5", 1, 100000,
        "gp_transfer: pairs tuned at once; each wave learns from the waves before it"),
    INT("tuner.initial_points", tuner.initial_points, "2", 0, 1000,
        "gp: space-filling points before the model leads, after the default T and alpha in each transfer set and position"),
    FLT("tuner.screen_fidelity", tuner.screen_fidelity, "0.5", 0.01, 0.99,
        "screen: fidelity of a screening evaluation (the fraction of the transfer set trained on and of the validation split scored)"),
    FLT("tuner.screen_cost", tuner.screen_cost, "0.69", 0.01, 0.99,
        "screen: what a screen costs in tuner.budget, in full evaluations (the time ratio measured at fidelity 0.5; 0.48 at 0.25: bench/tuner/FIDELITY.md)"),
    BOOL("tuner.ordered", tuner.ordered, "false", "tune each ordered pair with the position fixed"),
    FLT("tuner.epsilon", tuner.epsilon, "0.005", 0, 1,
        "a tuned gain within epsilon (a fraction) of the grid's best counts as reaching it"),

    STR("output.dir", output.dir, "runs/default", "run directory (kdtune -o overrides it)"),
    BOOL("output.plots", output.plots, "true", "draw PNG plots with gnuplot in the report"),
};

const size_t config_schema_len = sizeof config_schema / sizeof config_schema[0];

const char *config_section_doc(const char *section) {
    static const struct { const char *name, *doc; } docs[] = {
        {"experiment", "the run as a whole"},
        {"data", "where the examples come from and how they are split"},
        {"partition", "the non-IID partition of the pool among participants"},
        {"federation", "the participants"},
        {"model", "each participant's network"},
        {"pretrain", "local training of each participant before any KD"},
        {"kd", "one round of knowledge distillation for a pair; T and alpha here are the untuned default"},
        {"space", "the search space of the tuner"},
        {"grid", "the exhaustive baseline sweep"},
        {"tuner", "the tuning strategies and their budget"},
        {"output", "what is written where"},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        if (strcmp(docs[i].name, section) == 0) return docs[i].doc;
    return "";
}
