// Pre-training does not depend on how threads are spent: a 3-participant cnn federation gives
// byte-identical checkpoints with workers = 1 (one participant at a time on all the engine's
// threads, 1 or 2 of them) and workers = 2 or 3 (participants at once, one thread each), and the
// same accuracies. This is what lets `kdtune eval` (one participant on all threads) and `grid`
// (several at once) agree.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kd/federation.h"
#include "model/model.h"

enum { P = 3 };

typedef struct {
    data_splits splits;
    partition part;
    model_spec specs[P];
} world;

// 1,500 pool examples of 1x16x16 synthetic images (the embedded default's size), 500 per participant (contiguous thirds).
static void world_make(world *w) {
    memset(w, 0, sizeof *w);
    data_spec ds;
    data_spec_default(&ds);
    ds.synthetic = (synthetic_spec){1, 16, 10};
    ds.pool_size = 1500;
    ds.transfer_size = 200;
    ds.val_size = 200;
    ds.test_size = 200;
    ds.seed = 8;
    assert_int_equal(data_load_splits(&ds, &w->splits), KDT_OK);
    const dataset *pool = w->splits.pool;
    assert_int_equal(partition_alloc(&w->part, P, pool->n, pool->classes, pool->n), KDT_OK);
    for (int c = 0; c <= P; c++) w->part.start[c] = c * pool->n / P;
    for (int i = 0; i < pool->n; i++) w->part.index[i] = i;
    for (int c = 0; c < P; c++)
        w->specs[c] = (model_spec){.arch = MODEL_CNN, .in_c = 1, .in_h = 16, .in_w = 16,
                                   .num_classes = 10};
}

static void world_free(world *w) {
    partition_free(&w->part);
    data_splits_free(&w->splits);
}

// Pre-trains the federation into dir with `workers` workers and `threads` engine threads; copies
// each participant's validation and test accuracy into acc (P, 2).
static void pretrain_into(world *w, const char *dir, int workers, int threads, double *acc) {
    model_set_threads(threads);
    kd_federation_spec fs = {
        .participants = P,
        .specs = w->specs,
        // small batches (thin GEMMs, where the old per-thread split changed OpenBLAS's kernels),
        // a short last one (500 = 62 x 8 + 4), momentum, weight decay and a schedule
        .pretrain = {.sgd = {0.05, 0.9, 5e-4, 3, 8, false, false}, .schedule = LR_COSINE},
        .kd = {0.01, 0.9, 5e-4, 1, 64, false, false},
        .seed = 13,
        .checkpoint_dir = dir,
        .workers = workers,
    };
    kd_federation *f = NULL;
    assert_int_equal(kd_federation_create(&f, &fs, &w->splits, &w->part), KDT_OK);
    assert_non_null(f);
    assert_int_equal(kd_federation_pretrain(f), KDT_OK);
    for (int c = 0; c < P; c++) {
        const kd_participant *p = kd_federation_participant(f, c);
        assert_false(p->from_checkpoint);
        acc[2 * c] = p->val_acc;
        acc[2 * c + 1] = p->test_acc;
    }
    kd_federation_destroy(f);
}

static char *read_all(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long len = ftell(fp);
    assert_true(len > 0);
    rewind(fp);
    char *buf = malloc((size_t)len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

static void checkpoints_do_not_depend_on_workers_or_threads(void **state) {
    (void)state;
    world w;
    world_make(&w);
    // workers x engine threads: all threads on one participant at a time, or one thread each
    const int runs[][2] = {{1, 1}, {1, 2}, {1, 3}, {2, 1}, {3, 2}};
    enum { RUNS = sizeof runs / sizeof runs[0] };
    char dirs[RUNS][64];
    double acc[RUNS][2 * P];
    for (int r = 0; r < RUNS; r++) {
        snprintf(dirs[r], sizeof dirs[r], "/tmp/kdt_threads_%d_w%dt%d", (int)getpid(), runs[r][0],
                 runs[r][1]);
        pretrain_into(&w, dirs[r], runs[r][0], runs[r][1], acc[r]);
    }
    for (int c = 0; c < P; c++) {
        char path[512];
        snprintf(path, sizeof path, "%s/p%d.ckpt", dirs[0], c);
        size_t n0;
        char *ref = read_all(path, &n0);
        for (int r = 1; r < RUNS; r++) {
            snprintf(path, sizeof path, "%s/p%d.ckpt", dirs[r], c);
            size_t n;
            char *got = read_all(path, &n);
            bool same = n == n0 && memcmp(ref, got, n) == 0;
            if (!same)
                printf("  participant %d: checkpoint with %d workers x %d threads differs from 1 x 1\n",
                       c, runs[r][0], runs[r][1]);
            assert_true(same);
            free(got);
        }
        free(ref);
        printf("  participant %d: val %.3f test %.3f, the same checkpoint in all %d runs\n", c,
               acc[0][2 * c], acc[0][2 * c + 1], RUNS);
    }
    for (int r = 1; r < RUNS; r++) assert_memory_equal(acc[0], acc[r], sizeof acc[0]);
    // the comparison is between trained models: above chance (0.1) on average, and different
    // from each other (different data)
    assert_true((acc[0][1] + acc[0][3] + acc[0][5]) / 3 > 0.12);
    for (int c = 1; c < P; c++) {
        char a[512], b[512];
        snprintf(a, sizeof a, "%s/p%d.ckpt", dirs[0], c - 1);
        snprintf(b, sizeof b, "%s/p%d.ckpt", dirs[0], c);
        size_t na, nb;
        char *ca = read_all(a, &na), *cb = read_all(b, &nb);
        assert_true(na == nb && memcmp(ca, cb, na) != 0);
        free(ca);
        free(cb);
    }
    for (int r = 0; r < RUNS; r++) {
        const char *files[] = {"p0.ckpt", "p1.ckpt", "p2.ckpt", "pretrain.csv"};
        for (int i = 0; i < 4; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dirs[r], files[i]);
            assert_int_equal(unlink(path), 0);
        }
        assert_int_equal(rmdir(dirs[r]), 0);
    }
    model_set_threads(1);
    world_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checkpoints_do_not_depend_on_workers_or_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
