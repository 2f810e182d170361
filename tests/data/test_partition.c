// Partitions: complete and disjoint for every scheme, min_partition_size respected, reproducible
// from the seed, label skew growing as dirichlet_alpha shrinks, clear errors for impossible
// requests; indices.bin / indices.csv / report.csv written, read back and checked.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/rng.h"
#include "data/partition.h"

static char tmpdir[1024];
static dataset *pool; // 1,200 examples, 10 classes of unequal sizes

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/test_data_partition.XXXXXX", KDT_BINARY_DIR);
    if (!mkdtemp(tmpdir)) return -1;
    pool = dataset_create(1200, 1, 2, 2, 10);
    rng r = rng_stream(1, "test-pool", 0, 0);
    for (int i = 0; i < pool->n; i++) {
        pool->y[i] = i < 1000 ? i % 10 : (int)rng_below(&r, 3); // classes 0-2 larger
        for (int j = 0; j < 4; j++) pool->x[i * 4 + j] = (float)i;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dataset_destroy(pool);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd);
}

static partition_spec spec_for(partition_scheme scheme, int participants) {
    partition_spec s;
    partition_spec_default(&s);
    s.scheme = scheme;
    s.participants = participants;
    return s;
}

static void make_ok(const partition_spec *s, partition *p) {
    kdt_status st = partition_make(s, pool, p);
    if (st != KDT_OK) fail_msg("%s", kdt_errmsg());
}

// Every pool index exactly once, ascending within a participant.
static void assert_complete_disjoint(const partition *p) {
    assert_int_equal(p->pool_n, pool->n);
    assert_int_equal(p->start[0], 0);
    assert_int_equal(p->start[p->participants], pool->n);
    unsigned char *seen = calloc((size_t)pool->n, 1);
    for (int c = 0; c < p->participants; c++) {
        int n;
        const int *idx = partition_indices(p, c, &n);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            assert_in_range(idx[i], 0, pool->n - 1);
            assert_false(seen[idx[i]]);
            seen[idx[i]] = 1;
            if (i > 0) assert_true(idx[i] > idx[i - 1]);
        }
    }
    free(seen);
}

static int classes_held(const partition *p, int cid) {
    int counts[10], held = 0;
    int n;
    const int *idx = partition_indices(p, cid, &n);
    dataset_class_counts(counts, pool, idx, n);
    for (int k = 0; k < 10; k++) held += counts[k] > 0;
    return held;
}

static void every_scheme_complete_and_disjoint(void **state) {
    (void)state;
    for (int scheme = PARTITION_IID; scheme <= PARTITION_PATHOLOGICAL; scheme++)
        for (int P = 1; P <= 13; P += 4) {
            partition_spec s = spec_for((partition_scheme)scheme, P);
            s.min_partition_size = 5;
            s.num_classes_per_partition = P == 1 ? 10 : 3;
            partition p;
            make_ok(&s, &p);
            assert_int_equal(p.participants, P);
            assert_int_equal(p.classes, 10);
            assert_complete_disjoint(&p);
            for (int c = 0; c < P; c++) {
                int n = p.start[c + 1] - p.start[c];
                if (scheme == PARTITION_IID) assert_in_range(n, pool->n / P, pool->n / P + 1);
                if (scheme == PARTITION_DIRICHLET) assert_true(n >= 5);
                if (scheme == PARTITION_PATHOLOGICAL && P > 1) assert_true(classes_held(&p, c) <= 3);
                // two label-sorted shards no longer than a class span at most 2 classes each
                if (scheme == PARTITION_SHARDS && pool->n / (2 * P) <= 100)
                    assert_true(classes_held(&p, c) <= 2 * 2);
            }
            partition_free(&p);
        }
}

static void pathological_holds_exactly_its_classes(void **state) {
    (void)state;
    partition_spec s = spec_for(PARTITION_PATHOLOGICAL, 10);
    s.num_classes_per_partition = 2;
    partition p;
    make_ok(&s, &p);
    for (int c = 0; c < 10; c++) {
        assert_int_equal(classes_held(&p, c), 2);
        double props[10];
        partition_class_proportions(props, &p, pool, c);
        assert_true(props[c] > 0); // first-deterministic: participant c holds class c
        double sum = 0;
        for (int k = 0; k < 10; k++) sum += props[k];
        assert_float_equal(sum, 1.0, 1e-12);
    }
    partition_free(&p);
    // 4 participants x 2 classes cannot cover 10 classes; 4 x 3 can, and every example has an owner
    s.participants = 4;
    assert_int_equal(partition_make(&s, pool, &p), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "cover at most 8 of the 10 classes"));
    assert_non_null(strstr(kdt_errmsg(), "num_classes_per_partition to at least 3"));
    s.num_classes_per_partition = 3;
    make_ok(&s, &p);
    assert_complete_disjoint(&p);
    partition_free(&p);
    s.num_classes_per_partition = 11;
    assert_int_equal(partition_make(&s, pool, &p), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "must be 1..10"));
}

static void reproducible_from_the_seed(void **state) {
    (void)state;
    for (int scheme = PARTITION_IID; scheme <= PARTITION_PATHOLOGICAL; scheme++) {
        partition_spec s = spec_for((partition_scheme)scheme, 10);
        partition a, b, c;
        make_ok(&s, &a);
        make_ok(&s, &b);
        s.seed = 7;
        make_ok(&s, &c);
        assert_memory_equal(a.start, b.start, 11 * sizeof(int));
        assert_memory_equal(a.index, b.index, (size_t)pool->n * sizeof(int));
        bool differs = memcmp(a.index, c.index, (size_t)pool->n * sizeof(int)) != 0;
        assert_true(differs);
        partition_free(&a), partition_free(&b), partition_free(&c);
    }
}

static void min_partition_size_and_retries(void **state) {
    (void)state;
    partition_spec s = spec_for(PARTITION_DIRICHLET, 10);
    s.dirichlet_alpha = 0.1;
    s.min_partition_size = 40;
    partition p;
    make_ok(&s, &p);
    for (int c = 0; c < 10; c++) assert_true(p.start[c + 1] - p.start[c] >= 40);
    assert_complete_disjoint(&p);
    partition_free(&p);
    // near-impossible with few retries: a clear error
    s.dirichlet_alpha = 0.01;
    s.min_partition_size = 110;
    s.max_retries = 5;
    assert_int_equal(partition_make(&s, pool, &p), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "after partition.max_retries = 5 draws"));
    assert_non_null(strstr(kdt_errmsg(), "min_partition_size = 110"));
    // impossible outright
    s.min_partition_size = 121;
    assert_int_equal(partition_make(&s, pool, &p), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "10 participants x partition.min_partition_size 121 = 1210"));
    s.dirichlet_alpha = 0.0;
    s.min_partition_size = 0;
    assert_int_equal(partition_make(&s, pool, &p), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "dirichlet_alpha"));
}

static void skew_grows_as_dirichlet_alpha_shrinks(void **state) {
    (void)state;
    const double alphas[] = {100, 5, 0.5, 0.1};
    double skew[4];
    for (int a = 0; a < 4; a++) {
        skew[a] = 0;
        for (uint64_t seed = 0; seed < 5; seed++) {
            partition_spec s = spec_for(PARTITION_DIRICHLET, 10);
            s.dirichlet_alpha = alphas[a];
            s.min_partition_size = 1;
            s.seed = seed;
            partition p;
            make_ok(&s, &p);
            skew[a] += partition_label_skew(&p, pool) / 5;
            partition_free(&p);
        }
        printf("dirichlet_alpha %-5g mean TV distance %.3f\n", alphas[a], skew[a]);
        if (a > 0) assert_true(skew[a] > skew[a - 1]);
    }
    assert_true(skew[0] < 0.1);
    assert_true(skew[3] > 0.5);
    partition_spec s = spec_for(PARTITION_IID, 10);
    partition p;
    make_ok(&s, &p);
    assert_true(partition_label_skew(&p, pool) < skew[1]);
    partition_free(&p);
}

static void shard_and_size_errors(void **state) {
    (void)state;
    partition_spec s = spec_for(PARTITION_SHARDS, 10);
    s.num_shards_per_partition = 121;
    partition p;
    assert_int_equal(partition_make(&s, pool, &p), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "1210 shards, more than the pool's 1200"));
    s = spec_for(PARTITION_IID, 1201);
    assert_int_equal(partition_make(&s, pool, &p), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "1200 examples for 1201 participants"));
    s = spec_for(PARTITION_FROM_FILE, 10);
    assert_int_equal(partition_make(&s, pool, &p), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "partition.file is empty"));
}

static char *slurp(const char *dir, const char *name, size_t *len) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data;
    assert_int_equal(fs_read_all(path, &data, len), KDT_OK);
    return data;
}

static void spit(const char *dir, const char *name, const void *data, size_t len) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(fs_write_atomic(path, data, len), KDT_OK);
}

static void save_load_and_reports(void **state) {
    (void)state;
    partition_spec s = spec_for(PARTITION_DIRICHLET, 4);
    partition p, q;
    make_ok(&s, &p);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/run/partition", tmpdir);
    kdt_status st = partition_save(&p, pool, dir);
    if (st != KDT_OK) fail_msg("%s", kdt_errmsg());
    // from the folder and from the file
    assert_int_equal(partition_load(dir, &q), KDT_OK);
    assert_int_equal(q.participants, 4);
    assert_memory_equal(q.start, p.start, 5 * sizeof(int));
    assert_memory_equal(q.index, p.index, (size_t)pool->n * sizeof(int));
    partition_free(&q);
    char file[1200];
    snprintf(file, sizeof file, "%s/indices.bin", dir);
    s.scheme = PARTITION_FROM_FILE;
    s.file = file;
    make_ok(&s, &q);
    assert_memory_equal(q.index, p.index, (size_t)pool->n * sizeof(int));
    partition_free(&q);
    s.participants = 5;
    assert_int_equal(partition_make(&s, pool, &q), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "4 participants, the config asks for 5"));
    // report.csv: header, one row per participant, counts that add up
    size_t len;
    char *csv = slurp(dir, "report.csv", &len);
    const char *header = "cid,class-0,class-1,class-2,class-3,class-4,class-5,class-6,class-7,class-8,class-9,total\n";
    assert_int_equal(strncmp(csv, header, strlen(header)), 0);
    int counts[40];
    partition_class_counts(counts, &p, pool);
    char *line = csv + strlen(header);
    for (int c = 0; c < 4; c++) {
        char want[256], *w = want;
        w += sprintf(w, "%d", c);
        for (int k = 0; k < 10; k++) w += sprintf(w, ",%d", counts[c * 10 + k]);
        sprintf(w, ",%d\n", p.start[c + 1] - p.start[c]);
        assert_int_equal(strncmp(line, want, strlen(want)), 0);
        line += strlen(want);
    }
    assert_int_equal(*line, '\0');
    free(csv);
    // indices.csv: a header and one row per example
    csv = slurp(dir, "indices.csv", &len);
    int rows = 0;
    for (size_t i = 0; i < len; i++) rows += csv[i] == '\n';
    assert_int_equal(rows, 1 + pool->n);
    assert_int_equal(strncmp(csv, "cid,index\n0,", 12), 0);
    free(csv);
    // damaged indices.bin: each problem its own message
    char *bin = slurp(dir, "indices.bin", &len);
    char *bad = malloc(len + 8);
    struct { size_t cut; int flip_at; const char *needle; } cases[] = {
        {len - 4, -1, "truncated"}, {len + 4, -1, "oversized"}, {10, -1, "truncated"},
        {len, 0, "wrong magic"}, {len, 40, "CRC mismatch"}, {len, 8, "version"},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        memset(bad, 0, len + 8);
        memcpy(bad, bin, cases[t].cut < len ? cases[t].cut : len);
        if (cases[t].flip_at >= 0) bad[cases[t].flip_at] ^= 0x5a;
        spit(tmpdir, "damaged.bin", bad, cases[t].cut);
        char path[1200];
        snprintf(path, sizeof path, "%s/damaged.bin", tmpdir);
        assert_int_equal(partition_load(path, &q), KDT_ERR_FORMAT);
        if (!strstr(kdt_errmsg(), cases[t].needle) || !strstr(kdt_errmsg(), "damaged.bin"))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", t, kdt_errmsg(), cases[t].needle);
    }
    free(bad);
    free(bin);
    assert_int_equal(partition_load("/nonexistent/indices.bin", &q), KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), "/nonexistent/indices.bin"));
    partition_free(&p);
}

static void printed_table(void **state) {
    (void)state;
    partition_spec s = spec_for(PARTITION_PATHOLOGICAL, 3);
    s.num_classes_per_partition = 4;
    partition p;
    make_ok(&s, &p);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    partition_print_table(f, &p, pool);
    fclose(f);
    printf("%s", buf);
    assert_non_null(strstr(buf, " cid"));
    assert_non_null(strstr(buf, "total"));
    assert_non_null(strstr(buf, " all"));
    assert_non_null(strstr(buf, "c9"));
    assert_non_null(strstr(buf, "1200\n"));
    assert_non_null(strstr(buf, "label skew"));
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    assert_int_equal(lines, 1 + 3 + 1 + 1);
    free(buf);
    partition_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_scheme_complete_and_disjoint),
        cmocka_unit_test(pathological_holds_exactly_its_classes),
        cmocka_unit_test(reproducible_from_the_seed),
        cmocka_unit_test(min_partition_size_and_retries),
        cmocka_unit_test(skew_grows_as_dirichlet_alpha_shrinks),
        cmocka_unit_test(shard_and_size_errors),
        cmocka_unit_test(save_load_and_reports),
        cmocka_unit_test(printed_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
