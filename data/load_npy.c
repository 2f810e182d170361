// NumPy .npy reader (format versions 1.0, 2.0 and 3.0). A file is the magic "\x93NUMPY", a
// version (major, minor), the header length (u16 in 1.0, u32 in 2.0 and 3.0, little-endian), then
// the header: a Python dict literal {'descr': '<i8', 'fortran_order': False, 'shape': (N,), }
// padded with spaces and ended by '\n', then the raw array in C order. Everything is untrusted:
// the dict is parsed strictly, sizes are checked for overflow and against the file's size before
// any allocation, and every label is range-checked.
#include "data/load_npy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"

static const char NPY_MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
static const char NPY_HINT[] = "write it with numpy.save (see examples/torchvision_to_npy.py)";

static bool present(const char *p) { return p && p[0]; }

// ---- the header ---------------------------------------------------------------------------------

typedef struct {
    const char *p, *end, *path;
} npy_lexer;

static void lex_space(npy_lexer *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t')) l->p++;
}

static kdt_status lex_fail(const npy_lexer *l, const char *head, const char *what) {
    return kdt_fail(KDT_ERR_FORMAT, "%s: bad header: %s at column %d of the header dict; "
                    "it is not a .npy file numpy wrote, or it was edited; %s",
                    l->path, what, (int)(l->p - head) + 1, NPY_HINT);
}

// A quoted Python string without escapes (all that .npy headers hold) into out.
static bool lex_string(npy_lexer *l, char *out, size_t cap) {
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return false;
    char q = *l->p++;
    size_t n = 0;
    while (l->p < l->end && *l->p != q) {
        if (*l->p == '\\' || n + 1 >= cap) return false;
        out[n++] = *l->p++;
    }
    if (l->p >= l->end) return false;
    l->p++;
    out[n] = '\0';
    return true;
}

static bool lex_word(npy_lexer *l, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0) return false;
    l->p += n;
    return true;
}

// (d0, d1, ...) with an optional trailing comma; Python 2's "3L" is accepted.
static kdt_status lex_shape(npy_lexer *l, const char *head, npy_header *h) {
    if (l->p >= l->end || *l->p != '(') return lex_fail(l, head, "'shape' is not a tuple");
    l->p++;
    h->ndim = 0;
    for (;;) {
        lex_space(l);
        if (l->p < l->end && *l->p == ')') break;
        if (l->p >= l->end || *l->p < '0' || *l->p > '9')
            return lex_fail(l, head, "'shape' holds something other than non-negative integers");
        long long v = 0;
        while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
            v = v * 10 + (*l->p++ - '0');
            if (v > (1LL << 40)) return lex_fail(l, head, "a dimension of 'shape' is absurdly large");
        }
        if (l->p < l->end && *l->p == 'L') l->p++;
        if (h->ndim == 4)
            return kdt_fail(KDT_ERR_FORMAT, "%s: more than 4 dimensions: images are (N, H, W) or "
                            "(N, H, W, C), labels (N,)", l->path);
        h->shape[h->ndim++] = v;
        lex_space(l);
        if (l->p < l->end && *l->p == ',') {
            l->p++;
            continue;
        }
        if (l->p < l->end && *l->p == ')') break;
        return lex_fail(l, head, "'shape' is not a tuple of integers");
    }
    l->p++;
    if (h->ndim == 0)
        return kdt_fail(KDT_ERR_FORMAT, "%s: shape () is a scalar, not an array of images or "
                        "labels", l->path);
    return KDT_OK;
}

// descr of an integer: '|u1', '<i4', ...; sets item_size. A big-endian or non-integer dtype is
// refused with the conversion that fixes it.
static kdt_status check_descr(const char *path, npy_header *h) {
    const char *d = h->descr;
    char order = d[0];
    if (order == '<' || order == '|' || order == '>' || order == '=') d++;
    else order = '|';
    bool kind = (d[0] == 'u' || d[0] == 'i');
    int size = (d[0] && d[1] >= '1' && d[1] <= '8' && d[2] == '\0') ? d[1] - '0' : 0;
    if (!kind || (size != 1 && size != 2 && size != 4 && size != 8))
        return kdt_fail(KDT_ERR_FORMAT, "%s: dtype '%s' is not an integer dtype this reader knows "
                        "(u1, i1, u2, i2, u4, i4, u8, i8); convert it with arr.astype(np.uint8) for "
                        "images (0..255) or arr.astype(np.int64) for labels", path, h->descr);
    if (size > 1 && order != '<')
        return kdt_fail(KDT_ERR_FORMAT, "%s: dtype '%s' is not little-endian; convert it with "
                        "arr.astype('<%c%d')", path, h->descr, d[0], size);
    h->item_size = size;
    return KDT_OK;
}

static kdt_status parse_dict(const char *path, const char *head, size_t len, npy_header *h) {
    npy_lexer l = {head, head + len, path};
    bool seen_descr = false, seen_order = false, seen_shape = false;
    kdt_status s;
    lex_space(&l);
    if (l.p >= l.end || *l.p != '{') return lex_fail(&l, head, "no '{'");
    l.p++;
    for (;;) {
        lex_space(&l);
        if (l.p < l.end && *l.p == '}') break;
        char key[32];
        if (!lex_string(&l, key, sizeof key)) return lex_fail(&l, head, "expected a quoted key");
        lex_space(&l);
        if (l.p >= l.end || *l.p != ':') return lex_fail(&l, head, "expected ':' after a key");
        l.p++;
        lex_space(&l);
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            if (!lex_string(&l, h->descr, sizeof h->descr))
                return kdt_fail(KDT_ERR_FORMAT, "%s: 'descr' is not a simple dtype string (a "
                                "structured or object array?); save a plain integer array", path);
            seen_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            if (lex_word(&l, "True"))
                return kdt_fail(KDT_ERR_FORMAT, "%s: fortran_order is True (column-major data); "
                                "save np.ascontiguousarray(arr) instead", path);
            if (!lex_word(&l, "False"))
                return lex_fail(&l, head, "'fortran_order' is neither True nor False");
            seen_order = true;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            if ((s = lex_shape(&l, head, h))) return s;
            seen_shape = true;
        } else {
            char what[96];
            bool dup = !strcmp(key, "descr") || !strcmp(key, "fortran_order") || !strcmp(key, "shape");
            snprintf(what, sizeof what, "%s key '%s'", dup ? "repeated" : "unknown", key);
            return lex_fail(&l, head, what);
        }
        lex_space(&l);
        if (l.p < l.end && *l.p == ',') {
            l.p++;
            continue;
        }
        if (l.p < l.end && *l.p == '}') break;
        return lex_fail(&l, head, "expected ',' or '}'");
    }
    l.p++;
    while (l.p < l.end && *l.p == ' ') l.p++;
    if (l.end - l.p != 1 || *l.p != '\n') return lex_fail(&l, head, "text after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return kdt_fail(KDT_ERR_FORMAT, "%s: bad header: no '%s' key; %s", path,
                        !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape", NPY_HINT);
    return check_descr(path, h);
}

// Opens path, reads and checks its header and checks that the data fills the rest of the file
// exactly. *fp is left at the data.
static kdt_status npy_open(const char *path, FILE **fp, npy_header *h) {
    memset(h, 0, sizeof *h);
    *fp = fopen(path, "rb");
    if (!*fp) return kdt_fail(KDT_ERR_IO, "%s: cannot open: %s; check the data.npy.* paths", path,
                              strerror(errno));
    struct stat st;
    if (fstat(fileno(*fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(*fp);
        *fp = NULL;
        return kdt_fail(KDT_ERR_IO, "%s: not a regular file", path);
    }
    long long size = st.st_size;
    unsigned char pre[12];
    size_t got = fread(pre, 1, sizeof pre, *fp);
    kdt_status s = KDT_OK;
    long long hlen = 0, off = 0;
    if (got < 8 || memcmp(pre, NPY_MAGIC, 6) != 0) {
        if (got >= 6 && memcmp(pre, "PK", 2) == 0)
            s = kdt_fail(KDT_ERR_FORMAT, "%s: a zip archive (an .npz?), not an .npy file; save each "
                         "array with numpy.save", path);
        else if (got == 0)
            s = kdt_fail(KDT_ERR_FORMAT, "%s: empty file; %s", path, NPY_HINT);
        else if (got < 8 && memcmp(pre, NPY_MAGIC, got < 6 ? got : 6) == 0)
            s = kdt_fail(KDT_ERR_FORMAT, "%s: truncated: %lld bytes, not even the magic and "
                         "version; %s", path, size, NPY_HINT);
        else
            s = kdt_fail(KDT_ERR_FORMAT, "%s: bad magic: not a NumPy .npy file (it must start "
                         "with \\x93NUMPY); %s", path, NPY_HINT);
    } else if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
        s = kdt_fail(KDT_ERR_FORMAT, "%s: .npy format version %d.%d is not supported (1.0, 2.0 "
                     "and 3.0 are); %s", path, pre[6], pre[7], NPY_HINT);
    } else {
        int lbytes = pre[6] == 1 ? 2 : 4;
        if (got < (size_t)(8 + lbytes)) {
            s = kdt_fail(KDT_ERR_FORMAT, "%s: truncated: the file ends inside the header length",
                         path);
        } else {
            hlen = pre[8] | (long long)pre[9] << 8;
            if (lbytes == 4) hlen |= (long long)pre[10] << 16 | (long long)pre[11] << 24;
            off = 8 + lbytes + hlen;
            if (hlen < 2 || hlen > NPY_MAX_HEADER)
                s = kdt_fail(KDT_ERR_FORMAT, "%s: bad header: a header of %lld bytes (a plain "
                             "array's header is under 200, at most %d are read); %s", path, hlen,
                             NPY_MAX_HEADER, NPY_HINT);
            else if (off > size)
                s = kdt_fail(KDT_ERR_FORMAT, "%s: truncated: the file ends inside its %lld-byte "
                             "header; %s", path, hlen, NPY_HINT);
        }
    }
    char *head = NULL;
    if (!s) {
        head = malloc((size_t)hlen);
        if (!head) s = kdt_fail(KDT_ERR_NOMEM, "%s: out of memory for the header", path);
    }
    if (!s && (fseek(*fp, off - hlen, SEEK_SET) != 0 || fread(head, 1, (size_t)hlen, *fp) != (size_t)hlen))
        s = kdt_fail(KDT_ERR_IO, "%s: cannot read the header: %s", path, strerror(errno));
    if (!s) s = parse_dict(path, head, (size_t)hlen, h);
    free(head);
    long long numel = 1, bytes = 0;
    for (int d = 0; !s && d < h->ndim; d++)
        if (__builtin_mul_overflow(numel, h->shape[d], &numel))
            s = kdt_fail(KDT_ERR_FORMAT, "%s: shape overflows: the header is damaged", path);
    if (!s && __builtin_mul_overflow(numel, (long long)h->item_size, &bytes))
        s = kdt_fail(KDT_ERR_FORMAT, "%s: shape overflows: the header is damaged", path);
    if (!s && off + bytes > size)
        s = kdt_fail(KDT_ERR_FORMAT, "%s: truncated: the header declares %lld bytes of data, the "
                     "file holds only %lld; copy it again or re-save it", path, bytes, size - off);
    else if (!s && off + bytes < size)
        s = kdt_fail(KDT_ERR_FORMAT, "%s: oversized: %lld bytes follow the %lld bytes of data the "
                     "header declares (several arrays in one file?); save one array per file",
                     path, size - off - bytes, bytes);
    if (s) {
        fclose(*fp);
        *fp = NULL;
        return s;
    }
    h->data_offset = off;
    return KDT_OK;
}

kdt_status data_npy_read_header(const char *path, npy_header *out) {
    FILE *fp;
    kdt_status s = npy_open(path, &fp, out);
    if (fp) fclose(fp);
    return s;
}

// ---- images and labels --------------------------------------------------------------------------

// The image shape (c, h, w) of an images header, checked.
static kdt_status image_shape(const char *path, const npy_header *h, int *c, int *hh, int *w) {
    if (strcmp(h->descr + (h->descr[0] && strchr("<|>=", h->descr[0]) != NULL), "u1") != 0)
        return kdt_fail(KDT_ERR_FORMAT, "%s: images have dtype '%s'; kdtune reads uint8 images "
                        "(0..255): save (x * 255).round().astype(np.uint8) for floats in [0, 1]",
                        path, h->descr);
    if (h->ndim != 3 && h->ndim != 4)
        return kdt_fail(KDT_ERR_FORMAT, "%s: images have %d dimensions; expected (N, H, W) or "
                        "(N, H, W, C)", path, h->ndim);
    long long n = h->shape[0], hs = h->shape[1], ws = h->shape[2], cs = h->ndim == 4 ? h->shape[3] : 1;
    if (h->ndim == 4 && (cs < 1 || cs > DATA_MAX_CHANNELS)) {
        if (hs >= 1 && hs <= DATA_MAX_CHANNELS)
            return kdt_fail(KDT_ERR_FORMAT, "%s: shape (%lld, %lld, %lld, %lld) looks channel-first "
                            "(N, C, H, W); kdtune reads (N, H, W, C): save x.transpose(0, 2, 3, 1)",
                            path, n, hs, ws, cs);
        return kdt_fail(KDT_ERR_FORMAT, "%s: %lld channels; kdtune reads 1 to %d", path, cs,
                        DATA_MAX_CHANNELS);
    }
    if (n < 1 || n > NPY_MAX_COUNT)
        return kdt_fail(KDT_ERR_FORMAT, "%s: %lld images; expected 1 to %d", path, n, NPY_MAX_COUNT);
    if (hs < 1 || hs > NPY_MAX_SIDE || ws < 1 || ws > NPY_MAX_SIDE)
        return kdt_fail(KDT_ERR_FORMAT, "%s: images of %lldx%lld; each side must be 1 to %d", path,
                        hs, ws, NPY_MAX_SIDE);
    *c = (int)cs, *hh = (int)hs, *w = (int)ws;
    return KDT_OK;
}

static kdt_status read_images(const char *path, raw_images *out) {
    FILE *fp;
    npy_header h;
    kdt_status s = npy_open(path, &fp, &h);
    if (s) return s;
    int c, hh, w;
    if ((s = image_shape(path, &h, &c, &hh, &w))) {
        fclose(fp);
        return s;
    }
    int n = (int)h.shape[0];
    size_t e = (size_t)c * hh * w, bytes = (size_t)n * e;
    out->x = malloc(bytes);
    uint8_t *tmp = c > 1 ? malloc(e) : NULL;
    if (!out->x || (c > 1 && !tmp)) s = kdt_fail(KDT_ERR_NOMEM, "%s: out of memory for %d images "
                                                 "of %dx%dx%d", path, n, c, hh, w);
    if (!s && c == 1 && fread(out->x, 1, bytes, fp) != bytes)
        s = kdt_fail(KDT_ERR_IO, "%s: read error: %s", path, strerror(errno));
    for (int i = 0; !s && c > 1 && i < n; i++) {
        // (H, W, C) on file, (C, H, W) in memory, as the other loaders produce
        if (fread(tmp, 1, e, fp) != e) {
            s = kdt_fail(KDT_ERR_IO, "%s: read error at image %d: %s", path, i, strerror(errno));
            break;
        }
        uint8_t *dst = out->x + (size_t)i * e;
        for (int ch = 0; ch < c; ch++)
            for (size_t p = 0; p < (size_t)hh * w; p++) dst[(size_t)ch * hh * w + p] = tmp[p * c + ch];
    }
    free(tmp);
    fclose(fp);
    if (!s) out->n = n, out->c = c, out->h = hh, out->w = w;
    return s;
}

// Every label of a labels file as int64 (a u8 above INT64_MAX becomes -1: out of any range),
// with *n its count; expect_n >= 0 demands that count.
static kdt_status read_labels(const char *path, long long expect_n, const char *images,
                              int64_t **vals, long long *n) {
    *vals = NULL;
    FILE *fp;
    npy_header h;
    kdt_status s = npy_open(path, &fp, &h);
    if (s) return s;
    if (h.ndim != 1) {
        bool column = h.ndim == 2 && h.shape[1] == 1;
        s = kdt_fail(KDT_ERR_FORMAT, "%s: labels have %d dimensions; expected (N,)%s", path, h.ndim,
                     column ? ": save y.reshape(-1)" : "");
    } else if (h.shape[0] < 1 || h.shape[0] > NPY_MAX_COUNT) {
        s = kdt_fail(KDT_ERR_FORMAT, "%s: %lld labels; expected 1 to %d", path, h.shape[0],
                     NPY_MAX_COUNT);
    } else if (expect_n >= 0 && h.shape[0] != expect_n) {
        s = kdt_fail(KDT_ERR_FORMAT, "%s: %lld labels for the %lld images of %s: the files are "
                     "not a pair; check the data.npy.* paths", path, h.shape[0], expect_n, images);
    }
    size_t count = s ? 0 : (size_t)h.shape[0], isz = (size_t)h.item_size;
    unsigned char *raw = s ? NULL : malloc(count * isz);
    if (!s) *vals = malloc(count * sizeof **vals);
    if (!s && (!raw || !*vals)) s = kdt_fail(KDT_ERR_NOMEM, "%s: out of memory", path);
    if (!s && fread(raw, isz, count, fp) != count)
        s = kdt_fail(KDT_ERR_IO, "%s: read error: %s", path, strerror(errno));
    bool is_signed = strchr(h.descr, 'i') != NULL;
    for (size_t i = 0; !s && i < count; i++) {
        const unsigned char *b = raw + i * isz;
        uint64_t u = 0;
        for (size_t k = 0; k < isz; k++) u |= (uint64_t)b[k] << (8 * k); // little-endian
        int64_t v;
        if (is_signed && isz < 8 && (u >> (8 * isz - 1)) & 1) v = (int64_t)(u | ~0ULL << (8 * isz));
        else if (!is_signed && u > INT64_MAX) v = -1;
        else v = (int64_t)u;
        (*vals)[i] = v;
    }
    free(raw);
    fclose(fp);
    if (s) {
        free(*vals);
        *vals = NULL;
        return s;
    }
    *n = (long long)count;
    return KDT_OK;
}

// The largest label of a labels file (for classes = 0).
static kdt_status max_label(const char *path, int64_t *mx) {
    int64_t *v;
    long long n;
    kdt_status s = read_labels(path, -1, NULL, &v, &n);
    if (s) return s;
    for (long long i = 0; i < n; i++)
        if (v[i] > *mx) *mx = v[i];
    free(v);
    return KDT_OK;
}

kdt_status data_load_npy(const data_npy_files *f, bool train, raw_images *out) {
    memset(out, 0, sizeof *out);
    const char *ip = train ? f->train_images : f->test_images;
    const char *lp = train ? f->train_labels : f->test_labels;
    const char *oi = train ? f->test_images : f->train_images; // the other split
    const char *ol = train ? f->test_labels : f->train_labels;
    const char *split = train ? "train" : "test";
    if (!present(ip) && !present(lp)) return KDT_OK;
    if (!present(ip) || !present(lp))
        return kdt_fail(KDT_ERR_IO, "data.npy.%s_%s is set (%s) but data.npy.%s_%s is not; a split "
                        "needs both its images and its labels", split, present(ip) ? "images" : "labels",
                        present(ip) ? ip : lp, split, present(ip) ? "labels" : "images");
    if (f->classes < 0 || f->classes > NPY_MAX_CLASSES)
        return kdt_fail(KDT_ERR_CONFIG, "data.npy.classes = %d; expected 0 (from the labels) to %d",
                        f->classes, NPY_MAX_CLASSES);
    kdt_status s = read_images(ip, out);
    // The other split, when present, must hold images of the same shape.
    if (!s && present(oi)) {
        npy_header oh;
        int c, h, w;
        s = data_npy_read_header(oi, &oh);
        if (!s) s = image_shape(oi, &oh, &c, &h, &w);
        if (!s && (c != out->c || h != out->h || w != out->w))
            s = kdt_fail(KDT_ERR_FORMAT, "%s holds %dx%dx%d images (CxHxW) and %s %dx%dx%d; the "
                         "train and test splits must have the same image shape", ip, out->c,
                         out->h, out->w, oi, c, h, w);
    }
    int64_t *v = NULL;
    long long n = 0;
    if (!s) s = read_labels(lp, out->n, ip, &v, &n);
    int64_t classes = f->classes, mx = -1;
    if (!s && classes == 0) {
        for (long long i = 0; i < n; i++)
            if (v[i] > mx) mx = v[i];
        if (present(ol)) s = max_label(ol, &mx);
        classes = mx + 1;
        if (!s && (classes < 2 || classes > NPY_MAX_CLASSES))
            s = kdt_fail(KDT_ERR_FORMAT, "%s: the largest label is %" PRId64 ", so %" PRId64
                         " classes; expected 2 to %d (set data.npy.classes to say how many)", lp,
                         mx, classes, NPY_MAX_CLASSES);
    }
    if (!s) out->y = malloc((size_t)n * sizeof *out->y);
    if (!s && !out->y) s = kdt_fail(KDT_ERR_NOMEM, "%s: out of memory", lp);
    for (long long i = 0; !s && i < n; i++) {
        if (v[i] < 0 || v[i] >= classes)
            s = kdt_fail(KDT_ERR_FORMAT, "%s: bad label: label %lld of %lld is %" PRId64 ", outside "
                         "0..%" PRId64 " (%" PRId64 " classes%s); relabel the classes 0..K-1",
                         lp, i, n, v[i], classes - 1, classes,
                         f->classes ? ", data.npy.classes" : "");
        else
            out->y[i] = (int)v[i];
    }
    free(v);
    if (s) {
        raw_images_free(out);
        return s;
    }
    out->classes = (int)classes;
    return KDT_OK;
}
