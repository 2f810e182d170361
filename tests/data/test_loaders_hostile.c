// Hostile data files, classes 2 (special files) and 3 (unbounded sizes): a FIFO or device where a
// dataset or partition file belongs is refused without blocking; an IDX header is checked for
// sizes before anything is read, and a gzip stream inflating far past what the header declares is
// refused after the declared bytes; a partition header cannot size an allocation beyond bounds.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/fs.h"
#include "data/loaders.h"
#include "data/partition.h"

static char dir[64];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kdt_data_hostile_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void be32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16), b[2] = (unsigned char)(v >> 8),
    b[3] = (unsigned char)v;
}

static void expect_msg(kdt_status got, kdt_status want, const char *needle) {
    assert_int_equal(got, want);
    if (!strstr(kdt_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", kdt_errmsg(), needle);
}

// Writes a gzip IDX images file: the header, then `zeros` zero bytes.
static void write_gz_images(const char *name, uint32_t n, uint32_t rows, uint32_t cols, size_t zeros) {
    char path[256];
    assert_int_equal(fs_join(path, sizeof path, dir, name), KDT_OK);
    gzFile g = gzopen(path, "wb1");
    assert_non_null(g);
    unsigned char h[16];
    be32(h, 2051), be32(h + 4, n), be32(h + 8, rows), be32(h + 12, cols);
    assert_int_equal(gzwrite(g, h, 16), 16);
    static unsigned char block[1 << 16];
    for (size_t left = zeros; left > 0;) {
        unsigned chunk = left > sizeof block ? (unsigned)sizeof block : (unsigned)left;
        assert_int_equal(gzwrite(g, block, chunk), (int)chunk);
        left -= chunk;
    }
    assert_int_equal(gzclose(g), Z_OK);
}

static void write_labels(uint32_t n) {
    char path[256];
    assert_int_equal(fs_join(path, sizeof path, dir, "t10k-labels-idx1-ubyte"), KDT_OK);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char h[8];
    be32(h, 2049), be32(h + 4, n);
    fwrite(h, 1, 8, f);
    for (uint32_t i = 0; i < n; i++) fputc(0, f);
    fclose(f);
}

// Header dimensions whose product is huge (or would overflow 32 bits) are refused before reading.
static void idx_header_sizes_are_checked(void **state) {
    (void)state;
    raw_images r;
    write_labels(10);
    write_gz_images("t10k-images-idx3-ubyte.gz", 10000000, 1024, 1024, 0);
    expect_msg(data_load_idx(dir, "mnist", false, &r), KDT_ERR_FORMAT, "implausible header");
    assert_non_null(strstr(kdt_errmsg(), "bytes"));
    assert_null(r.x);
    write_gz_images("t10k-images-idx3-ubyte.gz", 0xffffffffu, 65536, 65536, 0);
    expect_msg(data_load_idx(dir, "mnist", false, &r), KDT_ERR_FORMAT, "implausible header");
}

// 10 images of 28x28 declared, 64 MiB of zeros inflated from a tiny file: refused as oversized
// after reading the declared 7,840 bytes and at most 1 MiB more.
static void idx_gzip_bomb_stops_at_the_declared_size(void **state) {
    (void)state;
    write_labels(10);
    write_gz_images("t10k-images-idx3-ubyte.gz", 10, 28, 28, (size_t)64 << 20);
    char path[256];
    assert_int_equal(fs_join(path, sizeof path, dir, "t10k-images-idx3-ubyte.gz"), KDT_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size < (1 << 20)); // the file really is small
    raw_images r;
    expect_msg(data_load_idx(dir, "mnist", false, &r), KDT_ERR_FORMAT, "oversized: more than");
    assert_null(r.x);
    // Exactly what the header declares loads.
    write_gz_images("t10k-images-idx3-ubyte.gz", 10, 28, 28, 10 * 28 * 28);
    assert_int_equal(data_load_idx(dir, "mnist", false, &r), KDT_OK);
    assert_int_equal(r.n, 10);
    raw_images_free(&r);
}

// A FIFO (no writer) or a link to /dev/zero where a data file belongs: refused, no hang.
static void special_data_files_are_refused(void **state) {
    (void)state;
    char path[256];
    raw_images r;
    assert_int_equal(fs_join(path, sizeof path, dir, "test_batch.bin"), KDT_OK);
    assert_int_equal(mkfifo(path, 0600), 0);
    kdt_status s = data_load_cifar10(dir, false, &r);
    expect_msg(s, KDT_ERR_IO, "test_batch.bin: is a FIFO");
    assert_int_equal(r.n, 0);
    remove(path);
    assert_int_equal(fs_join(path, sizeof path, dir, "data_batch_1.bin"), KDT_OK);
    assert_int_equal(symlink("/dev/zero", path), 0);
    s = data_load_cifar10(dir, true, &r);
    assert_int_not_equal(s, KDT_OK); // the other four are missing, or this one is a device
    assert_int_equal(r.n, 0);
    for (int i = 2; i <= 5; i++) {
        char other[256], name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", i);
        assert_int_equal(fs_join(other, sizeof other, dir, name), KDT_OK);
        assert_int_equal(symlink("/dev/zero", other), 0);
    }
    expect_msg(data_load_cifar10(dir, true, &r), KDT_ERR_IO, "character device");
    // IDX: the labels file is a FIFO beside real images.
    write_gz_images("t10k-images-idx3-ubyte.gz", 2, 4, 4, 32);
    assert_int_equal(fs_join(path, sizeof path, dir, "t10k-labels-idx1-ubyte"), KDT_OK);
    assert_int_equal(mkfifo(path, 0600), 0);
    s = data_load_idx(dir, "mnist", false, &r);
    assert_int_equal(s, KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), "t10k-labels-idx1-ubyte"));
}

// partition.file: a FIFO, /dev/zero, and a header whose pool size would size a huge allocation.
static void hostile_partition_files(void **state) {
    (void)state;
    char path[256];
    partition p;
    assert_int_equal(fs_join(path, sizeof path, dir, "indices.bin"), KDT_OK);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_msg(partition_load(path, &p), KDT_ERR_IO, "FIFO");
    expect_msg(partition_load("/dev/zero", &p), KDT_ERR_IO, "character device");
    remove(path);
    unsigned char b[8 + 20 + 4 + 4];
    memcpy(b, "KDTPART", 8);
    uint32_t words[] = {1, 1, 0x7fffffffu, 10, 0, 0};
    for (int i = 0; i < 6; i++) {
        uint32_t v = words[i];
        unsigned char *q = b + 8 + 4 * i;
        q[0] = (unsigned char)v, q[1] = (unsigned char)(v >> 8), q[2] = (unsigned char)(v >> 16),
        q[3] = (unsigned char)(v >> 24);
    }
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(sizeof b - 4));
    unsigned char *q = b + sizeof b - 4;
    q[0] = (unsigned char)crc, q[1] = (unsigned char)(crc >> 8), q[2] = (unsigned char)(crc >> 16),
    q[3] = (unsigned char)(crc >> 24);
    assert_int_equal(fs_write_atomic(path, b, sizeof b), KDT_OK);
    expect_msg(partition_load(path, &p), KDT_ERR_FORMAT, "implausible header");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(idx_header_sizes_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(idx_gzip_bomb_stops_at_the_declared_size, setup, teardown),
        cmocka_unit_test_setup_teardown(special_data_files_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_partition_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
