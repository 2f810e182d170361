// The journal file: reading every line (with damaged-tail detection), cutting a damaged tail and
// appending a line durably.
#include "tuner/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"

kdt_status tuner_journal_foreach(const char *path, tuner_journal_fn fn, void *user,
                                 size_t *damaged_at) {
    char *data = NULL;
    size_t len = 0;
    if (damaged_at) *damaged_at = 0;
    if (!fs_exists(path)) return KDT_OK;
    kdt_status st = fs_read_all(path, &data, &len);
    if (st) return st;
    if (damaged_at) *damaged_at = len;
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
                if (damaged_at) *damaged_at = pos;
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

kdt_status tuner_journal_truncate(const char *path, size_t offset) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return kdt_fail(KDT_ERR_IO, "%s: cannot open to cut its damaged tail: %s", path,
                                strerror(errno));
    int bad = ftruncate(fd, (off_t)offset) != 0 || fsync(fd) != 0;
    int e = errno;
    close(fd);
    if (bad) return kdt_fail(KDT_ERR_IO, "%s: cannot cut its damaged tail: %s", path, strerror(e));
    return KDT_OK;
}

kdt_status tuner_journal_append(const char *path, const json_t *line) {
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text) return kdt_fail(KDT_ERR_NOMEM, "%s: cannot serialize a journal line", path);
    size_t n = strlen(text);
    text[n] = '\n'; // json_dumps leaves room for its NUL: reuse it for the newline
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    kdt_status st = KDT_OK;
    if (fd < 0) {
        st = kdt_fail(KDT_ERR_IO, "%s: cannot open the journal for appending: %s", path,
                      strerror(errno));
    } else {
        size_t done = 0;
        while (done < n + 1) {
            ssize_t w = write(fd, text + done, n + 1 - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            done += (size_t)w;
        }
        if (done < n + 1 || fsync(fd) != 0)
            st = kdt_fail(KDT_ERR_IO, "%s: cannot write the journal: %s", path, strerror(errno));
        if (close(fd) != 0 && st == KDT_OK)
            st = kdt_fail(KDT_ERR_IO, "%s: cannot close the journal: %s", path, strerror(errno));
    }
    free(text);
    return st;
}
