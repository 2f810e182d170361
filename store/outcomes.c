// Per-image outcomes (docs/formats.md): RUN/outcomes.bin, an append-only file of CRC-checked
// records, one per evaluation (which validation and test images the student, and for DML its
// peer, gets right after KD) and one per participant (the same before KD). Paired tests then
// need no retraining. A record is written and fsynced before its journal line, so an evaluation in
// the journal has its outcomes; a torn last record (a crash mid-write) is cut off on open.
#include "store/store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/check.h"
#include "common/log.h"

enum { MAGIC = 0x4F54444B /* "KDTO" */, VERSION = 1, KIND_EVAL = 1, KIND_PARTICIPANT = 2 };
// Images per split that a record may hold (the largest test splits are 10,000 images).
#define MAX_IMAGES (1u << 24)
#define OUTCOMES_MAX_BYTES ((size_t)4 << 30)

// The fixed part of a record, little-endian on every machine kdtune runs on (checked below).
typedef struct {
    uint32_t magic;
    uint16_t version, kind;
    uint64_t kd_config;
    int32_t i, j, position, transfer, method, replicate; // KIND_PARTICIPANT: i = the participant
    double temperature, alpha, fidelity;
    uint32_t n_val, n_test, n_sets;                      // n_sets: 1, or 2 with a DML peer
    uint32_t pad;
} record_head;
_Static_assert(sizeof(record_head) == 80, "record header layout");

static size_t bits_bytes(uint32_t n) { return ((size_t)n + 7) / 8; }

static size_t record_bytes(const record_head *h) {
    return sizeof *h + h->n_sets * (bits_bytes(h->n_val) + bits_bytes(h->n_test)) + 4;
}

static void head_of_setting(record_head *h, uint64_t id, const store_setting *s) {
    memset(h, 0, sizeof *h);
    h->magic = MAGIC;
    h->version = VERSION;
    h->kind = KIND_EVAL;
    h->kd_config = id;
    h->i = s->i, h->j = s->j, h->position = (int32_t)s->position, h->transfer = (int32_t)s->transfer;
    h->method = (int32_t)s->method, h->replicate = s->replicate;
    h->temperature = s->temperature, h->alpha = s->alpha, h->fidelity = s->fidelity;
}

static bool same_key(const record_head *a, const record_head *b) {
    return a->kind == b->kind && a->kd_config == b->kd_config && a->i == b->i && a->j == b->j &&
           a->position == b->position && a->transfer == b->transfer && a->method == b->method &&
           a->replicate == b->replicate && a->temperature == b->temperature && a->alpha == b->alpha &&
           a->fidelity == b->fidelity;
}

// ---- reading --------------------------------------------------------------------------------------

// Checks one record at data (len bytes left); returns its size, or 0 if it is not whole and valid.
static size_t check_record(const uint8_t *data, size_t len, int participants) {
    record_head h;
    if (len < sizeof h) return 0;
    memcpy(&h, data, sizeof h);
    if (h.magic != MAGIC || h.version != VERSION || (h.kind != KIND_EVAL && h.kind != KIND_PARTICIPANT) ||
        h.n_val > MAX_IMAGES || h.n_test > MAX_IMAGES || h.n_sets < 1 || h.n_sets > 2 || h.i < 0 ||
        h.i >= participants)
        return 0;
    size_t n = record_bytes(&h);
    if (n > len) return 0;
    uint32_t crc;
    memcpy(&crc, data + n - 4, 4);
    if (crc != (uint32_t)crc32(0L, data, (uInt)(n - 4))) return 0;
    return n;
}

kdt_status outcomes_load(store *s) {
    if (s->outcomes_loaded) return KDT_OK;
    s->outcomes_loaded = true;
    s->outcomes_len = 0;
    char *text;
    size_t got;
    kdt_status st = store_file_read(s->outcomes_path, OUTCOMES_MAX_BYTES, &text, &got);
    if (st || !text) return st;
    uint8_t *data = (uint8_t *)text;
    size_t pos = 0;
    s->outcomes = data;
    while (pos < got && !st) {
        size_t n = check_record(data + pos, got - pos, s->participants);
        if (!n) break;
        record_head h;
        memcpy(&h, data + pos, sizeof h);
        if (h.kd_config == s->id) st = outcomes_index(s, pos);
        pos += n;
    }
    s->outcomes_len = pos;
    if (!st && pos < got) {
        // Records after a damaged one cannot be trusted to be aligned: cut the file there. Their
        // evaluations are in the journal; only their paired tests are lost.
        log_warn("%s: damaged record at byte %zu (an interrupted write?): cut off; earlier records are kept",
                 s->outcomes_path, pos);
        st = store_file_cut(s->outcomes_path, pos);
    }
    return st;
}

// ---- writing --------------------------------------------------------------------------------------

static kdt_status append_record(store *s, const record_head *h, const store_outcomes *sets) {
    size_t n = record_bytes(h);
    uint8_t *buf = malloc(n);
    if (!buf) return kdt_fail(KDT_ERR_NOMEM, "out of memory writing outcomes");
    memcpy(buf, h, sizeof *h);
    size_t at = sizeof *h;
    for (uint32_t k = 0; k < h->n_sets; k++) {
        memcpy(buf + at, sets[k].val, bits_bytes(h->n_val));
        at += bits_bytes(h->n_val);
        memcpy(buf + at, sets[k].test, bits_bytes(h->n_test));
        at += bits_bytes(h->n_test);
    }
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)at);
    memcpy(buf + at, &crc, 4);
    kdt_status st = store_file_append(s->outcomes_path, buf, n);
    // Keep the record in memory too, so that it is served at once.
    if (!st) {
        uint8_t *grown = realloc(s->outcomes, s->outcomes_len + n);
        if (!grown) st = kdt_fail(KDT_ERR_NOMEM, "out of memory keeping outcomes");
        else {
            s->outcomes = grown;
            memcpy(s->outcomes + s->outcomes_len, buf, n);
            st = outcomes_index(s, s->outcomes_len);
            s->outcomes_len += n;
        }
    }
    free(buf);
    return st;
}

static void view(const store *s, size_t off, store_outcomes *student, store_outcomes *peer) {
    record_head h;
    memcpy(&h, s->outcomes + off, sizeof h);
    const uint8_t *p = s->outcomes + off + sizeof h;
    *student = (store_outcomes){p, p + bits_bytes(h.n_val), (int)h.n_val, (int)h.n_test};
    if (peer) {
        if (h.n_sets == 2) {
            const uint8_t *q = p + bits_bytes(h.n_val) + bits_bytes(h.n_test);
            *peer = (store_outcomes){q, q + bits_bytes(h.n_val), (int)h.n_val, (int)h.n_test};
        } else {
            *peer = (store_outcomes){0};
        }
    }
}

static uint64_t key_hash(const record_head *h) {
    uint64_t k = store_mix(0xCBF29CE484222325ull, h->kind);
    int32_t ints[] = {h->i, h->j, h->position, h->transfer, h->method, h->replicate};
    for (size_t q = 0; q < sizeof ints / sizeof ints[0]; q++) k = store_mix(k, (uint64_t)(uint32_t)ints[q]);
    k = store_mix(k, store_dbits(h->temperature));
    k = store_mix(k, store_dbits(h->alpha));
    return store_mix(k, store_dbits(h->fidelity));
}

typedef struct { const store *s; const record_head *h; } probe;
static bool match(const void *user, size_t k) {
    const probe *p = user;
    record_head o;
    memcpy(&o, p->s->outcomes + p->s->outcome_offsets[k], sizeof o);
    return same_key(&o, p->h);
}

// The record with h's key; SIZE_MAX when none (the first written wins).
static size_t find(const store *s, const record_head *h) {
    probe p = {s, h};
    size_t k = map_find(&s->by_outcome, key_hash(h), match, &p);
    return k == SIZE_MAX ? SIZE_MAX : s->outcome_offsets[k];
}

kdt_status outcomes_index(store *s, size_t off) {
    record_head h;
    memcpy(&h, s->outcomes + off, sizeof h);
    if (find(s, &h) != SIZE_MAX) return KDT_OK;
    if (s->n_outcome_offsets == s->cap_outcome_offsets) {
        size_t cap = s->cap_outcome_offsets ? 2 * s->cap_outcome_offsets : 1024;
        size_t *grown = realloc(s->outcome_offsets, cap * sizeof *grown);
        if (!grown) return kdt_fail(KDT_ERR_NOMEM, "out of memory indexing outcomes");
        s->outcome_offsets = grown;
        s->cap_outcome_offsets = cap;
    }
    s->outcome_offsets[s->n_outcome_offsets] = off;
    return map_put(&s->by_outcome, key_hash(&h), s->n_outcome_offsets++);
}

// The outcomes are read on first use: a command that only looks up results never reads them.
static kdt_status ensure_loaded(store *s) {
    pthread_mutex_lock(&s->lock);
    kdt_status st = outcomes_load(s);
    pthread_mutex_unlock(&s->lock);
    return st;
}

kdt_status store_outcomes_ready(store *s) { return ensure_loaded(s); }

kdt_status store_append_outcomes(store *s, const store_setting *set, const store_outcomes *student,
                                 const store_outcomes *peer) {
    kdt_status ls = ensure_loaded(s);
    if (ls) return ls;
    KDT_ASSERT(student->n_val >= 0 && student->n_test >= 0);
    record_head h;
    head_of_setting(&h, s->id, set);
    h.n_val = (uint32_t)student->n_val, h.n_test = (uint32_t)student->n_test;
    h.n_sets = peer ? 2 : 1;
    store_outcomes sets[2] = {*student, peer ? *peer : *student};
    pthread_mutex_lock(&s->lock);
    kdt_status st = append_record(s, &h, sets);
    pthread_mutex_unlock(&s->lock);
    return st;
}

bool store_outcomes_of(store *s, const store_setting *set, store_outcomes *student, store_outcomes *peer) {
    if (ensure_loaded(s)) return false;
    record_head h;
    head_of_setting(&h, s->id, set);
    pthread_mutex_lock(&s->lock);
    size_t off = find(s, &h);
    if (off != SIZE_MAX) view(s, off, student, peer);
    pthread_mutex_unlock(&s->lock);
    return off != SIZE_MAX;
}

kdt_status store_put_participant_outcomes(store *s, int cid, const store_outcomes *o) {
    kdt_status ls = ensure_loaded(s);
    if (ls) return ls;
    record_head h = {.magic = MAGIC, .version = VERSION, .kind = KIND_PARTICIPANT, .kd_config = s->id, .i = cid,
                     .n_val = (uint32_t)o->n_val, .n_test = (uint32_t)o->n_test, .n_sets = 1};
    pthread_mutex_lock(&s->lock);
    size_t off = find(s, &h);
    kdt_status st = KDT_OK;
    if (off == SIZE_MAX) {
        st = append_record(s, &h, o);
    } else { // recorded before: the participants are deterministic, so it must be the same
        store_outcomes have;
        view(s, off, &have, NULL);
        if (have.n_val != o->n_val || have.n_test != o->n_test ||
            memcmp(have.val, o->val, bits_bytes(h.n_val)) != 0 || memcmp(have.test, o->test, bits_bytes(h.n_test)) != 0)
            st = kdt_fail(KDT_ERR_STATE, "%s: participant %d's outcomes before KD differ from the recorded ones: "
                          "the participants changed under the same identity; move the run directory away",
                          s->outcomes_path, cid);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

bool store_participant_outcomes(store *s, int cid, store_outcomes *o) {
    if (ensure_loaded(s)) return false;
    record_head h = {.magic = MAGIC, .version = VERSION, .kind = KIND_PARTICIPANT, .kd_config = s->id, .i = cid};
    pthread_mutex_lock(&s->lock);
    size_t off = find(s, &h);
    if (off != SIZE_MAX) view(s, off, o, NULL);
    pthread_mutex_unlock(&s->lock);
    return off != SIZE_MAX;
}
