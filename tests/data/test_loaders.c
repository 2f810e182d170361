// The loaders: tiny files in every format (CIFAR-10, CIFAR-100, IDX raw and gzip) read back
// exactly; truncated, oversized, wrong-magic and bad-label files each get their own message; the
// real MNIST test set loads when it is present.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "common/fs.h"
#include "data/loaders.h"

static char tmpdir[1024];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/test_data_loaders.XXXXXX", KDT_BINARY_DIR);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd);
}

// A fresh empty folder under tmpdir.
static const char *subdir(const char *name) {
    static char path[2048];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(fs_mkdir_p(path), KDT_OK);
    return path;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len) {
    char path[4096];
    assert_int_equal(fs_join(path, sizeof path, dir, name), KDT_OK);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_gz(const char *dir, const char *name, const void *data, size_t len) {
    char path[4096];
    assert_int_equal(fs_join(path, sizeof path, dir, name), KDT_OK);
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(g), Z_OK);
}

// The pixel of image i at byte j: a pattern that tells images apart.
static unsigned char pix(int i, int j) { return (unsigned char)(i * 31 + j * 7); }

// CIFAR records: label bytes then 3072 pixels.
static unsigned char *cifar_records(int n, int label_bytes, const int *labels, int *len) {
    int rec = label_bytes + 3072;
    unsigned char *b = malloc((size_t)n * rec);
    for (int i = 0; i < n; i++) {
        unsigned char *r = b + (size_t)i * rec;
        if (label_bytes == 1) r[0] = (unsigned char)labels[i];
        else r[0] = (unsigned char)(labels[i] / 5), r[1] = (unsigned char)labels[i]; // coarse, fine
        for (int j = 0; j < 3072; j++) r[label_bytes + j] = pix(i, j);
    }
    *len = n * rec;
    return b;
}

static void expect_error(kdt_status got, kdt_status want, const char *needle1, const char *needle2) {
    assert_int_equal(got, want);
    const char *m = kdt_errmsg();
    if (!strstr(m, needle1) || (needle2 && !strstr(m, needle2)))
        fail_msg("message \"%s\" lacks \"%s\"%s%s", m, needle1, needle2 ? " or " : "", needle2 ? needle2 : "");
}

static void cifar10_round_trip(void **state) {
    (void)state;
    const char *dir = subdir("c10");
    int labels[3] = {0, 9, 4}, len;
    unsigned char *b = cifar_records(3, 1, labels, &len);
    char name[64];
    for (int f = 1; f <= 5; f++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", f);
        write_file(dir, name, b, (size_t)len);
    }
    write_file(dir, "test_batch.bin", b, (size_t)(len / 3 * 2));
    raw_images r;
    assert_int_equal(data_load_cifar10(dir, true, &r), KDT_OK);
    assert_int_equal(r.n, 15);
    assert_int_equal(r.c, 3);
    assert_int_equal(r.h, 32);
    assert_int_equal(r.classes, 10);
    for (int i = 0; i < 15; i++) {
        assert_int_equal(r.y[i], labels[i % 3]);
        for (int j = 0; j < 3072; j += 97) assert_int_equal(r.x[(size_t)i * 3072 + j], pix(i % 3, j));
    }
    raw_images_free(&r);
    assert_int_equal(data_load_cifar10(dir, false, &r), KDT_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.y[1], 9);
    raw_images_free(&r);
    // the folder holding cifar-10-batches-bin/ works too
    const char *outer = subdir("c10outer");
    char inner[4096];
    snprintf(inner, sizeof inner, "%s/cifar-10-batches-bin", outer);
    assert_int_equal(fs_mkdir_p(inner), KDT_OK);
    write_file(inner, "test_batch.bin", b, (size_t)len);
    assert_int_equal(data_load_cifar10(outer, false, &r), KDT_OK);
    assert_int_equal(r.n, 3);
    raw_images_free(&r);
    // no training files: an empty split, not an error
    assert_int_equal(data_load_cifar10(outer, true, &r), KDT_OK);
    assert_int_equal(r.n, 0);
    free(b);
}

static void cifar10_errors(void **state) {
    (void)state;
    int labels[3] = {1, 2, 3}, len;
    unsigned char *b = cifar_records(3, 1, labels, &len);
    raw_images r;
    const char *dir = subdir("c10trunc");
    write_file(dir, "test_batch.bin", b, (size_t)len - 100);
    expect_error(data_load_cifar10(dir, false, &r), KDT_ERR_FORMAT, "test_batch.bin: truncated", "2 whole records");
    dir = subdir("c10big");
    unsigned char *big = calloc(10001, 3073);
    write_file(dir, "test_batch.bin", big, 10001u * 3073u);
    expect_error(data_load_cifar10(dir, false, &r), KDT_ERR_FORMAT, "test_batch.bin: oversized", "10000 records");
    free(big);
    dir = subdir("c10label");
    b[3073] = 10; // record 1's label
    write_file(dir, "test_batch.bin", b, (size_t)len);
    expect_error(data_load_cifar10(dir, false, &r), KDT_ERR_FORMAT, "test_batch.bin: bad label", "record 1 has label 10");
    dir = subdir("c10empty");
    write_file(dir, "test_batch.bin", b, 0);
    expect_error(data_load_cifar10(dir, false, &r), KDT_ERR_FORMAT, "test_batch.bin: empty", NULL);
    dir = subdir("c10partial");
    b[3073] = 2;
    write_file(dir, "data_batch_1.bin", b, (size_t)len);
    write_file(dir, "data_batch_2.bin", b, (size_t)len);
    expect_error(data_load_cifar10(dir, true, &r), KDT_ERR_IO, "data_batch_3.bin: missing", "incomplete");
    free(b);
}

static void cifar100_round_trip_and_errors(void **state) {
    (void)state;
    const char *dir = subdir("c100");
    int labels[4] = {0, 99, 57, 12}, len;
    unsigned char *b = cifar_records(4, 2, labels, &len);
    write_file(dir, "train.bin", b, (size_t)len);
    write_file(dir, "test.bin", b, (size_t)len / 2);
    raw_images r;
    assert_int_equal(data_load_cifar100(dir, true, false, &r), KDT_OK);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.classes, 100);
    for (int i = 0; i < 4; i++) assert_int_equal(r.y[i], labels[i]);
    assert_int_equal(r.x[(size_t)3 * 3072 + 5], pix(3, 5));
    raw_images_free(&r);
    assert_int_equal(data_load_cifar100(dir, true, true, &r), KDT_OK);
    assert_int_equal(r.classes, 20);
    for (int i = 0; i < 4; i++) assert_int_equal(r.y[i], labels[i] / 5);
    raw_images_free(&r);
    assert_int_equal(data_load_cifar100(dir, false, false, &r), KDT_OK);
    assert_int_equal(r.n, 2);
    raw_images_free(&r);
    // a CIFAR-10 file where CIFAR-100 is expected: not whole 3074-byte records
    dir = subdir("c100bad");
    int l10[2] = {1, 2}, len10;
    unsigned char *b10 = cifar_records(2, 1, l10, &len10);
    write_file(dir, "test.bin", b10, (size_t)len10);
    expect_error(data_load_cifar100(dir, false, false, &r), KDT_ERR_FORMAT, "test.bin: truncated", "3074");
    free(b10);
    b[1] = 100; // fine label of record 0
    write_file(dir, "test.bin", b, (size_t)len);
    expect_error(data_load_cifar100(dir, false, false, &r), KDT_ERR_FORMAT, "test.bin: bad label", "fine label 100");
    b[1] = 3, b[3074] = 20; // coarse label of record 1
    write_file(dir, "test.bin", b, (size_t)len);
    expect_error(data_load_cifar100(dir, false, true, &r), KDT_ERR_FORMAT, "bad label", "coarse label 20");
    free(b);
}

// IDX files: images (magic 2051, n, rows, cols) and labels (magic 2049, n), big-endian.
static unsigned char *idx_images(int n, int rows, int cols, uint32_t magic, size_t *len) {
    *len = 16 + (size_t)n * rows * cols;
    unsigned char *b = malloc(*len);
    uint32_t h[4] = {magic, (uint32_t)n, (uint32_t)rows, (uint32_t)cols};
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 4; j++) b[4 * k + j] = (unsigned char)(h[k] >> (24 - 8 * j));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < rows * cols; j++) b[16 + (size_t)i * rows * cols + j] = pix(i, j);
    return b;
}

static unsigned char *idx_labels(int n, const int *labels, uint32_t magic, size_t *len) {
    *len = 8 + (size_t)n;
    unsigned char *b = malloc(*len);
    uint32_t h[2] = {magic, (uint32_t)n};
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++) b[4 * k + j] = (unsigned char)(h[k] >> (24 - 8 * j));
    for (int i = 0; i < n; i++) b[8 + i] = (unsigned char)labels[i];
    return b;
}

static void idx_round_trip(bool gz, bool train) {
    const char *dir = subdir(gz ? "idxgz" : "idxraw");
    int labels[5] = {3, 1, 4, 1, 5};
    size_t li, ll;
    unsigned char *im = idx_images(5, 6, 7, 2051, &li), *lb = idx_labels(5, labels, 2049, &ll);
    const char *in = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *ln = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    char a[128], b[128];
    snprintf(a, sizeof a, "%s%s", in, gz ? ".gz" : "");
    snprintf(b, sizeof b, "%s%s", ln, gz ? ".gz" : "");
    (gz ? write_gz : write_file)(dir, a, im, li);
    (gz ? write_gz : write_file)(dir, b, lb, ll);
    raw_images r;
    assert_int_equal(data_load_idx(dir, "mnist", train, &r), KDT_OK);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.c, 1);
    assert_int_equal(r.h, 6);
    assert_int_equal(r.w, 7);
    assert_int_equal(r.classes, 10);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r.y[i], labels[i]);
        for (int j = 0; j < 42; j++) assert_int_equal(r.x[i * 42 + j], pix(i, j));
    }
    raw_images_free(&r);
    // the other split is absent: empty, no error
    assert_int_equal(data_load_idx(dir, "mnist", !train, &r), KDT_OK);
    assert_int_equal(r.n, 0);
    free(im);
    free(lb);
}

static void idx_raw_and_gzip_round_trip(void **state) {
    (void)state;
    idx_round_trip(false, true);
    idx_round_trip(false, false);
    idx_round_trip(true, true);
    idx_round_trip(true, false);
}

// Writes a t10k pair (gzip or raw) from the given buffers and expects the loader's error.
static void idx_case(bool gz, const unsigned char *im, size_t li, const unsigned char *lb, size_t ll,
                     kdt_status want, const char *n1, const char *n2) {
    const char *dir = subdir("idxbad");
    (gz ? write_gz : write_file)(dir, gz ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte", im, li);
    (gz ? write_gz : write_file)(dir, gz ? "t10k-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte", lb, ll);
    raw_images r;
    expect_error(data_load_idx(dir, "fashion_mnist", false, &r), want, n1, n2);
    assert_null(r.x);
}

static void idx_errors(void **state) {
    (void)state;
    int labels[4] = {0, 1, 2, 9};
    size_t li, ll;
    unsigned char *im = idx_images(4, 5, 5, 2051, &li), *lb = idx_labels(4, labels, 2049, &ll);
    for (int gz = 0; gz <= 1; gz++) {
        idx_case(gz, im, li - 3, lb, ll, KDT_ERR_FORMAT, "t10k-images-idx3-ubyte", "truncated");
        unsigned char *more = malloc(li + 10);
        memcpy(more, im, li);
        memset(more + li, 0, 10);
        idx_case(gz, more, li + 10, lb, ll, KDT_ERR_FORMAT, "images-idx3-ubyte", "oversized: 10 bytes");
        free(more);
        idx_case(gz, lb, ll, im, li, KDT_ERR_FORMAT, "wrong magic number 2049", "labels file");
        unsigned char *bad = malloc(ll);
        memcpy(bad, lb, ll);
        bad[8 + 2] = 10;
        idx_case(gz, im, li, bad, ll, KDT_ERR_FORMAT, "t10k-labels-idx1-ubyte", "bad label: label 2 of 4 is 10");
        free(bad);
        size_t l3;
        unsigned char *three = idx_labels(3, labels, 2049, &l3);
        idx_case(gz, im, li, three, l3, KDT_ERR_FORMAT, "3 labels for 4 images", NULL);
        free(three);
        unsigned char *huge = malloc(li);
        memcpy(huge, im, li);
        huge[4] = 0x00, huge[5] = 0x89, huge[6] = 0x54, huge[7] = 0x40; // 9,000,000 images
        idx_case(gz, huge, li, lb, ll, KDT_ERR_FORMAT, "truncated: the header declares 9000000 images of 5x5", "holds only 100");
        free(huge);
        unsigned char *junk = idx_images(4, 5, 5, 0x1234, &li);
        idx_case(gz, junk, li, lb, ll, KDT_ERR_FORMAT, "wrong magic number 4660", "expected 2051");
        free(junk);
    }
    // a gzip file cut short: the stream ends early
    const char *dir = subdir("idxgzcut");
    write_gz(dir, "full.gz", im, li);
    char path[4096];
    snprintf(path, sizeof path, "%s/full.gz", dir);
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(path, &data, &len), KDT_OK);
    write_file(dir, "t10k-images-idx3-ubyte.gz", data, len / 2);
    write_file(dir, "t10k-labels-idx1-ubyte", lb, ll);
    free(data);
    raw_images r;
    kdt_status s = data_load_idx(dir, "mnist", false, &r);
    assert_int_equal(s, KDT_ERR_FORMAT);
    assert_non_null(strstr(kdt_errmsg(), "t10k-images-idx3-ubyte.gz"));
    assert_true(strstr(kdt_errmsg(), "truncated") || strstr(kdt_errmsg(), "damaged"));
    // images without labels
    dir = subdir("idxhalf");
    write_file(dir, "t10k-images-idx3-ubyte", im, li);
    expect_error(data_load_idx(dir, "mnist", false, &r), KDT_ERR_IO, "t10k-labels-idx1-ubyte[.gz]: missing", NULL);
    free(im);
    free(lb);
}

static void real_mnist_test_set(void **state) {
    (void)state;
    // KDT_SHARED_DIR in the environment overrides the build's (a worktree's ../shared may not exist)
    const char *shared = getenv("KDT_SHARED_DIR") ? getenv("KDT_SHARED_DIR") : KDT_SHARED_DIR;
    char dir[2048], probe[4096];
    snprintf(dir, sizeof dir, "%s/data/mnist", shared);
    snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (!fs_exists(probe)) {
        printf("skipped: %s not found (the real MNIST test set is optional)\n", probe);
        skip();
    }
    raw_images r;
    kdt_status s = data_load_idx(dir, "mnist", false, &r);
    if (s != KDT_OK) fail_msg("%s", kdt_errmsg());
    assert_int_equal(r.n, 10000);
    assert_int_equal(r.h, 28);
    assert_int_equal(r.w, 28);
    const int want[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    int counts[10] = {0};
    for (int i = 0; i < r.n; i++) counts[r.y[i]]++;
    for (int k = 0; k < 10; k++) assert_int_equal(counts[k], want[k]);
    raw_images_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cifar10_round_trip),
        cmocka_unit_test(cifar10_errors),
        cmocka_unit_test(cifar100_round_trip_and_errors),
        cmocka_unit_test(idx_raw_and_gzip_round_trip),
        cmocka_unit_test(idx_errors),
        cmocka_unit_test(real_mnist_test_set),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
