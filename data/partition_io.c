// A partition's files: indices.bin (what from_file reads back), indices.csv and report.csv (for
// people and pandas).
//
// indices.bin, all integers little-endian uint32:
//   "KDTPART\0" (8 bytes), version (1), participants P, pool_n, classes, total,
//   sizes[P], index[total] (participant by participant), CRC-32 (zlib) of every byte before it.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/fs.h"
#include "data/partition.h"

enum { PART_VERSION = 1, PART_HEADER = 8 + 5 * 4, PART_MAX_PARTICIPANTS = 1 << 20,
       PART_MAX_POOL = 1 << 28 }; // pool_n sizes an allocation: bound it before trusting it
static const char PART_MAGIC[8] = {'K', 'D', 'T', 'P', 'A', 'R', 'T', '\0'};

static void put32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)v, b[1] = (unsigned char)(v >> 8), b[2] = (unsigned char)(v >> 16),
    b[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

// A growable text buffer for the CSV files.
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} text_buf;

static void tb_printf(text_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(text_buf *t, const char *fmt, ...) {
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (w >= 0 && t->s && t->n + (size_t)w < t->cap) {
            t->n += (size_t)w;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->n + (size_t)w + 1) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

static kdt_status write_text(const char *dir, const char *name, text_buf *t) {
    char path[4096];
    kdt_status s = fs_join(path, sizeof path, dir, name);
    if (s == KDT_OK && t->oom) s = kdt_fail(KDT_ERR_NOMEM, "%s: out of memory", path);
    if (s == KDT_OK) s = fs_write_atomic(path, t->s ? t->s : "", t->n);
    free(t->s);
    memset(t, 0, sizeof *t);
    return s;
}

kdt_status partition_save(const partition *p, const dataset *pool, const char *dir) {
    int P = p->participants, K = p->classes, total = p->start[P];
    kdt_status s = fs_mkdir_p(dir);
    if (s != KDT_OK) return s;
    // indices.bin
    size_t len = PART_HEADER + 4 * ((size_t)P + total) + 4;
    unsigned char *b = malloc(len);
    if (!b) return kdt_fail(KDT_ERR_NOMEM, "%s: out of memory for indices.bin", dir);
    memcpy(b, PART_MAGIC, 8);
    put32(b + 8, PART_VERSION);
    put32(b + 12, (uint32_t)P);
    put32(b + 16, (uint32_t)p->pool_n);
    put32(b + 20, (uint32_t)K);
    put32(b + 24, (uint32_t)total);
    unsigned char *q = b + PART_HEADER;
    for (int c = 0; c < P; c++, q += 4) put32(q, (uint32_t)(p->start[c + 1] - p->start[c]));
    for (int i = 0; i < total; i++, q += 4) put32(q, (uint32_t)p->index[i]);
    put32(q, (uint32_t)crc32(0L, b, (uInt)(len - 4)));
    char path[4096];
    s = fs_join(path, sizeof path, dir, "indices.bin");
    if (s == KDT_OK) s = fs_write_atomic(path, b, len);
    free(b);
    if (s != KDT_OK) return s;
    // indices.csv
    text_buf t = {0};
    tb_printf(&t, "cid,index\n");
    for (int c = 0; c < P; c++)
        for (int i = p->start[c]; i < p->start[c + 1]; i++) tb_printf(&t, "%d,%d\n", c, p->index[i]);
    s = write_text(dir, "indices.csv", &t);
    if (s != KDT_OK) return s;
    // report.csv
    int *counts = malloc((size_t)P * K * sizeof *counts);
    if (!counts) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    partition_class_counts(counts, p, pool);
    tb_printf(&t, "cid");
    for (int k = 0; k < K; k++) tb_printf(&t, ",class-%d", k);
    tb_printf(&t, ",total\n");
    for (int c = 0; c < P; c++) {
        tb_printf(&t, "%d", c);
        for (int k = 0; k < K; k++) tb_printf(&t, ",%d", counts[c * K + k]);
        tb_printf(&t, ",%d\n", p->start[c + 1] - p->start[c]);
    }
    free(counts);
    return write_text(dir, "report.csv", &t);
}

kdt_status partition_load(const char *path_in, partition *out) {
    memset(out, 0, sizeof *out);
    char path[4096];
    struct stat st;
    if (stat(path_in, &st) == 0 && S_ISDIR(st.st_mode)) {
        kdt_status s = fs_join(path, sizeof path, path_in, "indices.bin");
        if (s != KDT_OK) return s;
    } else {
        snprintf(path, sizeof path, "%s", path_in);
    }
    char *data;
    size_t len;
    // The size the header declares bounds the read (checked again below); without a header, the
    // largest file a plausible header could declare.
    size_t most = PART_HEADER + 4 * ((size_t)PART_MAX_PARTICIPANTS + PART_MAX_POOL) + 4;
    int fd;
    kdt_status s = fs_open_regular(path, 0, &fd);
    if (s != KDT_OK) return kdt_fail_context(s, "reading a saved partition (partition.file)");
    unsigned char head[PART_HEADER];
    if (read(fd, head, sizeof head) == (ssize_t)sizeof head && memcmp(head, PART_MAGIC, 8) == 0) {
        size_t declared = PART_HEADER + 4 * ((size_t)get32(head + 12) + get32(head + 24)) + 4;
        if (declared < most) most = declared + 1; // one more byte tells "oversized"
    }
    close(fd);
    s = fs_read_all_limited(path, most, &data, &len);
    if (s == KDT_ERR_FORMAT && strstr(kdt_errmsg(), "more than the"))
        return kdt_fail(KDT_ERR_FORMAT, "%s: oversized: more bytes than the header declares; "
                        "re-create it with `kdtune partition`", path);
    if (s != KDT_OK) return kdt_fail_context(s, "reading a saved partition (partition.file)");
    const unsigned char *b = (const unsigned char *)data;
    const char *redo = "re-create it with `kdtune partition` or point partition.file at another run's "
                       "partition/indices.bin";
#define FAIL(...) do { s = kdt_fail(KDT_ERR_FORMAT, __VA_ARGS__); goto done; } while (0)
    if (len < PART_HEADER + 4) FAIL("%s: truncated: %zu bytes, shorter than the %d-byte header; %s", path, len, PART_HEADER + 4, redo);
    if (memcmp(b, PART_MAGIC, 8) != 0) FAIL("%s: wrong magic: not a kdtune partition file (indices.bin); %s", path, redo);
    uint32_t version = get32(b + 8), P = get32(b + 12), pool_n = get32(b + 16), K = get32(b + 20),
             total = get32(b + 24);
    if (version != PART_VERSION)
        FAIL("%s: version %u, this kdtune reads version %d; %s", path, version, PART_VERSION, redo);
    if (P == 0 || P > PART_MAX_PARTICIPANTS || K == 0 || K > 100000 || pool_n > PART_MAX_POOL || total > pool_n)
        FAIL("%s: implausible header (%u participants, pool of %u, %u classes, %u indices); %s", path, P,
             pool_n, K, total, redo);
    size_t want = PART_HEADER + 4 * ((size_t)P + total) + 4;
    if (len < want) FAIL("%s: truncated: %zu bytes, the header declares %zu; %s", path, len, want, redo);
    if (len > want) FAIL("%s: oversized: %zu bytes, the header declares %zu; %s", path, len, want, redo);
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(len - 4));
    if (crc != get32(b + len - 4))
        FAIL("%s: CRC mismatch (stored %08x, computed %08x): the file is damaged; %s", path,
             get32(b + len - 4), crc, redo);
    s = partition_alloc(out, (int)P, (int)pool_n, (int)K, (int)total);
    if (s != KDT_OK) goto done;
    out->start[0] = 0;
    uint64_t sum = 0;
    for (uint32_t c = 0; c < P; c++) {
        sum += get32(b + PART_HEADER + 4 * c);
        if (sum > total) break;
        out->start[c + 1] = (int)sum;
    }
    if (sum != total) FAIL("%s: the participants' sizes add up to %llu, the header says %u; %s", path,
                           (unsigned long long)sum, total, redo);
    unsigned char *seen = calloc(pool_n ? pool_n : 1, 1);
    if (!seen) {
        s = kdt_fail(KDT_ERR_NOMEM, "out of memory");
        goto done;
    }
    const unsigned char *q = b + PART_HEADER + 4 * (size_t)P;
    for (uint32_t i = 0; i < total; i++) {
        uint32_t v = get32(q + 4 * (size_t)i);
        if (v >= pool_n || seen[v]) {
            free(seen);
            if (v >= pool_n) FAIL("%s: index %u out of range (pool of %u); %s", path, v, pool_n, redo);
            FAIL("%s: index %u appears twice: participants' data would overlap; %s", path, v, redo);
        }
        seen[v] = 1;
        out->index[i] = (int)v;
    }
    free(seen);
#undef FAIL
done:
    free(data);
    if (s != KDT_OK) partition_free(out);
    return s;
}
