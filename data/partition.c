// The partitioners, as Flower (flwr-datasets) and FedLab define them, over an `owner` array (the
// participant of every pool example), turned into per-participant ascending index lists.
#include "data/partition.h"

#include "common/check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

void partition_spec_default(partition_spec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->scheme = PARTITION_DIRICHLET;
    spec->participants = 10;
    spec->dirichlet_alpha = 0.5;
    spec->min_partition_size = 10;
    spec->max_retries = 1000;
    spec->num_shards_per_partition = 2;
    spec->num_classes_per_partition = 2;
    spec->file = "";
    spec->seed = 42;
}

void partition_free(partition *p) {
    free(p->start);
    free(p->index);
    memset(p, 0, sizeof *p);
}

kdt_status partition_alloc(partition *out, int participants, int pool_n, int classes, int total) {
    memset(out, 0, sizeof *out);
    out->start = malloc((size_t)(participants + 1) * sizeof *out->start);
    out->index = malloc((size_t)(total > 0 ? total : 1) * sizeof *out->index);
    if (!out->start || !out->index) {
        partition_free(out);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory for a partition of %d indices", total);
    }
    out->participants = participants;
    out->pool_n = pool_n;
    out->classes = classes;
    return KDT_OK;
}

// Builds out from owner[i] in [0, P) (or -1: unassigned): a counting sort keeps indices ascending.
static kdt_status from_owner(partition *out, const int *owner, int n, int participants, int classes) {
    int total = 0;
    for (int i = 0; i < n; i++) total += owner[i] >= 0;
    kdt_status s = partition_alloc(out, participants, n, classes, total);
    if (s != KDT_OK) return s;
    memset(out->start, 0, (size_t)(participants + 1) * sizeof *out->start);
    for (int i = 0; i < n; i++)
        if (owner[i] >= 0) out->start[owner[i] + 1]++;
    for (int c = 0; c < participants; c++) out->start[c + 1] += out->start[c];
    int *fill = malloc((size_t)participants * sizeof *fill);
    if (!fill) {
        partition_free(out);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    }
    memcpy(fill, out->start, (size_t)participants * sizeof *fill);
    for (int i = 0; i < n; i++)
        if (owner[i] >= 0) out->index[fill[owner[i]]++] = i;
    free(fill);
    return KDT_OK;
}

// The pool's indices grouped by class, each class shuffled: by_class[cstart[k] .. cstart[k+1]).
static void group_by_class(int *by_class, int *cstart, const dataset *pool, rng *r) {
    int K = pool->classes;
    memset(cstart, 0, (size_t)(K + 1) * sizeof *cstart);
    for (int i = 0; i < pool->n; i++) cstart[pool->y[i] + 1]++;
    for (int k = 0; k < K; k++) cstart[k + 1] += cstart[k];
    int *fill = by_class + pool->n; // scratch: the caller allocates 2n + K
    memcpy(fill, cstart, (size_t)K * sizeof *fill);
    for (int i = 0; i < pool->n; i++) by_class[fill[pool->y[i]]++] = i;
    for (int k = 0; k < K; k++) rng_shuffle(r, by_class + cstart[k], (size_t)(cstart[k + 1] - cstart[k]));
}

static void make_iid(int *owner, const dataset *pool, int P, rng *r, int *perm) {
    int n = pool->n;
    for (int i = 0; i < n; i++) perm[i] = i;
    rng_shuffle(r, perm, (size_t)n);
    for (int j = 0; j < n; j++) owner[perm[j]] = (int)((long long)j * P / n);
}

// Flower's DirichletPartitioner: per class, shares over participants ~ Dir(dirichlet_alpha), the
// class's examples cut at the rounded cumulative shares; redrawn until every participant has at
// least min_partition_size examples, at most max_retries times.
static kdt_status make_dirichlet(int *owner, const partition_spec *spec, const dataset *pool,
                                 rng *r, int *scratch) {
    int P = spec->participants, K = pool->classes, n = pool->n;
    if (!(spec->dirichlet_alpha > 0))
        return kdt_fail(KDT_ERR_CONFIG, "partition.dirichlet_alpha = %g: must be > 0", spec->dirichlet_alpha);
    if (spec->max_retries < 1)
        return kdt_fail(KDT_ERR_CONFIG, "partition.max_retries = %d: must be at least 1", spec->max_retries);
    if ((long long)P * spec->min_partition_size > n)
        return kdt_fail(KDT_ERR_CONFIG,
                        "dirichlet: %d participants x partition.min_partition_size %d = %lld "
                        "examples, more than the pool's %d; lower min_partition_size or raise "
                        "data.pool_size",
                        P, spec->min_partition_size, (long long)P * spec->min_partition_size, n);
    int *by_class = scratch, *cstart = scratch + 2 * n + K, *sizes = cstart + K + 1;
    double *share = malloc((size_t)P * sizeof *share);
    if (!share) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    int smallest = 0;
    for (int attempt = 0; attempt < spec->max_retries; attempt++) {
        group_by_class(by_class, cstart, pool, r);
        memset(sizes, 0, (size_t)P * sizeof *sizes);
        for (int k = 0; k < K; k++) {
            int nk = cstart[k + 1] - cstart[k];
            rng_dirichlet(r, spec->dirichlet_alpha, share, (size_t)P);
            double cum = 0;
            int from = 0;
            for (int c = 0; c < P; c++) {
                cum += share[c];
                int to = c == P - 1 ? nk : (int)lround(cum * nk);
                if (to > nk) to = nk;
                if (to < from) to = from;
                for (int j = from; j < to; j++) owner[by_class[cstart[k] + j]] = c;
                sizes[c] += to - from;
                from = to;
            }
        }
        smallest = n;
        for (int c = 0; c < P; c++)
            if (sizes[c] < smallest) smallest = sizes[c];
        if (smallest >= spec->min_partition_size) {
            free(share);
            return KDT_OK;
        }
    }
    free(share);
    return kdt_fail(KDT_ERR_CONFIG,
                    "dirichlet: after partition.max_retries = %d draws the smallest partition "
                    "still has %d examples, fewer than partition.min_partition_size = %d; raise "
                    "dirichlet_alpha or max_retries, lower min_partition_size, or use fewer "
                    "participants",
                    spec->max_retries, smallest, spec->min_partition_size);
}

// FedLab's shards (McMahan et al. 2017): the pool sorted by label is cut into
// participants x num_shards_per_partition equal shards, dealt at random.
static kdt_status make_shards(int *owner, const partition_spec *spec, const dataset *pool, rng *r,
                              int *scratch) {
    int P = spec->participants, n = pool->n, K = pool->classes;
    int per = spec->num_shards_per_partition;
    if (per < 1)
        return kdt_fail(KDT_ERR_CONFIG, "partition.num_shards_per_partition = %d: must be at least 1", per);
    long long shards = (long long)P * per;
    if (shards > n)
        return kdt_fail(KDT_ERR_CONFIG,
                        "shards: %d participants x partition.num_shards_per_partition %d = %lld "
                        "shards, more than the pool's %d examples; lower num_shards_per_partition",
                        P, per, shards, n);
    int *by_class = scratch, *cstart = scratch + 2 * n + K;
    group_by_class(by_class, cstart, pool, r); // label-sorted, random within a class
    int *deal = malloc((size_t)shards * sizeof *deal);
    if (!deal) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    for (int s = 0; s < shards; s++) deal[s] = s;
    rng_shuffle(r, deal, (size_t)shards);
    for (long long j = 0; j < shards; j++) {
        int s = deal[j], c = (int)(j / per);
        int from = (int)(s * (long long)n / shards), to = (int)((s + 1) * (long long)n / shards);
        for (int i = from; i < to; i++) owner[by_class[i]] = c;
    }
    free(deal);
    return KDT_OK;
}

// Flower's PathologicalPartitioner, "first-deterministic" assignment: participant cid first gets
// class cid mod K; classes still held by nobody are dealt next (so every example has an owner);
// the remaining slots get random distinct classes. A class's examples are split evenly among
// the participants that hold it.
static kdt_status make_pathological(int *owner, const partition_spec *spec, const dataset *pool,
                                    rng *r, int *scratch) {
    int P = spec->participants, n = pool->n, K = pool->classes;
    int m = spec->num_classes_per_partition;
    if (m < 1 || m > K)
        return kdt_fail(KDT_ERR_CONFIG, "partition.num_classes_per_partition = %d: must be 1..%d "
                        "(the class count)", m, K);
    if ((long long)P * m < K)
        return kdt_fail(KDT_ERR_CONFIG,
                        "pathological: %d participants x partition.num_classes_per_partition %d "
                        "cover at most %d of the %d classes; raise num_classes_per_partition to at "
                        "least %d",
                        P, m, P * m, K, (K + P - 1) / P);
    unsigned char *has = calloc((size_t)P * K, 1);
    int *count = calloc((size_t)P, sizeof *count), *order = malloc((size_t)K * sizeof *order);
    int *holders = malloc((size_t)P * sizeof *holders);
    if (!has || !count || !order || !holders) {
        free(has), free(count), free(order), free(holders);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    }
    for (int c = 0; c < P; c++) has[c * K + c % K] = 1, count[c] = 1;
    // classes nobody holds yet, dealt round-robin to participants with room
    for (int k = 0; k < K; k++) order[k] = k;
    rng_shuffle(r, order, (size_t)K);
    int next = 0;
    for (int j = 0; j < K; j++) {
        int k = order[j];
        if (k < P) continue; // held by participant k
        while (count[next % P] >= m) next++;
        int c = next++ % P;
        has[c * K + k] = 1;
        count[c]++;
    }
    for (int c = 0; c < P; c++)
        while (count[c] < m) { // random distinct classes
            int k = (int)rng_below(r, (uint64_t)K);
            if (!has[c * K + k]) has[c * K + k] = 1, count[c]++;
        }
    int *by_class = scratch, *cstart = scratch + 2 * n + K;
    group_by_class(by_class, cstart, pool, r);
    for (int k = 0; k < K; k++) {
        int h = 0, nk = cstart[k + 1] - cstart[k];
        for (int c = 0; c < P; c++)
            if (has[c * K + k]) holders[h++] = c;
        KDT_ASSERT(h > 0);
        for (int j = 0; j < nk; j++) owner[by_class[cstart[k] + j]] = holders[(long long)j * h / nk];
    }
    free(has), free(count), free(order), free(holders);
    return KDT_OK;
}

static kdt_status check_from_file(const partition_spec *spec, const dataset *pool, partition *p) {
    const char *f = spec->file;
    if (p->pool_n != pool->n)
        return kdt_fail(KDT_ERR_CONFIG, "%s: a partition of a pool of %d examples, this pool has %d; "
                        "use the same data settings (data.*, experiment.seed) as the run that saved it",
                        f, p->pool_n, pool->n);
    if (p->classes != pool->classes)
        return kdt_fail(KDT_ERR_CONFIG, "%s: a partition of %d classes, this pool has %d; use the "
                        "same data.source as the run that saved it", f, p->classes, pool->classes);
    if (p->participants != spec->participants)
        return kdt_fail(KDT_ERR_CONFIG, "%s: %d participants, the config asks for %d; set "
                        "federation.participants to %d", f, p->participants, spec->participants,
                        p->participants);
    return KDT_OK;
}

kdt_status partition_make(const partition_spec *spec, const dataset *pool, partition *out) {
    memset(out, 0, sizeof *out);
    int P = spec->participants, n = pool->n, K = pool->classes;
    if (P < 1) return kdt_fail(KDT_ERR_CONFIG, "federation.participants = %d: must be at least 1", P);
    if (spec->scheme == PARTITION_FROM_FILE) {
        if (!spec->file || !spec->file[0])
            return kdt_fail(KDT_ERR_CONFIG, "partition.scheme is from_file but partition.file is "
                            "empty; set it to a saved partition/indices.bin");
        kdt_status s = partition_load(spec->file, out);
        if (s == KDT_OK) s = check_from_file(spec, pool, out);
        if (s != KDT_OK) partition_free(out);
        return s;
    }
    if (n < P)
        return kdt_fail(KDT_ERR_CONFIG, "the pool has %d examples for %d participants; raise "
                        "data.pool_size or lower federation.participants", n, P);
    int *owner = malloc((size_t)n * sizeof *owner);
    int *scratch = malloc((size_t)(2 * n + 2 * K + 2 + P) * sizeof *scratch);
    if (!owner || !scratch) {
        free(owner), free(scratch);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory for a partition of %d examples", n);
    }
    rng r = rng_stream(spec->seed, "partition", (uint64_t)spec->scheme, (uint64_t)P);
    kdt_status s = KDT_OK;
    switch (spec->scheme) {
    case PARTITION_IID: make_iid(owner, pool, P, &r, scratch); break;
    case PARTITION_DIRICHLET: s = make_dirichlet(owner, spec, pool, &r, scratch); break;
    case PARTITION_SHARDS: s = make_shards(owner, spec, pool, &r, scratch); break;
    case PARTITION_PATHOLOGICAL: s = make_pathological(owner, spec, pool, &r, scratch); break;
    case PARTITION_FROM_FILE:
    case PARTITION_N_SCHEMES: KDT_ASSERT(0); break;
    }
    if (s == KDT_OK) s = from_owner(out, owner, n, P, K);
    free(owner);
    free(scratch);
    if (s == KDT_OK)
        for (int c = 0; c < P; c++)
            if (out->start[c + 1] == out->start[c]) {
                partition_free(out);
                return kdt_fail(KDT_ERR_CONFIG, "participant %d got no example from the pool of "
                                "%d; raise data.pool_size or change the partition settings", c, n);
            }
    return s;
}

void partition_class_counts(int *counts, const partition *p, const dataset *pool) {
    KDT_ASSERT(p->classes == pool->classes && p->pool_n == pool->n);
    for (int c = 0; c < p->participants; c++) {
        int n;
        const int *idx = partition_indices(p, c, &n);
        dataset_class_counts(counts + (size_t)c * p->classes, pool, idx, n);
    }
}

void partition_class_proportions(double *props, const partition *p, const dataset *pool, int cid) {
    int n, K = pool->classes;
    const int *idx = partition_indices(p, cid, &n);
    for (int k = 0; k < K; k++) props[k] = 0.0;
    for (int i = 0; i < n; i++) props[pool->y[idx[i]]] += 1.0;
    for (int k = 0; k < K; k++) props[k] = n > 0 ? props[k] / n : 0.0;
}

double partition_label_skew(const partition *p, const dataset *pool) {
    int K = pool->classes;
    double *global = calloc((size_t)K, sizeof *global), *props = malloc((size_t)K * sizeof *props);
    if (!global || !props) { // only a figure for the log: no reason to stop the run
        free(global);
        free(props);
        return NAN;
    }
    for (int i = 0; i < pool->n; i++) global[pool->y[i]] += 1.0 / pool->n;
    double sum = 0;
    for (int c = 0; c < p->participants; c++) {
        partition_class_proportions(props, p, pool, c);
        double tv = 0;
        for (int k = 0; k < K; k++) tv += fabs(props[k] - global[k]);
        sum += 0.5 * tv;
    }
    free(global);
    free(props);
    return sum / p->participants;
}

static int digits(long long v) {
    int d = 1;
    while (v >= 10) v /= 10, d++;
    return d;
}

void partition_print_table(FILE *f, const partition *p, const dataset *pool) {
    int P = p->participants, K = p->classes;
    int *counts = malloc((size_t)P * K * sizeof *counts), *all = calloc((size_t)K, sizeof *all);
    KDT_ASSERT(counts && all);
    partition_class_counts(counts, p, pool);
    int width = 5, total = p->start[P]; // "class" headers are c0..c{K-1}; numbers fit the total
    if (digits(total) + 1 > width) width = digits(total) + 1;
    if (digits(K - 1) + 2 > width) width = digits(K - 1) + 2;
    fprintf(f, "%4s", "cid");
    for (int k = 0; k < K; k++) fprintf(f, " %*s%d", width - digits(k), "c", k);
    fprintf(f, " %*s\n", width + 1, "total");
    for (int c = 0; c < P; c++) {
        fprintf(f, "%4d", c);
        for (int k = 0; k < K; k++) {
            int v = counts[c * K + k];
            all[k] += v;
            if (v == 0) fprintf(f, " %*s", width, ".");
            else fprintf(f, " %*d", width, v);
        }
        fprintf(f, " %*d\n", width + 1, p->start[c + 1] - p->start[c]);
    }
    fprintf(f, "%4s", "all");
    for (int k = 0; k < K; k++) fprintf(f, " %*d", width, all[k]);
    fprintf(f, " %*d\n", width + 1, total);
    fprintf(f, "label skew (mean total-variation distance from the pool's label distribution): %.3f\n",
            partition_label_skew(p, pool));
    free(counts);
    free(all);
}

const char *partition_scheme_name(partition_scheme s) {
    static const char *const names[PARTITION_N_SCHEMES] = {"iid", "dirichlet", "shards", "pathological", "from_file"};
    return (int)s >= 0 && s < PARTITION_N_SCHEMES ? names[s] : NULL;
}
