// Federated partitions of the pool among participants, named as Flower and FedLab name them:
// iid, dirichlet (dirichlet_alpha, min_partition_size), shards (num_shards_per_partition),
// pathological (num_classes_per_partition) and from_file; their saving (indices.bin, indices.csv,
// report.csv), loading and class-count reports.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "data/dataset.h"

// How the pool is split among participants (named as in Flower and FedLab).
typedef enum {
    PARTITION_IID,
    PARTITION_DIRICHLET,
    PARTITION_SHARDS,
    PARTITION_PATHOLOGICAL,
    PARTITION_FROM_FILE,
    PARTITION_N_SCHEMES
} partition_scheme;

// "iid", "dirichlet", "shards", "pathological", "from_file"; NULL out of range.
const char *partition_scheme_name(partition_scheme s);

typedef struct {
    partition_scheme scheme;
    int participants;             // >= 1
    double dirichlet_alpha;       // dirichlet: concentration (> 0); small = skewed
    int min_partition_size;       // dirichlet: redraw until every participant has this many
    int max_retries;              // dirichlet: draws before giving up (>= 1)
    int num_shards_per_partition; // shards: label-sorted shards per participant
    int num_classes_per_partition;// pathological: classes per participant
    const char *file;             // from_file: indices.bin or the folder holding it
    uint64_t seed;
} partition_spec;

// Defaults as in the embedded config: dirichlet, 10 participants, dirichlet_alpha 0.5,
// min_partition_size 10, max_retries 1000, 2 shards, 2 classes, seed 42.
void partition_spec_default(partition_spec *spec);

typedef struct {
    int participants, pool_n, classes;
    int *start; // (participants + 1): participant cid owns index[start[cid] .. start[cid + 1])
    int *index; // (start[participants]): indices into the pool, ascending within a participant
} partition;

void partition_free(partition *p); // safe on a zeroed struct

// Allocates out's arrays for the given sizes (contents uninitialized).
kdt_status partition_alloc(partition *out, int participants, int pool_n, int classes, int total);

// Participant cid's indices into the pool; *n gets their count.
static inline const int *partition_indices(const partition *p, int cid, int *n) {
    *n = p->start[cid + 1] - p->start[cid];
    return p->index + p->start[cid];
}

// Partitions the pool by spec. Every scheme but from_file assigns every pool example to exactly
// one participant; from_file checks that the saved partition fits this pool. Impossible requests
// (more participants than examples, a min_partition_size the draws never reach in max_retries,
// too few shards, classes that no participant would cover) give KDT_ERR_CONFIG saying what to change.
kdt_status partition_make(const partition_spec *spec, const dataset *pool, partition *out);

// Writes dir/indices.bin (binary, with magic, version, sizes and a CRC-32), dir/indices.csv
// (`cid,index`, one row per example) and dir/report.csv (`cid,class-0,...,class-K-1,total`);
// creates dir if needed; each file is written atomically.
kdt_status partition_save(const partition *p, const dataset *pool, const char *dir);

// Reads indices.bin (path to the file or to the folder holding it), checking magic, version,
// sizes, CRC and that every index is in range and used once.
kdt_status partition_load(const char *path, partition *out);

// counts[cid * classes + k] = examples of class k held by participant cid. counts: (participants, classes)
void partition_class_counts(int *counts, const partition *p, const dataset *pool);

// props[k] = share of class k in participant cid's data (sums to 1; all 0 if it has none).
void partition_class_proportions(double *props, const partition *p, const dataset *pool, int cid); // (classes)

// Label skew: mean over participants of the total-variation distance between a participant's
// label distribution and the pool's (0 = iid, up to 1 - 1/K for one class each).
double partition_label_skew(const partition *p, const dataset *pool);

// Prints the class-count table: one row per participant, a column per class, the total, and a
// last row with the pool's counts; columns sized to fit.
void partition_print_table(FILE *f, const partition *p, const dataset *pool);
