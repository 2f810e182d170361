// MNIST and Fashion-MNIST IDX readers, raw or gzip: zlib's gzopen/gzread read both (a file
// without the gzip header passes through unchanged). Headers are big-endian: magic 2051
// (0x00000803: unsigned bytes, 3 dimensions) then count, rows, cols for images; magic 2049
// (0x00000801) then count for labels. Every size, count and label is checked, and the header's
// declared size bounds what is read: a small .gz that inflates to gigabytes is read only as far as
// the header promises (IDX_MAX_BYTES at most), and anything after that is refused unread.
#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/fs.h"
#include "data/loaders.h"

enum { IDX_IMAGES_MAGIC = 2051, IDX_LABELS_MAGIC = 2049, IDX_MAX_SIDE = 1024,
       IDX_MAX_COUNT = 10000000, IDX_CLASSES = 10 };
// The most image bytes an IDX file may declare (1 GiB; MNIST's training set has 47 MB).
#define IDX_MAX_BYTES ((size_t)1 << 30)

static const char *idx_hint(const char *name) {
    return strcmp(name, "fashion_mnist") == 0
               ? "get the files from https://github.com/zalandoresearch/fashion-mnist"
               : "get the files from http://yann.lecun.com/exdb/mnist/ (or a mirror)";
}

// Present: anything by that name (a FIFO or device too, which the reader then refuses by name
// rather than treating the file as missing).
static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

// The path of base or base.gz under dir, whichever exists (raw first); false when neither does.
static bool idx_find(char *out, size_t cap, const char *dir, const char *base) {
    char gz[256];
    snprintf(gz, sizeof gz, "%s.gz", base);
    if (fs_join(out, cap, dir, base) == KDT_OK && is_file(out)) return true;
    if (fs_join(out, cap, dir, gz) == KDT_OK && is_file(out)) return true;
    return false;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

// Reads exactly n bytes; a short read is a truncated file (or a damaged gzip stream).
static kdt_status idx_read_some(gzFile g, const char *path, void *buf, size_t n,
                                const char *what, const char *name, size_t *got_out) {
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(g, (char *)buf + got, chunk);
        if (r < 0) {
            int err;
            const char *msg = gzerror(g, &err);
            return kdt_fail(KDT_ERR_FORMAT, "%s: damaged gzip stream while reading %s: %s; %s",
                            path, what, msg, idx_hint(name));
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got_out) *got_out = got;
    if (got < n && strncmp(what, "header", 6) == 0)
        return kdt_fail(KDT_ERR_FORMAT, "%s: truncated: the file ends inside its %s; %s", path,
                        what, idx_hint(name));
    if (got < n)
        return kdt_fail(KDT_ERR_FORMAT,
                        "%s: truncated: the header declares %zu bytes of %s, the file holds only "
                        "%zu; %s",
                        path, n, what, got, idx_hint(name));
    return KDT_OK;
}

static kdt_status idx_read_exact(gzFile g, const char *path, void *buf, size_t n,
                                 const char *what, const char *name) {
    return idx_read_some(g, path, buf, n, what, name, NULL);
}

// Nothing may follow the declared data. What follows is counted up to 1 MiB and no further, so a
// gzip bomb appended after valid data is never inflated.
static kdt_status idx_expect_end(gzFile g, const char *path, size_t declared, const char *name) {
    enum { LOOK = 1 << 20 };
    char extra[4096];
    size_t more = 0;
    int r;
    while (more <= LOOK && (r = gzread(g, extra, sizeof extra)) > 0) more += (size_t)r;
    if (more > 0)
        return kdt_fail(KDT_ERR_FORMAT,
                        "%s: oversized: %s%zu bytes follow the %zu bytes the header declares; "
                        "is the header's count wrong or two files concatenated? %s",
                        path, more > LOOK ? "more than " : "", more > LOOK ? (size_t)LOOK : more,
                        declared, idx_hint(name));
    return KDT_OK;
}

// Opens a regular file (a FIFO or device is refused without blocking) and hands it to zlib.
static kdt_status idx_open(gzFile *g, const char *path) {
    int fd;
    kdt_status s = fs_open_regular(path, 0, &fd);
    if (s) return s;
    *g = gzdopen(fd, "rb");
    if (!*g) {
        close(fd);
        return kdt_fail(KDT_ERR_NOMEM, "%s: cannot open: out of memory", path);
    }
    return KDT_OK;
}

static kdt_status idx_bad_magic(const char *path, uint32_t magic, uint32_t want, const char *name) {
    const char *why = "";
    if (magic == IDX_LABELS_MAGIC) why = " (that of a labels file: are the names swapped?)";
    else if (magic == IDX_IMAGES_MAGIC) why = " (that of an images file: are the names swapped?)";
    else if ((magic >> 16) == 0x1f8b) why = " (a gzip header: compressed twice?)";
    return kdt_fail(KDT_ERR_FORMAT,
                    "%s: wrong magic number %u (0x%08x)%s, expected %u (0x%08x); not an IDX %s "
                    "file; %s",
                    path, magic, magic, why, want, want,
                    want == IDX_IMAGES_MAGIC ? "images" : "labels", idx_hint(name));
}

static kdt_status idx_read_images(const char *path, const char *name, raw_images *out) {
    gzFile g;
    kdt_status s = idx_open(&g, path);
    if (s != KDT_OK) return s;
    unsigned char h[16];
    s = idx_read_exact(g, path, h, 4, "header (magic number)", name);
    if (s == KDT_OK && be32(h) != IDX_IMAGES_MAGIC) s = idx_bad_magic(path, be32(h), IDX_IMAGES_MAGIC, name);
    if (s == KDT_OK) s = idx_read_exact(g, path, h + 4, 12, "header (count, rows, columns)", name);
    uint32_t n = be32(h + 4), rows = be32(h + 8), cols = be32(h + 12);
    if (s == KDT_OK && (n == 0 || n > IDX_MAX_COUNT || rows == 0 || rows > IDX_MAX_SIDE || cols == 0 ||
                        cols > IDX_MAX_SIDE))
        s = kdt_fail(KDT_ERR_FORMAT, "%s: implausible header: %u images of %ux%u; %s", path, n, rows,
                     cols, idx_hint(name));
    // Each factor is bounded above, so the product fits in 64 bits; it must also fit the cap.
    uint64_t declared = (uint64_t)n * rows * cols;
    if (s == KDT_OK && declared > IDX_MAX_BYTES)
        s = kdt_fail(KDT_ERR_FORMAT, "%s: implausible header: %u images of %ux%u would be %llu bytes, "
                     "more than the %zu an IDX file may hold here; %s", path, n, rows, cols,
                     (unsigned long long)declared, IDX_MAX_BYTES, idx_hint(name));
    size_t bytes = s == KDT_OK ? (size_t)declared : 0;
    // Grown as the data arrives, so that a damaged header declaring a huge count gives
    // "truncated" rather than an allocation of what the file never holds.
    size_t have = 0, cap = 0;
    while (s == KDT_OK && have < bytes) {
        size_t grow = cap ? cap : ((size_t)1 << 20);
        size_t next = cap + grow < bytes ? cap + grow : bytes;
        uint8_t *x = realloc(out->x, next);
        if (!x) {
            s = kdt_fail(KDT_ERR_NOMEM, "%s: out of memory for %u images", path, n);
            break;
        }
        out->x = x;
        cap = next;
        size_t got = 0;
        s = idx_read_some(g, path, out->x + have, cap - have, "images", name, &got);
        if (s != KDT_OK && strstr(kdt_errmsg(), "truncated"))
            s = kdt_fail(KDT_ERR_FORMAT,
                         "%s: truncated: the header declares %u images of %ux%u (%zu bytes), the "
                         "file holds only %zu; %s",
                         path, n, rows, cols, bytes, have + got, idx_hint(name));
        have = cap;
    }
    if (s == KDT_OK) s = idx_expect_end(g, path, 16 + bytes, name);
    gzclose(g);
    if (s == KDT_OK) {
        out->n = (int)n;
        out->c = 1;
        out->h = (int)rows;
        out->w = (int)cols;
    }
    return s;
}

static kdt_status idx_read_labels(const char *path, const char *name, int expect_n, raw_images *out) {
    gzFile g;
    kdt_status s = idx_open(&g, path);
    if (s != KDT_OK) return s;
    unsigned char h[8];
    unsigned char *buf = NULL;
    s = idx_read_exact(g, path, h, 4, "header (magic number)", name);
    if (s == KDT_OK && be32(h) != IDX_LABELS_MAGIC) s = idx_bad_magic(path, be32(h), IDX_LABELS_MAGIC, name);
    if (s == KDT_OK) s = idx_read_exact(g, path, h + 4, 4, "header (count)", name);
    uint32_t n = be32(h + 4);
    if (s == KDT_OK && n != (uint32_t)expect_n)
        s = kdt_fail(KDT_ERR_FORMAT,
                     "%s: %u labels for %d images: the labels file does not belong to the images "
                     "file beside it; %s",
                     path, n, expect_n, idx_hint(name));
    if (s == KDT_OK) {
        buf = malloc(n);
        out->y = malloc((size_t)n * sizeof *out->y);
        if (!buf || !out->y) s = kdt_fail(KDT_ERR_NOMEM, "%s: out of memory", path);
    }
    if (s == KDT_OK) s = idx_read_exact(g, path, buf, n, "labels", name);
    if (s == KDT_OK) s = idx_expect_end(g, path, 8 + (size_t)n, name);
    for (uint32_t i = 0; s == KDT_OK && i < n; i++) {
        if (buf[i] >= IDX_CLASSES)
            s = kdt_fail(KDT_ERR_FORMAT, "%s: bad label: label %u of %u is %d, %s labels are 0..%d; %s",
                         path, i, n, buf[i], name, IDX_CLASSES - 1, idx_hint(name));
        else
            out->y[i] = buf[i];
    }
    free(buf);
    gzclose(g);
    return s;
}

kdt_status data_load_idx(const char *dir, const char *name, bool train, raw_images *out) {
    memset(out, 0, sizeof *out);
    const char *ib = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *lb = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    char ip[4096], lp[4096];
    bool has_i = idx_find(ip, sizeof ip, dir, ib), has_l = idx_find(lp, sizeof lp, dir, lb);
    if (!has_i && !has_l) return KDT_OK;
    if (!has_i || !has_l)
        return kdt_fail(KDT_ERR_IO, "%s/%s[.gz]: missing while %s is present; %s", dir,
                        has_i ? lb : ib, has_i ? ip : lp, idx_hint(name));
    kdt_status s = idx_read_images(ip, name, out);
    if (s == KDT_OK) s = idx_read_labels(lp, name, out->n, out);
    if (s != KDT_OK) {
        raw_images_free(out);
        return s;
    }
    out->classes = IDX_CLASSES;
    return KDT_OK;
}
