// The journal file: reading every line (with damaged-tail detection), cutting a damaged tail and
// appending a line durably.
#include "app/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"

kdt_status journal_foreach(const char *path, journal_fn fn, void *user,
                                 journal_info *info) {
    char *data = NULL;
    size_t len = 0;
    journal_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (!fs_exists(path)) return KDT_OK;
    kdt_status st = fs_read_all(path, &data, &len);
    if (st) return st;
    info->size = info->damaged_at = len;
    info->unterminated = len > 0 && data[len - 1] != '\n';
    size_t pos = 0, lineno = 0;
    while (pos < len && st == KDT_OK) {
        char *end = memchr(data + pos, '\n', len - pos);
        size_t n = end ? (size_t)(end - (data + pos)) : len - pos, next = pos + n + (end ? 1 : 0);
        lineno++;
        size_t k = 0;
        while (k < n && (data[pos + k] == ' ' || data[pos + k] == '\t' || data[pos + k] == '\r')) k++;
        if (k == n) { // blank line
            pos = next;
            continue;
        }
        json_error_t err;
        json_t *obj = json_loadb(data + pos, n, 0, &err);
        if (!json_is_object(obj)) {
            // The last non-blank line? Then it is a write cut short by a crash.
            size_t rest = next;
            while (rest < len && (data[rest] == '\n' || data[rest] == ' ' || data[rest] == '\t' ||
                                  data[rest] == '\r'))
                rest++;
            json_decref(obj);
            if (rest == len) {
                log_warn("%s:%zu: damaged last line (an interrupted write?): ignored, earlier lines "
                         "are kept", path, lineno);
                info->damaged_at = pos;
                break;
            }
            st = kdt_fail(KDT_ERR_FORMAT, "%s:%zu: not a JSON object (%s); the journal is damaged "
                          "before its last line: repair or remove that line", path, lineno,
                          obj ? "another JSON value" : err.text);
            break;
        }
        st = fn(obj, lineno, user);
        json_decref(obj);
        pos = next;
    }
    free(data);
    return st;
}

static kdt_status append_bytes(const char *path, const char *text, size_t n) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return kdt_fail(KDT_ERR_IO, "%s: cannot open the journal for appending: %s", path,
                        strerror(errno));
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    kdt_status st = KDT_OK;
    if (done < n || fsync(fd) != 0)
        st = kdt_fail(KDT_ERR_IO, "%s: cannot write the journal: %s", path, strerror(errno));
    if (close(fd) != 0 && st == KDT_OK)
        st = kdt_fail(KDT_ERR_IO, "%s: cannot close the journal: %s", path, strerror(errno));
    return st;
}

kdt_status journal_repair(const char *path, const journal_info *info) {
    if (info->damaged_at < info->size) {
        int fd = open(path, O_WRONLY);
        if (fd < 0) return kdt_fail(KDT_ERR_IO, "%s: cannot open to cut its damaged last line: %s",
                                    path, strerror(errno));
        int bad = ftruncate(fd, (off_t)info->damaged_at) != 0 || fsync(fd) != 0;
        int e = errno;
        close(fd);
        if (bad) return kdt_fail(KDT_ERR_IO, "%s: cannot cut its damaged last line: %s", path,
                                 strerror(e));
        return KDT_OK;
    }
    if (info->unterminated) return append_bytes(path, "\n", 1);
    return KDT_OK;
}

kdt_status journal_append(const char *path, const json_t *line) {
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text) return kdt_fail(KDT_ERR_NOMEM, "%s: cannot serialize a journal line", path);
    size_t n = strlen(text);
    text[n] = '\n'; // json_dumps leaves room for its NUL: reuse it for the newline
    kdt_status st = append_bytes(path, text, n + 1);
    free(text);
    return st;
}
