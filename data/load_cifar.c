// CIFAR-10 and CIFAR-100 binary readers. The files have no header, so what can be checked is the
// size (a whole number of records, at most the official count) and every label's range.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "data/loaders.h"

enum { CIFAR_PIXELS = 3 * 32 * 32 };

typedef struct {
    const char *name;       // "cifar10"
    const char *subdir;     // the folder inside the official archive
    const char *archive;    // what to download when files are missing or bad
    int label_bytes;        // 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine)
    int label_byte;         // which of them is the label used
    int classes;
    int records_per_file;   // the official count, an upper bound
} cifar_format;

void raw_images_free(raw_images *r) {
    free(r->x);
    free(r->y);
    memset(r, 0, sizeof *r);
}

// Present: anything by that name (a FIFO or device too, which the reader then refuses by name
// rather than treating the file as missing).
static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

// dir, or dir/subdir when the files are there instead (the archive extracted in place).
static const char *cifar_resolve_dir(char *buf, size_t cap, const char *dir, const cifar_format *f,
                                     const char *probe1, const char *probe2) {
    char p[4096];
    if (fs_join(p, sizeof p, dir, probe1) == KDT_OK && is_file(p)) return dir;
    if (fs_join(p, sizeof p, dir, probe2) == KDT_OK && is_file(p)) return dir;
    if (fs_join(buf, cap, dir, f->subdir) != KDT_OK) return dir;
    return buf;
}

// Appends the records of one file to out (whose arrays hold room for `cap` images).
static kdt_status cifar_read_file(const char *path, const cifar_format *f, raw_images *out,
                                  int cap) {
    const long rec = f->label_bytes + CIFAR_PIXELS;
    // A regular file only: a FIFO would block, /dev/zero never end.
    int fd;
    if (fs_open_regular(path, 0, &fd) != KDT_OK)
        return kdt_fail(KDT_ERR_IO, "%s; set data.path to the folder of %s", kdt_errmsg(), f->archive);
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return kdt_fail(KDT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        fclose(fp);
        return kdt_fail(KDT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    long long size = st.st_size;
    long long whole = size / rec, left = size % rec;
    kdt_status s = KDT_OK;
    if (size == 0)
        s = kdt_fail(KDT_ERR_FORMAT, "%s: empty file; re-extract it from %s", path, f->archive);
    else if (whole > f->records_per_file)
        s = kdt_fail(KDT_ERR_FORMAT,
                     "%s: oversized: %lld bytes, more than the %d records of %ld bytes a %s file "
                     "holds; is it the right dataset? re-extract it from %s",
                     path, size, f->records_per_file, rec, f->name, f->archive);
    else if (left != 0)
        s = kdt_fail(KDT_ERR_FORMAT,
                     "%s: truncated: %lld bytes is %lld whole records of %ld bytes and %lld bytes "
                     "of an incomplete one; re-extract it from %s",
                     path, size, whole, rec, left, f->archive);
    else if (out->n + whole > cap)
        s = kdt_fail(KDT_ERR_FORMAT, "%s: more records than the split can hold", path);
    if (s != KDT_OK) {
        fclose(fp);
        return s;
    }
    if (whole != f->records_per_file)
        log_warn("%s: %lld records where the official file has %d", path, whole,
                 f->records_per_file);
    unsigned char *buf = malloc((size_t)rec);
    if (!buf) {
        fclose(fp);
        return kdt_fail(KDT_ERR_NOMEM, "%s: out of memory", path);
    }
    for (long long r = 0; r < whole && s == KDT_OK; r++) {
        if (fread(buf, 1, (size_t)rec, fp) != (size_t)rec) {
            s = kdt_fail(KDT_ERR_IO, "%s: read error at record %lld", path, r);
            break;
        }
        // Every label byte is checked, the unused one too (CIFAR-100: coarse < 20, fine < 100).
        for (int b = 0; b < f->label_bytes; b++) {
            int max = f->label_bytes == 1 ? 10 : (b == 0 ? 20 : 100);
            const char *what = f->label_bytes == 1 ? "label" : (b == 0 ? "coarse label" : "fine label");
            if (buf[b] >= max) {
                s = kdt_fail(KDT_ERR_FORMAT,
                             "%s: bad label: record %lld has %s %d, %s %ss are 0..%d; is it the "
                             "right dataset? re-extract it from %s",
                             path, r, what, buf[b], f->name, what, max - 1, f->archive);
                break;
            }
        }
        if (s != KDT_OK) break;
        int label = buf[f->label_byte];
        out->y[out->n] = label;
        memcpy(out->x + (size_t)out->n * CIFAR_PIXELS, buf + f->label_bytes, CIFAR_PIXELS);
        out->n++;
    }
    free(buf);
    fclose(fp);
    return s;
}

// Reads the files of one split; all absent gives an empty split, some absent an error.
static kdt_status cifar_read_split(const char *dir, const cifar_format *f, const char *const *files,
                                   int nfiles, raw_images *out) {
    memset(out, 0, sizeof *out);
    char paths[8][4096];
    int present = 0, first_missing = -1, first_present = -1;
    for (int i = 0; i < nfiles; i++) {
        kdt_status s = fs_join(paths[i], sizeof paths[i], dir, files[i]);
        if (s != KDT_OK) return s;
        if (is_file(paths[i])) {
            present++;
            if (first_present < 0) first_present = i;
        } else if (first_missing < 0) {
            first_missing = i;
        }
    }
    if (present == 0) return KDT_OK;
    if (present < nfiles)
        return kdt_fail(KDT_ERR_IO, "%s: missing while %s is present: the %s split is incomplete; "
                        "re-extract %s", paths[first_missing], paths[first_present], f->name,
                        f->archive);
    // Room for the records the files hold (at most the official count each), not for the
    // official count: a short file costs what it holds. cifar_read_file checks again on the open file.
    int cap = 0;
    const long rec = f->label_bytes + CIFAR_PIXELS;
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        long long whole = stat(paths[i], &st) == 0 && S_ISREG(st.st_mode) ? st.st_size / rec : 0;
        cap += (int)(whole < f->records_per_file ? whole : f->records_per_file);
    }
    if (cap < 1) cap = 1;
    out->x = malloc((size_t)cap * CIFAR_PIXELS);
    out->y = malloc((size_t)cap * sizeof *out->y);
    if (!out->x || !out->y) {
        raw_images_free(out);
        return kdt_fail(KDT_ERR_NOMEM, "%s: out of memory for %d images", dir, cap);
    }
    out->c = 3;
    out->h = out->w = 32;
    out->classes = f->classes;
    for (int i = 0; i < nfiles; i++) {
        kdt_status s = cifar_read_file(paths[i], f, out, cap);
        if (s != KDT_OK) {
            raw_images_free(out);
            return s;
        }
    }
    return KDT_OK;
}

kdt_status data_load_cifar10(const char *dir, bool train, raw_images *out) {
    static const cifar_format f = {"cifar10", "cifar-10-batches-bin",
                                   "cifar-10-binary.tar.gz (https://www.cs.toronto.edu/~kriz/)",
                                   1, 0, 10, 10000};
    static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin",
                                              "data_batch_3.bin", "data_batch_4.bin",
                                              "data_batch_5.bin"};
    static const char *const test_files[] = {"test_batch.bin"};
    char buf[4096];
    const char *d = cifar_resolve_dir(buf, sizeof buf, dir, &f, train_files[0], test_files[0]);
    return train ? cifar_read_split(d, &f, train_files, 5, out)
                 : cifar_read_split(d, &f, test_files, 1, out);
}

kdt_status data_load_cifar100(const char *dir, bool train, bool coarse, raw_images *out) {
    static const cifar_format fine = {"cifar100", "cifar-100-binary",
                                      "cifar-100-binary.tar.gz (https://www.cs.toronto.edu/~kriz/)",
                                      2, 1, 100, 50000};
    cifar_format f = fine;
    if (coarse) {
        f.label_byte = 0;
        f.classes = 20;
        f.name = "cifar100 (coarse)";
    }
    if (!train) f.records_per_file = 10000;
    static const char *const train_files[] = {"train.bin"};
    static const char *const test_files[] = {"test.bin"};
    char buf[4096];
    const char *d = cifar_resolve_dir(buf, sizeof buf, dir, &f, train_files[0], test_files[0]);
    return cifar_read_split(d, &f, train ? train_files : test_files, 1, out);
}
