// data_load_splits: loads or generates a source, carves the four disjoint splits and normalizes
// them with the pool's per-channel statistics.
#include "data/splits.h"

#include "common/fs.h"
#include "data/load_npy.h"

#include "common/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rng.h"
#include "data/loaders.h"

enum { SPLIT_POOL, SPLIT_TRANSFER, SPLIT_VAL, SPLIT_TEST, SPLITS };
static const char *const split_key[SPLITS] = {"data.pool_size", "data.transfer_size",
                                              "data.val_size", "data.test_size"};

const char *data_flip_name(data_flip f) {
    static const char *const names[DATA_N_FLIPS] = {"auto", "always", "never"};
    return (int)f >= 0 && f < DATA_N_FLIPS ? names[f] : NULL;
}

const char *data_source_name(data_source s) {
    switch (s) {
    case DATA_SYNTHETIC: return "synthetic";
    case DATA_CIFAR10: return "cifar10";
    case DATA_CIFAR100: return "cifar100";
    case DATA_MNIST: return "mnist";
    case DATA_FASHION_MNIST: return "fashion_mnist";
    case DATA_NPY: return "npy";
    case DATA_N_SOURCES: break;
    }
    return "?";
}

void data_spec_default(data_spec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->source = DATA_SYNTHETIC;
    spec->path = "";
    spec->pool_size = 5000;
    spec->transfer_size = 1000;
    spec->val_size = 1000;
    spec->test_size = 2000;
    spec->normalize = true;
    spec->synthetic = (synthetic_spec){.channels = 3, .image_size = 32, .classes = 10};
    spec->seed = 42;
}

bool data_flip_resolve(data_flip mode, data_source source) {
    if (mode == DATA_FLIP_ALWAYS) return true;
    if (mode == DATA_FLIP_NEVER) return false;
    return source == DATA_CIFAR10 || source == DATA_CIFAR100 || source == DATA_FASHION_MNIST;
}

void data_channel_stats(float *mean, float *std, const dataset *d) {
    size_t plane = (size_t)d->h * d->w;
    for (int c = 0; c < d->c; c++) {
        double s = 0, ss = 0;
        for (int i = 0; i < d->n; i++) {
            const float *p = d->x + ((size_t)i * d->c + c) * plane;
            double ps = 0, pss = 0; // per image first: less rounding on large sets
            for (size_t j = 0; j < plane; j++) {
                ps += p[j];
                pss += (double)p[j] * p[j];
            }
            s += ps;
            ss += pss;
        }
        double n = (double)d->n * plane;
        double m = n > 0 ? s / n : 0.0, var = n > 0 ? ss / n - m * m : 1.0;
        mean[c] = (float)m;
        std[c] = (float)(var > 1e-12 ? sqrt(var) : 1e-6);
    }
}

void data_normalize(dataset *d, const float *mean, const float *std) {
    size_t plane = (size_t)d->h * d->w;
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < d->c; c++) {
            float *p = d->x + ((size_t)i * d->c + c) * plane, m = mean[c], inv = 1.0f / std[c];
            for (size_t j = 0; j < plane; j++) p[j] = (p[j] - m) * inv;
        }
}

// A float dataset from the raw images raw[idx[0..n)], pixels scaled to [0, 1].
static kdt_status raw_take(dataset **out, const raw_images *raw, const int *idx, int n) {
    dataset *d = dataset_create(n, raw->c, raw->h, raw->w, raw->classes);
    if (!d) return KDT_ERR_NOMEM;
    size_t e = (size_t)raw->c * raw->h * raw->w;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = raw->x + (size_t)idx[i] * e;
        float *dst = d->x + (size_t)i * e;
        for (size_t j = 0; j < e; j++) dst[j] = src[j] * (1.0f / 255.0f);
        d->y[i] = raw->y[idx[i]];
    }
    *out = d;
    return KDT_OK;
}

static kdt_status load_raw(const data_spec *spec, bool train, raw_images *out) {
    switch (spec->source) {
    case DATA_CIFAR10: return data_load_cifar10(spec->path, train, out);
    case DATA_CIFAR100: return data_load_cifar100(spec->path, train, spec->cifar100_coarse, out);
    case DATA_MNIST:
    case DATA_FASHION_MNIST:
        return data_load_idx(spec->path, data_source_name(spec->source), train, out);
    case DATA_NPY: {
        // The folder's four files by their conventional names; a split whose files are absent is
        // empty, as for the other sources.
        char paths[4][4096];
        const char *names[4] = {"train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"};
        for (int k = 0; k < 4; k++) {
            kdt_status st = fs_join(paths[k], sizeof paths[k], spec->path, names[k]);
            if (st) return st;
            if (!fs_exists(paths[k])) paths[k][0] = '\0';
        }
        data_npy_files files = {paths[0], paths[1], paths[2], paths[3], 0};
        return data_load_npy(&files, train, out);
    }
    case DATA_SYNTHETIC:
    case DATA_N_SOURCES: break;
    }
    KDT_ASSERT(0 && "not a file source");
    return KDT_ERR_CONFIG;
}

// Carves the splits marked in `which` out of raw: disjoint consecutive blocks of one seeded
// shuffle. A wanted size of 0 for the test split takes whatever the others leave.
static kdt_status carve(data_splits *out, const data_spec *spec, const raw_images *raw,
                        const bool which[SPLITS], const int want[SPLITS], const char *what,
                        uint64_t stream) {
    long long need = 0;
    int nsplits = 0;
    for (int s = 0; s < SPLITS; s++)
        if (which[s]) need += want[s], nsplits++;
    bool rest = which[SPLIT_TEST] && want[SPLIT_TEST] == 0;
    if (need > raw->n || (rest && need >= raw->n)) {
        char sum[256] = "", *p = sum;
        for (int s = 0; s < SPLITS; s++)
            if (which[s] && !(s == SPLIT_TEST && rest))
                p += snprintf(p, sizeof sum - (size_t)(p - sum), "%s%s = %d", p == sum ? "" : " + ",
                              split_key[s], want[s]);
        return kdt_fail(KDT_ERR_CONFIG,
                        "%s: %s (%lld examples%s) do not fit in %s of %s (%d images at %s); "
                        "lower them",
                        data_source_name(spec->source), sum, need,
                        rest ? ", and data.test_size = 0 needs at least one left for the test split" : "",
                        what, data_source_name(spec->source), raw->n, spec->path);
    }
    int *perm = malloc((size_t)raw->n * sizeof *perm);
    if (!perm) return kdt_fail(KDT_ERR_NOMEM, "out of memory for the split indices");
    for (int i = 0; i < raw->n; i++) perm[i] = i;
    rng r = rng_stream(spec->seed, "data-splits", (uint64_t)spec->source, stream);
    rng_shuffle(&r, perm, (size_t)raw->n);
    dataset **dst[SPLITS] = {&out->pool, &out->transfer, &out->val, &out->test};
    int at = 0;
    kdt_status st = KDT_OK;
    for (int s = 0; s < SPLITS && st == KDT_OK; s++) {
        if (!which[s]) continue;
        int n = (s == SPLIT_TEST && rest) ? raw->n - at : want[s];
        st = raw_take(dst[s], raw, perm + at, n);
        at += n;
    }
    free(perm);
    return st;
}

static kdt_status load_files(const data_spec *spec, data_splits *out) {
    const char *name = data_source_name(spec->source);
    if (!spec->path || !spec->path[0])
        return kdt_fail(KDT_ERR_CONFIG, "data.path is empty: set it to the folder holding the %s "
                        "files (or use data.source: synthetic, which needs none)", name);
    raw_images train, test;
    kdt_status s = load_raw(spec, true, &train);
    if (s != KDT_OK) return kdt_fail_context(s, "loading %s", name);
    s = load_raw(spec, false, &test);
    if (s != KDT_OK) {
        raw_images_free(&train);
        return kdt_fail_context(s, "loading %s", name);
    }
    int want[SPLITS] = {spec->pool_size, spec->transfer_size, spec->val_size, spec->test_size};
    if (train.n == 0 && test.n == 0) {
        s = kdt_fail(KDT_ERR_IO, "%s: no %s files found in %s; set data.path to the folder that "
                     "holds them", name, name, spec->path);
    } else if (train.n > 0 && test.n > 0) {
        bool from_train[SPLITS] = {true, true, true, false}, from_test[SPLITS] = {0, 0, 0, true};
        s = carve(out, spec, &train, from_train, want, "the training split", 0);
        if (s == KDT_OK) s = carve(out, spec, &test, from_test, want, "the test split", 1);
        out->test_from_source = true;
    } else {
        const raw_images *only = train.n > 0 ? &train : &test;
        log_info("%s: only the %s split is in %s: carving all four splits from its %d images", name,
                 train.n > 0 ? "training" : "test", spec->path, only->n);
        bool all[SPLITS] = {true, true, true, true};
        s = carve(out, spec, only, all, want,
                  train.n > 0 ? "the training split (no test files)" : "the test split (no training files)", 2);
    }
    raw_images_free(&train);
    raw_images_free(&test);
    return s;
}

static kdt_status make_synthetic(const data_spec *spec, data_splits *out) {
    const synthetic_spec *sy = &spec->synthetic;
    int want[SPLITS] = {spec->pool_size, spec->transfer_size, spec->val_size,
                        spec->test_size ? spec->test_size : SYNTHETIC_TEST_SPLIT};
    dataset **dst[SPLITS] = {&out->pool, &out->transfer, &out->val, &out->test};
    kdt_status st = synthetic_check(sy);
    if (st != KDT_OK) return st;
    for (int s = 0; s < SPLITS; s++) {
        // each split its own stream: disjoint by construction whatever the sizes
        *dst[s] = dataset_create(want[s], sy->channels, sy->image_size, sy->image_size, sy->classes);
        if (!*dst[s]) return KDT_ERR_NOMEM;
        st = synthetic_generate(*dst[s], sy, spec->seed, s, 0);
        if (st != KDT_OK) return st;
    }
    out->test_from_source = true;
    return KDT_OK;
}

kdt_status data_load_splits(const data_spec *spec, data_splits *out) {
    memset(out, 0, sizeof *out);
    for (int s = 0; s < SPLITS; s++) {
        int v = s == 0 ? spec->pool_size : s == 1 ? spec->transfer_size : s == 2 ? spec->val_size : spec->test_size;
        if (v < (s == SPLIT_TEST ? 0 : 1))
            return kdt_fail(KDT_ERR_CONFIG, "%s = %d: must be at least %d%s", split_key[s], v,
                            s == SPLIT_TEST ? 0 : 1, s == SPLIT_TEST ? " (0: the whole test split)" : "");
    }
    kdt_status s = spec->source == DATA_SYNTHETIC ? make_synthetic(spec, out) : load_files(spec, out);
    if (s != KDT_OK) {
        data_splits_free(out);
        return s;
    }
    int c = out->pool->c;
    for (int ch = 0; ch < c; ch++) out->mean[ch] = 0.0f, out->std[ch] = 1.0f;
    if (spec->normalize) {
        data_channel_stats(out->mean, out->std, out->pool);
        dataset *all[SPLITS] = {out->pool, out->transfer, out->val, out->test};
        for (int i = 0; i < SPLITS; i++) data_normalize(all[i], out->mean, out->std);
        out->normalized = true;
    }
    return KDT_OK;
}

void data_splits_free(data_splits *s) {
    dataset_destroy(s->pool);
    dataset_destroy(s->transfer);
    dataset_destroy(s->val);
    dataset_destroy(s->test);
    memset(s, 0, sizeof *s);
}
