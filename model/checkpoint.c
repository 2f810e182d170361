// Checkpoints: the model's spec and every named tensor (parameters and batch-norm running
// statistics) in one binary file, written atomically and checked on load.
//
// Layout (little-endian):
//   "KDTCKPT\0"  magic (8 bytes)
//   u32 version  (1)
//   u64 size     of the whole file, so a truncated file is told from a corrupted one
//   u32 arch, in_c, in_h, in_w, num_classes, num_hidden, hidden[8]
//   u32 count    of tensors, then per tensor:
//     u32 name length, name bytes, u32 ndim, u32 shape[ndim], f32 data[numel]
//   u32 crc32    (zlib) of every byte before it
// A checkpoint is read only as a regular file and never beyond the size the model needs; a tensor
// holding NaN or Inf is refused (a diverged or doctored model would poison every evaluation).
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/fs.h"
#include "model/model_impl.h"

static const char MAGIC[8] = {'K', 'D', 'T', 'C', 'K', 'P', 'T', '\0'};
enum { CKPT_VERSION = 1, HEADER_BYTES = 8 + 4 + 8, SPEC_WORDS = 6 + MODEL_MAX_HIDDEN };
#define CKPT_MIN_LIMIT ((size_t)1 << 29) // what model_load reads at most for a small model

static uint32_t crc_of(const unsigned char *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

static size_t file_bytes(const model *m) {
    size_t n = HEADER_BYTES + 4 * SPEC_WORDS + 4;
    for (int i = 0; i < m->n_named; i++) {
        const named_desc *t = &m->named[i];
        n += 4 + strlen(t->name) + 4 + 4 * (size_t)t->ndim + 4 * t->numel;
    }
    return n + 4;
}

static unsigned char *put(unsigned char *p, const void *v, size_t n) {
    memcpy(p, v, n);
    return p + n;
}
static unsigned char *put_u32(unsigned char *p, uint32_t v) { return put(p, &v, 4); }

static void spec_words(const model_spec *s, uint32_t w[SPEC_WORDS]) {
    w[0] = (uint32_t)s->arch;
    w[1] = (uint32_t)s->in_c;
    w[2] = (uint32_t)s->in_h;
    w[3] = (uint32_t)s->in_w;
    w[4] = (uint32_t)s->num_classes;
    w[5] = (uint32_t)(s->arch == MODEL_MLP ? s->num_hidden : 0);
    for (int i = 0; i < MODEL_MAX_HIDDEN; i++)
        w[6 + i] = (uint32_t)(s->arch == MODEL_MLP && i < s->num_hidden ? s->hidden[i] : 0);
}

kdt_status model_save(const model *m, const char *path) {
    size_t n = file_bytes(m);
    unsigned char *buf = malloc(n), *p = buf;
    if (!buf) return kdt_fail(KDT_ERR_NOMEM, "%s: out of memory writing a checkpoint", path);
    p = put(p, MAGIC, 8);
    p = put_u32(p, CKPT_VERSION);
    uint64_t size = n;
    p = put(p, &size, 8);
    uint32_t w[SPEC_WORDS];
    spec_words(&m->spec, w);
    p = put(p, w, sizeof w);
    p = put_u32(p, (uint32_t)m->n_named);
    for (int i = 0; i < m->n_named; i++) {
        const named_desc *t = &m->named[i];
        uint32_t len = (uint32_t)strlen(t->name);
        p = put_u32(p, len);
        p = put(p, t->name, len);
        p = put_u32(p, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) p = put_u32(p, (uint32_t)t->shape[d]);
        p = put(p, m->params + t->off, 4 * t->numel);
    }
    p = put_u32(p, crc_of(buf, (size_t)(p - buf)));
    kdt_status st = fs_write_atomic(path, buf, n);
    free(buf);
    if (st != KDT_OK) return kdt_fail_context(st, "saving checkpoint");
    return KDT_OK;
}

// A bounds-checked reader over the file's bytes.
typedef struct {
    const unsigned char *p, *end;
} reader;

static bool get(reader *r, void *v, size_t n) {
    if ((size_t)(r->end - r->p) < n) return false;
    memcpy(v, r->p, n);
    r->p += n;
    return true;
}

static void spec_describe(char *out, size_t cap, const model_spec *s) {
    int n = snprintf(out, cap, "%s for %dx%dx%d inputs and %d classes", model_arch_name(s->arch),
                     s->in_c, s->in_h, s->in_w, s->num_classes);
    if (s->arch == MODEL_MLP && n > 0 && (size_t)n < cap) {
        n += snprintf(out + n, cap - (size_t)n, ", hidden");
        for (int i = 0; i < s->num_hidden && n > 0 && (size_t)n < cap; i++)
            n += snprintf(out + n, cap - (size_t)n, " %d", s->hidden[i]);
    }
}

// Checks the envelope (magic, version, size, CRC) and reads the spec; r is left at the tensors.
static kdt_status check_file(const char *path, const unsigned char *data, size_t len,
                             model_spec *spec, reader *r) {
    if (len < 8 || memcmp(data, MAGIC, 8) != 0) {
        if (len < 8 && memcmp(data, MAGIC, len) == 0)
            return kdt_fail(KDT_ERR_FORMAT, "%s: truncated checkpoint (%zu bytes, not even a "
                            "header); re-create it", path, len);
        return kdt_fail(KDT_ERR_FORMAT, "%s: not a kdtune checkpoint (bad magic number)", path);
    }
    if (len < HEADER_BYTES)
        return kdt_fail(KDT_ERR_FORMAT, "%s: truncated checkpoint (%zu bytes, the header alone "
                        "has %d); re-create it", path, len, HEADER_BYTES);
    uint32_t version;
    uint64_t size;
    memcpy(&version, data + 8, 4);
    memcpy(&size, data + 12, 8);
    if (version != CKPT_VERSION)
        return kdt_fail(KDT_ERR_FORMAT, "%s: checkpoint version %" PRIu32 " is not supported "
                        "(this kdtune reads version %d)", path, version, CKPT_VERSION);
    if (size > len)
        return kdt_fail(KDT_ERR_FORMAT, "%s: truncated checkpoint: %zu bytes of %" PRIu64
                        "; the file was cut short (an interrupted copy?); re-create it", path, len,
                        size);
    if (size < len)
        return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: %zu bytes where the header "
                        "says %" PRIu64, path, len, size);
    uint32_t stored, computed = crc_of(data, len - 4);
    memcpy(&stored, data + len - 4, 4);
    if (stored != computed)
        return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: CRC32 mismatch (stored %08" PRIx32
                        ", computed %08" PRIx32 "); the file was damaged after it was written",
                        path, stored, computed);
    r->p = data + HEADER_BYTES;
    r->end = data + len - 4;
    uint32_t w[SPEC_WORDS];
    if (!get(r, w, sizeof w))
        return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: no room for the spec", path);
    memset(spec, 0, sizeof *spec);
    spec->arch = (model_arch)w[0];
    spec->in_c = (int)w[1];
    spec->in_h = (int)w[2];
    spec->in_w = (int)w[3];
    spec->num_classes = (int)w[4];
    spec->num_hidden = (int)w[5];
    for (int i = 0; i < MODEL_MAX_HIDDEN; i++) spec->hidden[i] = (int)w[6 + i];
    if (w[0] >= MODEL_ARCH_COUNT || w[5] > MODEL_MAX_HIDDEN)
        return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: invalid model spec "
                        "(architecture %" PRIu32 ", %" PRIu32 " hidden layers)", path, w[0], w[5]);
    if (model_spec_validate(spec) != KDT_OK) {
        char why[512]; // the message is rebuilt around the validation's own
        snprintf(why, sizeof why, "%s", kdt_errmsg());
        return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: invalid model spec (%s)", path,
                        why);
    }
    return KDT_OK;
}

kdt_status model_load_spec(const char *path, model_spec *spec) {
    char *data;
    size_t len;
    kdt_status st = fs_read_all(path, &data, &len);
    if (st != KDT_OK) return kdt_fail_context(st, "loading checkpoint");
    reader r;
    st = check_file(path, (const unsigned char *)data, len, spec, &r);
    free(data);
    return st;
}

// Walks the tensor table; with copy false it only checks names and shapes against m.
static kdt_status read_tensors(model *m, reader r, const char *path, bool copy) {
    uint32_t count;
    if (!get(&r, &count, 4))
        return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: no tensor count", path);
    if (count != (uint32_t)m->n_named)
        return kdt_fail(KDT_ERR_FORMAT, "%s: checkpoint has %" PRIu32 " tensors, the model %d",
                        path, count, m->n_named);
    for (int i = 0; i < m->n_named; i++) {
        const named_desc *t = &m->named[i];
        uint32_t len, ndim, shape[4];
        char name[64];
        if (!get(&r, &len, 4) || len >= sizeof name || !get(&r, name, len))
            return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: bad name of tensor %d",
                            path, i);
        name[len] = '\0';
        if (strcmp(name, t->name) != 0)
            return kdt_fail(KDT_ERR_FORMAT, "%s: tensor %d is '%s' where the model has '%s'",
                            path, i, name, t->name);
        if (!get(&r, &ndim, 4) || ndim != (uint32_t)t->ndim || !get(&r, shape, 4 * ndim))
            return kdt_fail(KDT_ERR_FORMAT, "%s: tensor '%s' has a wrong number of dimensions",
                            path, name);
        for (uint32_t d = 0; d < ndim; d++)
            if (shape[d] != (uint32_t)t->shape[d])
                return kdt_fail(KDT_ERR_FORMAT, "%s: tensor '%s' has dimension %" PRIu32 " of "
                                "size %" PRIu32 " where the model has %d", path, name, d,
                                shape[d], t->shape[d]);
        size_t bytes = 4 * t->numel;
        if ((size_t)(r.end - r.p) < bytes)
            return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: data of '%s' runs past "
                            "the end", path, name);
        if (copy) {
            memcpy(m->params + t->off, r.p, bytes);
        } else {
            for (size_t k = 0; k < t->numel; k++) {
                float v;
                memcpy(&v, r.p + 4 * k, 4);
                if (!isfinite(v))
                    return kdt_fail(KDT_ERR_FORMAT, "%s: tensor '%s' holds a non-finite value (%s at "
                                    "element %zu): the model diverged or the file was altered; "
                                    "re-create it (remove it and run `kdtune pretrain`)", path,
                                    name, isnan(v) ? "NaN" : "Inf", k);
            }
        }
        r.p += bytes;
    }
    if (r.p != r.end)
        return kdt_fail(KDT_ERR_FORMAT, "%s: corrupted checkpoint: %zu unexpected bytes after "
                        "the tensors", path, (size_t)(r.end - r.p));
    return KDT_OK;
}

kdt_status model_load(model *m, const char *path) {
    char *data;
    size_t len;
    // The model's own checkpoint has exactly file_bytes(m). Room is left for another model's
    // checkpoint (to say "architecture mismatch"), but a huge file is refused unread.
    size_t need = file_bytes(m), limit = need > CKPT_MIN_LIMIT / 2 ? 2 * need : CKPT_MIN_LIMIT;
    kdt_status st = fs_read_all_limited(path, limit, &data, &len);
    if (st != KDT_OK) return kdt_fail_context(st, "loading checkpoint");
    model_spec spec;
    reader r;
    st = check_file(path, (const unsigned char *)data, len, &spec, &r);
    if (st == KDT_OK) {
        model_spec want;
        uint32_t a[SPEC_WORDS], b[SPEC_WORDS];
        spec_words(&spec, a);
        spec_words(&m->spec, b);
        if (memcmp(a, b, sizeof a) != 0) {
            char got[160], have[160];
            spec_describe(got, sizeof got, &spec);
            want = m->spec;
            spec_describe(have, sizeof have, &want);
            st = kdt_fail(KDT_ERR_FORMAT, "%s: architecture mismatch: the checkpoint holds %s, "
                          "the model is %s", path, got, have);
        }
    }
    if (st == KDT_OK) st = read_tensors(m, r, path, false); // all checks before any change
    if (st == KDT_OK) st = read_tensors(m, r, path, true);
    free(data);
    return st;
}
