// The journal file of a run directory, its index by run and the evaluation cache.
#define _GNU_SOURCE // memmem
#include "store/store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/rng.h"

// A journal larger than this is not one kdtune wrote (the study's grid is a few megabytes).
#define JOURNAL_MAX_BYTES ((size_t)1 << 30)

// ---- keys ---------------------------------------------------------------------------------------

uint64_t store_mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001B3ull ^ (h >> 29); }
uint64_t store_dbits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static uint64_t setting_hash(const store_setting *s) {
    uint64_t h = 0xCBF29CE484222325ull;
    uint64_t w[] = {(uint64_t)s->i, (uint64_t)s->j, (uint64_t)s->position, store_dbits(s->temperature), store_dbits(s->alpha),
                    (uint64_t)s->transfer, (uint64_t)s->method, (uint64_t)s->replicate, store_dbits(s->fidelity)};
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) h = store_mix(h, w[k]);
    return h;
}

bool store_same_point(const store_setting *a, const store_setting *b) {
    return a->i == b->i && a->j == b->j && a->position == b->position && a->temperature == b->temperature &&
           a->alpha == b->alpha && a->transfer == b->transfer && a->method == b->method && a->fidelity == b->fidelity;
}

static bool setting_equal(const store_setting *a, const store_setting *b) {
    return store_same_point(a, b) && a->replicate == b->replicate;
}

static uint64_t run_hash(const store_run *r, int index) {
    uint64_t h = store_mix(rng_hash_str(r->strategy), (uint64_t)r->i);
    h = store_mix(h, (uint64_t)r->j);
    h = store_mix(h, (uint64_t)(r->fixed_position + 1));
    h = store_mix(h, (uint64_t)r->budget);
    return store_mix(h, (uint64_t)index);
}

static bool run_equal(const store_run *a, const store_run *b) {
    return a->i == b->i && a->j == b->j && a->fixed_position == b->fixed_position && a->budget == b->budget &&
           strcmp(a->strategy, b->strategy) == 0;
}

// ---- the index maps -----------------------------------------------------------------------------

void map_free(index_map *m) {
    free(m->hash);
    free(m->entry);
    memset(m, 0, sizeof *m);
}

static kdt_status map_grow(index_map *m) {
    size_t cap = m->cap ? 2 * m->cap : 1024;
    uint64_t *hash = calloc(cap, sizeof *hash);
    size_t *entry = calloc(cap, sizeof *entry);
    if (!hash || !entry) {
        free(hash);
        free(entry);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory indexing the journal");
    }
    for (size_t k = 0; k < m->cap; k++) {
        if (!m->entry[k]) continue;
        size_t q = m->hash[k] & (cap - 1);
        while (entry[q]) q = (q + 1) & (cap - 1);
        hash[q] = m->hash[k];
        entry[q] = m->entry[k];
    }
    free(m->hash);
    free(m->entry);
    m->hash = hash;
    m->entry = entry;
    m->cap = cap;
    return KDT_OK;
}

kdt_status map_put(index_map *m, uint64_t h, size_t entry) {
    if (2 * (m->used + 1) > m->cap) {
        kdt_status s = map_grow(m);
        if (s) return s;
    }
    size_t q = h & (m->cap - 1);
    while (m->entry[q]) q = (q + 1) & (m->cap - 1);
    m->hash[q] = h;
    m->entry[q] = entry + 1;
    m->used++;
    return KDT_OK;
}

// Calls match(user, entry) on every entry of hash h until it returns true; returns that entry or
// SIZE_MAX.
size_t map_find(const index_map *m, uint64_t h, bool (*match)(const void *, size_t), const void *user) {
    if (!m->cap) return SIZE_MAX;
    for (size_t q = h & (m->cap - 1); m->entry[q]; q = (q + 1) & (m->cap - 1))
        if (m->hash[q] == h && match(user, m->entry[q] - 1)) return m->entry[q] - 1;
    return SIZE_MAX;
}

typedef struct { const store *s; const store_setting *set; } setting_probe;
static bool match_setting(const void *user, size_t k) {
    const setting_probe *p = user;
    return setting_equal(&p->s->evals[k].setting, p->set);
}
typedef struct { const store *s; const store_run *run; int index; } line_probe;
static bool match_line(const void *user, size_t k) {
    const line_probe *p = user;
    return p->s->evals[k].index == p->index && run_equal(&p->s->evals[k].run, p->run);
}
static bool match_rec(const void *user, size_t k) {
    const line_probe *p = user;
    return p->s->recs[k].evaluations == p->index && run_equal(&p->s->recs[k].run, p->run);
}

// ---- adding lines to memory ----------------------------------------------------------------------

static kdt_status add_eval(store *s, const store_eval *e) {
    line_probe lp = {s, &e->run, e->index};
    if (map_find(&s->by_line, run_hash(&e->run, e->index), match_line, &lp) != SIZE_MAX) {
        char key[96];
        store_run_key(&e->run, key, sizeof key);
        log_warn("%s: evaluation %d of run %s appears twice; the first is kept", s->journal, e->index, key);
        return KDT_OK;
    }
    if (s->n_evals == s->cap_evals) {
        size_t cap = s->cap_evals ? 2 * s->cap_evals : 1024;
        store_eval *grown = realloc(s->evals, cap * sizeof *grown);
        if (!grown) return kdt_fail(KDT_ERR_NOMEM, "out of memory reading the journal");
        s->evals = grown;
        s->cap_evals = cap;
    }
    size_t k = s->n_evals++;
    s->evals[k] = *e;
    kdt_status st = map_put(&s->by_line, run_hash(&e->run, e->index), k);
    setting_probe sp = {s, &e->setting};
    uint64_t h = setting_hash(&e->setting);
    if (!st && map_find(&s->by_setting, h, match_setting, &sp) == SIZE_MAX) st = map_put(&s->by_setting, h, k);
    return st;
}

static kdt_status add_rec(store *s, const store_recommendation *r) {
    if (s->n_recs == s->cap_recs) {
        size_t cap = s->cap_recs ? 2 * s->cap_recs : 256;
        store_recommendation *grown = realloc(s->recs, cap * sizeof *grown);
        if (!grown) return kdt_fail(KDT_ERR_NOMEM, "out of memory reading the journal");
        s->recs = grown;
        s->cap_recs = cap;
    }
    size_t k = s->n_recs++;
    s->recs[k] = *r;
    return map_put(&s->by_rec, run_hash(&r->run, r->evaluations), k);
}

// ---- the file -----------------------------------------------------------------------------------

// The store's two append-only files (the journal and the outcomes), through common/fs's safe
// opens: regular files only, never through a link, no hang on a FIFO.

kdt_status store_file_read(const char *path, size_t max_bytes, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (!fs_exists(path)) return KDT_OK; // none yet (a dangling link is refused when appended to)
    int fd;
    kdt_status st = fs_open_regular(path, FS_NOFOLLOW, &fd);
    if (st) return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (size_t)sb.st_size > max_bytes) {
        close(fd);
        return kdt_fail(KDT_ERR_FORMAT, "%s: %lld bytes, more than kdtune writes there (at most %zu); move it "
                        "away", path, (long long)sb.st_size, max_bytes);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        close(fd);
        return kdt_fail(KDT_ERR_NOMEM, "%s: out of memory reading %lld bytes", path, (long long)sb.st_size);
    }
    size_t got = 0, want = (size_t)sb.st_size;
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return KDT_OK;
}

kdt_status store_file_append(const char *path, const void *data, size_t n) {
    int fd;
    kdt_status st = fs_open_append(path, &fd);
    if (st) return st;
    const char *p = data;
    size_t done = 0;
    while (done < n && !st) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) st = kdt_fail(KDT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        else done += (size_t)w;
    }
    if (!st && fsync(fd) != 0) st = kdt_fail(KDT_ERR_IO, "%s: cannot fsync: %s", path, strerror(errno));
    if (close(fd) != 0 && !st) st = kdt_fail(KDT_ERR_IO, "%s: cannot close: %s", path, strerror(errno));
    return st;
}

kdt_status store_file_cut(const char *path, size_t at) {
    int fd;
    kdt_status st = fs_open_append(path, &fd);
    if (st) return st;
    if (ftruncate(fd, (off_t)at) != 0 || fsync(fd) != 0)
        st = kdt_fail(KDT_ERR_IO, "%s: cannot cut its damaged end: %s", path, strerror(errno));
    close(fd);
    return st;
}

static kdt_status read_journal(store *s, char **data, size_t *len) {
    return store_file_read(s->journal, JOURNAL_MAX_BYTES, data, len);
}

// Appends bytes in one write(2) on O_APPEND and fsyncs: lines from several threads never mix.
static kdt_status append_bytes(store *s, const char *text, size_t n) {
    return store_file_append(s->journal, text, n);
}

// Cuts the file at `at` (a torn last line left by a crash).
static kdt_status cut_at(store *s, size_t at) { return store_file_cut(s->journal, at); }

static bool blank(const char *p, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (p[k] != ' ' && p[k] != '\t' && p[k] != '\r') return false;
    return true;
}

static kdt_status load(store *s) {
    char *data;
    size_t len;
    kdt_status st = read_journal(s, &data, &len);
    if (st || !data) return st;
    size_t pos = 0, lineno = 0, cut = SIZE_MAX;
    while (pos < len && !st) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos, next = pos + n + (nl != NULL);
        lineno++;
        if (blank(data + pos, n)) {
            pos = next;
            continue;
        }
        uint64_t id = 0;
        store_eval e;
        store_recommendation r;
        int kind = store_parse_line(data + pos, n, s->participants, s->strategies, s->n_strategies, &id, &e, &r);
        if (kind == 0) {
            // The last line, unterminated or followed only by blanks: a write cut short by a crash.
            if (!nl || blank(data + next, len - next)) {
                log_warn("%s:%zu: damaged last line (an interrupted write?): cut off; earlier lines are kept",
                         s->journal, lineno);
                cut = pos;
                break;
            }
            st = kdt_fail(KDT_ERR_FORMAT, "%s:%zu: %s. The journal is damaged before its last line: repair "
                          "or remove that line, or move the file away to start over", s->journal, lineno, kdt_errmsg());
            break;
        }
        if (id != s->id) s->foreign++;
        else st = kind == 1 ? add_eval(s, &e) : add_rec(s, &r);
        pos = next;
    }
    bool unterminated = cut == SIZE_MAX && len > 0 && data[len - 1] != '\n';
    free(data);
    if (st) return st;
    if (cut != SIZE_MAX) return cut_at(s, cut);
    if (unterminated) return append_bytes(s, "\n", 1);
    return KDT_OK;
}

kdt_status store_open(store **out, const store_options *opt, const char *const *strategies, size_t n_strategies) {
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (!s) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    s->id = opt->kd_config;
    s->participants = opt->participants;
    s->strategies = strategies;
    s->n_strategies = n_strategies;
    pthread_mutex_init(&s->lock, NULL);
    kdt_status st = fs_join(s->journal, sizeof s->journal, opt->run_dir, "trials.jsonl");
    if (!st) st = fs_join(s->outcomes_path, sizeof s->outcomes_path, opt->run_dir, "outcomes.bin");
    if (!st) st = load(s);
    if (st) {
        store_close(s);
        return st;
    }
    if (s->foreign)
        log_info("%s: %zu lines of other KD configurations are kept apart (not used by this one)", s->journal,
                 s->foreign);
    *out = s;
    return KDT_OK;
}

void store_close(store *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s->evals);
    free(s->recs);
    map_free(&s->by_setting);
    map_free(&s->by_line);
    map_free(&s->by_rec);
    map_free(&s->by_outcome);
    free(s->outcomes);
    free(s->outcome_offsets);
    free(s);
}

const char *store_journal_path(const store *s) { return s->journal; }
size_t store_foreign_lines(const store *s) { return s->foreign; }

bool store_lookup(store *s, const store_setting *set, store_result *out) {
    setting_probe sp = {s, set};
    pthread_mutex_lock(&s->lock);
    size_t k = map_find(&s->by_setting, setting_hash(set), match_setting, &sp);
    if (k != SIZE_MAX) *out = s->evals[k].result;
    pthread_mutex_unlock(&s->lock);
    return k != SIZE_MAX;
}

bool store_has(store *s, const store_run *run, int index) {
    line_probe lp = {s, run, index};
    pthread_mutex_lock(&s->lock);
    bool found = map_find(&s->by_line, run_hash(run, index), match_line, &lp) != SIZE_MAX;
    pthread_mutex_unlock(&s->lock);
    return found;
}

bool store_has_recommendation(store *s, const store_run *run, int evaluations) {
    line_probe lp = {s, run, evaluations};
    pthread_mutex_lock(&s->lock);
    bool found = map_find(&s->by_rec, run_hash(run, evaluations), match_rec, &lp) != SIZE_MAX;
    pthread_mutex_unlock(&s->lock);
    return found;
}

// Writes the line, then adds it to memory: what the store serves is always on disk.
static kdt_status append_line(store *s, char *line) {
    if (!line) return kdt_fail(KDT_ERR_NOMEM, "%s: cannot format a journal line", s->journal);
    size_t n = strlen(line);
    line[n] = '\n'; // json_dumps leaves room for its NUL: reuse it for the newline
    kdt_status st = append_bytes(s, line, n + 1);
    free(line);
    return st;
}

kdt_status store_append(store *s, store_eval *e) {
    store_result *r = &e->result;
    // An ok result must be a number everywhere a tuner or a summary reads it.
    if (r->ok && !(isfinite(r->val_gain) && isfinite(r->test_gain) && isfinite(r->student_val_after) &&
                   isfinite(r->student_test_after))) {
        r->ok = false;
        snprintf(r->reason, sizeof r->reason, "a metric is not finite");
    }
    if (!r->ok)
        r->val_gain = r->test_gain = r->forgetting = r->student_val_after = r->student_test_after = NAN;
    kdt_status st = append_line(s, store_format_eval(e, s->id));
    if (st) return st;
    pthread_mutex_lock(&s->lock);
    st = add_eval(s, e);
    pthread_mutex_unlock(&s->lock);
    return st;
}

kdt_status store_append_recommendation(store *s, const store_recommendation *r) {
    KDT_ASSERT(r->recommended >= 0 && r->recommended < r->evaluations);
    kdt_status st = append_line(s, store_format_recommendation(r, s->id));
    if (st) return st;
    pthread_mutex_lock(&s->lock);
    st = add_rec(s, r);
    pthread_mutex_unlock(&s->lock);
    return st;
}

kdt_status store_run_evals(store *s, const store_run *run, store_eval **out, size_t *n) {
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    size_t cap = 0;
    kdt_status st = KDT_OK;
    for (int index = 0;; index++) {
        line_probe lp = {s, run, index};
        size_t k = map_find(&s->by_line, run_hash(run, index), match_line, &lp);
        if (k == SIZE_MAX) break;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            store_eval *grown = realloc(*out, cap * sizeof *grown);
            if (!grown) {
                st = kdt_fail(KDT_ERR_NOMEM, "out of memory");
                break;
            }
            *out = grown;
        }
        (*out)[(*n)++] = s->evals[k];
    }
    pthread_mutex_unlock(&s->lock);
    if (st) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}

size_t store_all_evals(store *s, const store_eval **out) {
    *out = s->evals;
    return s->n_evals;
}

size_t store_all_recommendations(store *s, const store_recommendation **out) {
    *out = s->recs;
    return s->n_recs;
}

uint64_t store_identity(const char *fingerprint, const char *kd_training_text) {
    uint64_t h = store_mix(rng_hash_str(fingerprint), 0x6B64636F6E666967ull); // "kdconfig"
    return store_mix(h, rng_hash_str(kd_training_text));
}

kdt_status store_peek(const store_options *opt, const char *const *strategies, size_t n_strategies,
                      const store_setting *set, store_result *out, bool *found) {
    *found = false;
    store probe = {.id = opt->kd_config, .participants = opt->participants};
    kdt_status st = fs_join(probe.journal, sizeof probe.journal, opt->run_dir, "trials.jsonl");
    char *data = NULL;
    size_t len = 0;
    if (!st) st = read_journal(&probe, &data, &len);
    if (st || !data) return st;
    // What every line of this identity and pair holds, as store_format_eval writes it.
    char id_key[48], pair_key[48];
    snprintf(id_key, sizeof id_key, "\"kd_config\":\"%016llx\"", (unsigned long long)opt->kd_config);
    snprintf(pair_key, sizeof pair_key, "\"pair\":[%d,%d]", set->i, set->j);
    size_t id_len = strlen(id_key), pair_len = strlen(pair_key);
    for (size_t pos = 0; pos < len && !*found;) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        const char *line = data + pos;
        pos += n + 1;
        if (!memmem(line, n, id_key, id_len) || !memmem(line, n, pair_key, pair_len)) continue;
        uint64_t id;
        store_eval e;
        store_recommendation r;
        if (store_parse_line(line, n, opt->participants, strategies, n_strategies, &id, &e, &r) == 1 &&
            id == opt->kd_config && setting_equal(&e.setting, set)) {
            *out = e.result;
            *found = true;
        }
    }
    free(data);
    kdt_clear_error(); // a candidate line that did not parse is not this lookup's error
    return KDT_OK;
}
