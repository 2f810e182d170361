// The .npy reader on files this test writes byte by byte: 3-D and 4-D images read back exactly
// (4-D transposed to channel-major), every integer label dtype, format versions 1.0 to 3.0, class
// inference across both splits; and each malformed class (truncated, bad magic, bad header,
// fortran order, wrong dtype, shape mismatch, label out of range, oversized) gets its own message.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "data/load_npy.h"

static char tmpdir[1024];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/test_data_npy.XXXXXX", KDT_BINARY_DIR);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd);
}

// A path under tmpdir; four rotating buffers so that a call can hold several.
static const char *tmp_path(const char *name) {
    static char paths[4][2048];
    static int k;
    char *p = paths[k++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

// An .npy file as numpy writes it: magic, version major.0, the dict padded with spaces to a
// multiple of 64 and ended by '\n', then the data. dict NULL: built from descr/fortran/shape.
static void write_npy_raw(const char *path, int major, const char *dict, const void *data,
                          size_t len) {
    size_t lbytes = major == 1 ? 2 : 4, pre = 8 + lbytes, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
    unsigned char *b = malloc(total + len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major, b[7] = 0;
    for (size_t k = 0; k < lbytes; k++) b[8 + k] = (unsigned char)(hlen >> (8 * k));
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', hlen - dl - 1);
    b[total - 1] = '\n';
    if (len) memcpy(b + total, data, len);
    write_bytes(path, b, total + len);
    free(b);
}

static void write_npy(const char *path, const char *descr, const char *shape, const void *data,
                      size_t len) {
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
             shape);
    write_npy_raw(path, 1, dict, data, len);
}

static void expect_error(kdt_status got, kdt_status want, const char *needle1, const char *needle2) {
    assert_int_equal(got, want);
    const char *m = kdt_errmsg();
    if (!strstr(m, needle1) || (needle2 && !strstr(m, needle2)))
        fail_msg("message \"%s\" lacks \"%s\"%s%s", m, needle1, needle2 ? " or " : "",
                 needle2 ? needle2 : "");
}

static unsigned char pix(int i, int j) { return (unsigned char)(i * 37 + j * 11 + 3); }

enum { N = 5, H = 3, W = 4 };

// Writes N images of HxW and labels lab (as int64 in a '<i8' file) as the train pair.
static data_npy_files train_pair(const char *tag, const int64_t *lab) {
    unsigned char x[N * H * W];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < H * W; j++) x[i * H * W + j] = pix(i, j);
    char a[64], b[64];
    snprintf(a, sizeof a, "%s_x.npy", tag);
    snprintf(b, sizeof b, "%s_y.npy", tag);
    data_npy_files f = {.train_images = tmp_path(a), .train_labels = tmp_path(b)};
    write_npy(f.train_images, "|u1", "(5, 3, 4)", x, sizeof x);
    write_npy(f.train_labels, "<i8", "(5,)", lab, N * sizeof *lab);
    return f;
}

static void images_3d_round_trip(void **state) {
    (void)state;
    int64_t lab[N] = {0, 3, 1, 2, 3};
    data_npy_files f = train_pair("r3", lab);
    raw_images r;
    assert_int_equal(data_load_npy(&f, true, &r), KDT_OK);
    assert_int_equal(r.n, N);
    assert_int_equal(r.c, 1);
    assert_int_equal(r.h, H);
    assert_int_equal(r.w, W);
    assert_int_equal(r.classes, 4); // inferred: the largest label + 1
    for (int i = 0; i < N; i++) {
        assert_int_equal(r.y[i], lab[i]);
        for (int j = 0; j < H * W; j++) assert_int_equal(r.x[i * H * W + j], pix(i, j));
    }
    raw_images_free(&r);
    // The test split is absent: no error, no images.
    assert_int_equal(data_load_npy(&f, false, &r), KDT_OK);
    assert_int_equal(r.n, 0);
    raw_images_free(&r);
}

static void images_4d_become_channel_major(void **state) {
    (void)state;
    enum { C = 3 };
    unsigned char x[N * H * W * C]; // (N, H, W, C) on file
    for (int i = 0; i < N; i++)
        for (int p = 0; p < H * W; p++)
            for (int c = 0; c < C; c++) x[(i * H * W + p) * C + c] = pix(i, p * 5 + c);
    uint8_t lab[N] = {1, 0, 1, 1, 0};
    data_npy_files f = {.test_images = tmp_path("r4_x.npy"), .test_labels = tmp_path("r4_y.npy"),
                        .classes = 10};
    write_npy(f.test_images, "|u1", "(5, 3, 4, 3)", x, sizeof x);
    write_npy(f.test_labels, "|u1", "(5,)", lab, sizeof lab);
    raw_images r;
    assert_int_equal(data_load_npy(&f, false, &r), KDT_OK);
    assert_int_equal(r.n, N);
    assert_int_equal(r.c, C);
    assert_int_equal(r.classes, 10); // as given, not inferred
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++)
                assert_int_equal(r.x[((size_t)i * C + c) * H * W + p], pix(i, p * 5 + c));
    raw_images_free(&r);
}

// Every integer dtype, with values that need its width and sign handled right.
static void every_label_dtype(void **state) {
    (void)state;
    static const struct {
        const char *descr;
        int size;
    } kinds[] = {{"|u1", 1}, {"|i1", 1}, {"<i2", 2}, {"<u2", 2}, {"<i4", 4}, {"<u4", 4},
                 {"<i8", 8}, {"<u8", 8}};
    int64_t want[N] = {0, 7, 200, 3, 126};
    unsigned char x[N * H * W] = {0};
    data_npy_files f = {.train_images = tmp_path("d_x.npy"), .train_labels = tmp_path("d_y.npy"),
                        .classes = 201};
    write_npy(f.train_images, "|u1", "(5, 3, 4)", x, sizeof x);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        unsigned char buf[N * 8];
        for (int i = 0; i < N; i++) {
            int64_t v = want[i];
            if (kinds[k].descr[1] == 'i' && kinds[k].size == 1 && v > 127) v = 100; // fits i1
            for (int b = 0; b < kinds[k].size; b++) buf[i * kinds[k].size + b] = (unsigned char)(v >> (8 * b));
        }
        write_npy(f.train_labels, kinds[k].descr, "(5,)", buf, (size_t)N * kinds[k].size);
        raw_images r;
        kdt_status s = data_load_npy(&f, true, &r);
        if (s) fail_msg("%s: %s", kinds[k].descr, kdt_errmsg());
        for (int i = 0; i < N; i++) {
            int64_t v = (kinds[k].descr[1] == 'i' && kinds[k].size == 1 && want[i] > 127) ? 100 : want[i];
            assert_int_equal(r.y[i], v);
        }
        raw_images_free(&r);
    }
    // A negative label in a signed dtype is out of range, not a huge number.
    int16_t neg[N] = {0, 1, -1, 2, 3};
    write_npy(f.train_labels, "<i2", "(5,)", neg, sizeof neg);
    raw_images r;
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "bad label", "is -1");
}

static void versions_2_and_3(void **state) {
    (void)state;
    unsigned char x[N * H * W];
    for (int j = 0; j < N * H * W; j++) x[j] = (unsigned char)j;
    int32_t lab[N] = {0, 1, 0, 1, 1};
    for (int major = 2; major <= 3; major++) {
        data_npy_files f = {.train_images = tmp_path("v_x.npy"), .train_labels = tmp_path("v_y.npy")};
        write_npy_raw(f.train_images, major,
                      "{'shape': (5, 3, 4), 'fortran_order': False, \"descr\": '|u1'}", x, sizeof x);
        write_npy_raw(f.train_labels, major, "{'descr': '<i4', 'fortran_order': False, 'shape': (5,)}",
                      lab, sizeof lab);
        raw_images r;
        assert_int_equal(data_load_npy(&f, true, &r), KDT_OK);
        assert_int_equal(r.x[N * H * W - 1], N * H * W - 1);
        assert_int_equal(r.y[4], 1);
        raw_images_free(&r);
    }
    data_npy_files f = {.train_images = tmp_path("v_x.npy"), .train_labels = tmp_path("v_y.npy")};
    write_npy_raw(f.train_images, 4, "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 3, 4)}",
                  x, sizeof x);
    raw_images r;
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "version 4.0", "not supported");
}

// classes = 0 infers from both splits' labels, so train and test agree; shapes must agree too.
static void splits_agree(void **state) {
    (void)state;
    int64_t tr[N] = {0, 1, 1, 0, 2}, te[N] = {0, 5, 1, 1, 2};
    data_npy_files f = train_pair("sa", tr);
    f.test_images = f.train_images; // the same 5 images serve as the test split
    f.test_labels = tmp_path("sa_test_y.npy");
    write_npy(f.test_labels, "<i8", "(5,)", te, sizeof te);
    raw_images a, b;
    assert_int_equal(data_load_npy(&f, true, &a), KDT_OK);
    assert_int_equal(data_load_npy(&f, false, &b), KDT_OK);
    assert_int_equal(a.classes, 6);
    assert_int_equal(b.classes, 6);
    raw_images_free(&a);
    raw_images_free(&b);
    // test images of another shape
    unsigned char x[N * 4 * 4] = {0};
    f.test_images = tmp_path("sa_test_x.npy");
    write_npy(f.test_images, "|u1", "(5, 4, 4)", x, sizeof x);
    expect_error(data_load_npy(&f, true, &a), KDT_ERR_FORMAT, "same image shape", "sa_test_x.npy");
    // half a split
    f.test_labels = NULL;
    expect_error(data_load_npy(&f, false, &a), KDT_ERR_IO, "data.npy.test_labels", "needs both");
    // a named file that does not exist
    f.test_labels = tmp_path("nowhere.npy");
    expect_error(data_load_npy(&f, false, &a), KDT_ERR_IO, "nowhere.npy", "cannot open");
}

static void truncated(void **state) {
    (void)state;
    int64_t lab[N] = {0, 1, 2, 3, 4};
    data_npy_files f = train_pair("tr", lab);
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(f.train_images, &data, &len), KDT_OK);
    raw_images r;
    write_bytes(f.train_images, data, len - 1); // one pixel short
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "truncated", "tr_x.npy");
    write_bytes(f.train_images, data, 40); // inside the header
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "truncated", "header");
    write_bytes(f.train_images, data, 4); // inside the magic
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "truncated", NULL);
    write_bytes(f.train_images, data, 0);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "empty file", NULL);
    // and oversized: bytes after the declared data
    char *big = malloc(len + 7);
    memcpy(big, data, len);
    memset(big + len, 0, 7);
    write_bytes(f.train_images, big, len + 7);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "oversized", "7 bytes");
    free(big);
    free(data);
}

static void bad_magic(void **state) {
    (void)state;
    int64_t lab[N] = {0};
    data_npy_files f = train_pair("bm", lab);
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(f.train_labels, &data, &len), KDT_OK);
    data[1] = 'X';
    write_bytes(f.train_labels, data, len);
    raw_images r;
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "bad magic", "bm_y.npy");
    static const char zip[] = "PK\x03\x04 this is a zip";
    write_bytes(f.train_labels, zip, sizeof zip - 1);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, ".npz", NULL);
    free(data);
}

static void bad_header(void **state) {
    (void)state;
    unsigned char x[N * H * W] = {0};
    int64_t lab[N] = {0, 1, 0, 1, 0};
    data_npy_files f = train_pair("bh", lab);
    static const struct {
        const char *dict, *needle;
    } cases[] = {
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (5, 3, 4), 'extra': 1}", "unknown key 'extra'"},
        {"{'descr': '|u1', 'shape': (5, 3, 4)}", "no 'fortran_order'"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (5, 3, 4), 'shape': (5, 3, 4)}", "repeated key"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': [5, 3, 4]}", "not a tuple"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (5, -3, 4)}", "non-negative integers"},
        {"{'descr': '|u1', 'fortran_order': 0, 'shape': (5, 3, 4)}", "neither True nor False"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (5, 3, 4)} junk", "text after the dict"},
        {"'descr': '|u1', 'fortran_order': False, 'shape': (5, 3, 4)}", "no '{'"},
        {"{descr: '|u1', 'fortran_order': False, 'shape': (5, 3, 4)}", "quoted key"},
        {"{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (5, 3, 4)}", "structured"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': ()}", "scalar"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (5, 3, 4, 1, 1)}", "more than 4"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999, 3, 4)}", "absurdly large"},
    };
    raw_images r;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_npy_raw(f.train_images, 1, cases[k].dict, x, sizeof x);
        kdt_status s = data_load_npy(&f, true, &r);
        if (s != KDT_ERR_FORMAT || !strstr(kdt_errmsg(), cases[k].needle) ||
            !strstr(kdt_errmsg(), "bh_x.npy"))
            fail_msg("case %zu (%s): status %d, message \"%s\" lacks \"%s\"", k, cases[k].dict, s,
                     kdt_errmsg(), cases[k].needle);
    }
    // A declared header length beyond the bound is refused before anything is allocated.
    unsigned char huge[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 0, 0x10};
    write_bytes(f.train_images, huge, sizeof huge);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "bad header", "268435456 bytes");
}

static void fortran_order(void **state) {
    (void)state;
    unsigned char x[N * H * W] = {0};
    int64_t lab[N] = {0};
    data_npy_files f = train_pair("fo", lab);
    write_npy_raw(f.train_images, 1, "{'descr': '|u1', 'fortran_order': True, 'shape': (5, 3, 4), }",
                  x, sizeof x);
    raw_images r;
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "fortran_order is True",
                 "ascontiguousarray");
}

static void wrong_dtype(void **state) {
    (void)state;
    float xf[N * H * W] = {0};
    int64_t lab[N] = {0};
    data_npy_files f = train_pair("wd", lab);
    raw_images r;
    write_npy(f.train_images, "<f4", "(5, 3, 4)", xf, sizeof xf);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "'<f4'", "astype(np.uint8)");
    write_npy(f.train_images, "<u2", "(5, 3, 4)", xf, N * H * W * 2);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "uint8", "'<u2'");
    f = train_pair("wd", lab);
    write_npy(f.train_labels, "<f8", "(5,)", xf, N * 8);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "'<f8'", "np.int64");
    write_npy(f.train_labels, ">i4", "(5,)", xf, N * 4);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "little-endian", "astype('<i4')");
    write_npy(f.train_labels, "|b1", "(5,)", xf, N);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "'|b1'", NULL);
}

static void shape_mismatch(void **state) {
    (void)state;
    int64_t lab[N + 1] = {0, 1, 0, 1, 0, 1};
    data_npy_files f = train_pair("sm", lab);
    raw_images r;
    write_npy(f.train_labels, "<i8", "(6,)", lab, sizeof lab);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "6 labels for the 5 images", "not a pair");
    write_npy(f.train_labels, "<i8", "(5, 1)", lab, N * 8);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "2 dimensions", "reshape(-1)");
    unsigned char x[N * 3 * 4 * 8] = {0};
    f = train_pair("sm", lab);
    write_npy(f.train_images, "|u1", "(5, 3, 4, 8)", x, sizeof x); // channel-first
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "channel-first", "transpose(0, 2, 3, 1)");
    write_npy(f.train_images, "|u1", "(15, 12)", x, 15 * 12);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "2 dimensions", "(N, H, W)");
    write_npy(f.train_images, "|u1", "(0, 3, 4)", x, 0);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "0 images", NULL);
}

static void label_out_of_range(void **state) {
    (void)state;
    int64_t lab[N] = {0, 1, 10, 2, 3};
    data_npy_files f = train_pair("lr", lab);
    f.classes = 10;
    raw_images r;
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "label 2 of 5 is 10", "0..9");
    assert_null(r.x); // nothing left allocated
    f.classes = 11;
    assert_int_equal(data_load_npy(&f, true, &r), KDT_OK);
    raw_images_free(&r);
    // inferred classes: a huge label is refused rather than making a million classes
    int64_t big[N] = {0, 1, 5000000, 2, 3};
    f = train_pair("lr", big);
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "largest label is 5000000",
                 "data.npy.classes");
    uint64_t huge[N] = {0, 1, UINT64_MAX, 2, 3};
    write_npy(f.train_labels, "<u8", "(5,)", huge, sizeof huge);
    f.classes = 4;
    expect_error(data_load_npy(&f, true, &r), KDT_ERR_FORMAT, "bad label", "label 2 of 5");
}

static void header_reader(void **state) {
    (void)state;
    int64_t lab[N] = {0};
    data_npy_files f = train_pair("hr", lab);
    npy_header h;
    assert_int_equal(data_npy_read_header(f.train_images, &h), KDT_OK);
    assert_string_equal(h.descr, "|u1");
    assert_int_equal(h.ndim, 3);
    assert_int_equal(h.shape[0], 5);
    assert_int_equal(h.shape[2], 4);
    assert_int_equal(h.data_offset % 64, 0);
    assert_int_equal(h.item_size, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(images_3d_round_trip), cmocka_unit_test(images_4d_become_channel_major),
        cmocka_unit_test(every_label_dtype),    cmocka_unit_test(versions_2_and_3),
        cmocka_unit_test(splits_agree),         cmocka_unit_test(truncated),
        cmocka_unit_test(bad_magic),            cmocka_unit_test(bad_header),
        cmocka_unit_test(fortran_order),        cmocka_unit_test(wrong_dtype),
        cmocka_unit_test(shape_mismatch),       cmocka_unit_test(label_out_of_range),
        cmocka_unit_test(header_reader),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
