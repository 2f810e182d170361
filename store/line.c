// The journal line format (docs/formats.md): writing an evaluation or a recommendation as one
// JSON object, and reading one back with every field checked (type, range, vocabulary, finite
// numbers), so that a well-formed line with hostile values never reaches the rest of kdtune.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "store/store.h"

enum { LINE_VERSION = 1 };

void store_run_key(const store_run *run, char *out, size_t cap) {
    char budget[16] = "";
    if (run->budget) snprintf(budget, sizeof budget, "@%d", run->budget);
    if (run->fixed_position < 0) snprintf(out, cap, "%s%s/%d-%d", run->strategy, budget, run->i, run->j);
    else snprintf(out, cap, "%s%s/%d-%d/%s", run->strategy, budget, run->i, run->j,
                  kd_position_name((kd_position)run->fixed_position));
}

// A metric: a number, or null when it is not finite (JSON has no NaN).
static json_t *metric(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *run_fields(const store_run *run, uint64_t kd_config, const char *type) {
    char id[17];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)kd_config);
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(LINE_VERSION));
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "kd_config", json_string(id));
    json_object_set_new(o, "strategy", json_string(run->strategy));
    json_object_set_new(o, "pair", json_pack("[i, i]", run->i, run->j));
    json_object_set_new(o, "fixed_position", run->fixed_position < 0
                                                 ? json_null()
                                                 : json_string(kd_position_name((kd_position)run->fixed_position)));
    json_object_set_new(o, "budget", json_integer(run->budget));
    return o;
}

static char *dump(json_t *o) {
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    return text;
}

// The metrics in line order, shared by writer and reader.
#define STORE_METRICS(X)                                                                          \
    X(val_gain) X(test_gain) X(forgetting) X(student_val_before) X(student_val_after)            \
    X(student_test_before) X(student_test_after) X(teacher_test) X(peer_val_gain)                 \
    X(peer_test_gain) X(peer_forgetting) X(routed_fraction) X(seconds)

char *store_format_eval(const store_eval *e, uint64_t kd_config) {
    const store_setting *s = &e->setting;
    const store_result *r = &e->result;
    json_t *o = run_fields(&e->run, kd_config, "eval");
    json_object_set_new(o, "i", json_integer(e->index));
    json_object_set_new(o, "student", json_integer(kd_student_of(s->i, s->j, s->position)));
    json_object_set_new(o, "teacher", json_integer(kd_teacher_of(s->i, s->j, s->position)));
    json_object_set_new(o, "position", json_string(kd_position_name(s->position)));
    json_object_set_new(o, "temperature", json_real(s->temperature));
    json_object_set_new(o, "alpha", json_real(s->alpha));
    json_object_set_new(o, "transfer_set", json_string(kd_transfer_name(s->transfer)));
    json_object_set_new(o, "method", json_string(kd_method_name(s->method)));
    json_object_set_new(o, "replicate", json_integer(s->replicate));
    json_object_set_new(o, "fidelity", json_real(s->fidelity));
    json_object_set_new(o, "status", json_string(r->ok ? "ok" : "failed"));
    if (!r->ok) json_object_set_new(o, "reason", json_string(r->reason));
#define PUT(name) json_object_set_new(o, #name, metric(r->name));
    STORE_METRICS(PUT)
#undef PUT
    json_object_set_new(o, "cached", json_boolean(e->cached));
    return dump(o);
}

char *store_format_recommendation(const store_recommendation *r, uint64_t kd_config) {
    json_t *o = run_fields(&r->run, kd_config, "recommendation");
    json_object_set_new(o, "evaluations", json_integer(r->evaluations));
    json_object_set_new(o, "recommended", json_integer(r->recommended));
    return dump(o);
}

// ---- reading ------------------------------------------------------------------------------------

static kdt_status bad(const char *key, const char *what) {
    return kdt_fail(KDT_ERR_FORMAT, "field '%s' %s", key, what);
}

static kdt_status get_int(const json_t *o, const char *key, long long lo, long long hi, int *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return bad(key, "is missing or not an integer");
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) return kdt_fail(KDT_ERR_FORMAT, "field '%s' is %lld, outside [%lld, %lld]", key,
                                          (long long)x, lo, hi);
    *out = (int)x;
    return KDT_OK;
}

// A number in [lo, hi]; null reads as NaN when nullable.
static kdt_status get_num(const json_t *o, const char *key, double lo, double hi, bool nullable, double *out) {
    json_t *v = json_object_get(o, key);
    if (nullable && json_is_null(v)) {
        *out = NAN;
        return KDT_OK;
    }
    if (!json_is_number(v)) return bad(key, nullable ? "is missing or neither a number nor null"
                                                     : "is missing or not a number");
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi)
        return kdt_fail(KDT_ERR_FORMAT, "field '%s' is %g, outside [%g, %g]", key, x, lo, hi);
    *out = x;
    return KDT_OK;
}

static const char *get_str(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static kdt_status get_run(const json_t *o, int participants, const char *const *strategies, size_t n_strategies,
                          store_run *run) {
    memset(run, 0, sizeof *run);
    const char *name = get_str(o, "strategy");
    bool known = false;
    for (size_t k = 0; name && k < n_strategies && !known; k++) known = strcmp(name, strategies[k]) == 0;
    if (!known) return bad("strategy", "is missing or not a strategy of kdtune");
    KDT_SNPRINTF(run->strategy, sizeof run->strategy, "%s", name); // the vocabulary is short
    json_t *pair = json_object_get(o, "pair");
    json_t *a = json_array_get(pair, 0), *b = json_array_get(pair, 1);
    if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_integer(a) || !json_is_integer(b))
        return bad("pair", "is missing or not two integers");
    json_int_t i = json_integer_value(a), j = json_integer_value(b);
    if (i < 0 || j >= participants || i >= j)
        return kdt_fail(KDT_ERR_FORMAT, "field 'pair' is [%lld, %lld], not two participants i < j in [0, %d)",
                        (long long)i, (long long)j, participants);
    run->i = (int)i;
    run->j = (int)j;
    json_t *fp = json_object_get(o, "fixed_position");
    run->fixed_position = -1;
    if (!json_is_null(fp)) {
        kd_position p;
        if (kd_position_from_name(json_is_string(fp) ? json_string_value(fp) : NULL, &p))
            return bad("fixed_position", "is neither null nor a position (forward, reverse)");
        run->fixed_position = (int)p;
    }
    kdt_status st = get_int(o, "budget", 0, 1 << 30, &run->budget);
    if (st) return st;
    return KDT_OK;
}

static kdt_status parse_eval(const json_t *o, store_eval *e) {
    store_setting *s = &e->setting;
    store_result *r = &e->result;
    s->i = e->run.i;
    s->j = e->run.j;
    kdt_status st = get_int(o, "i", 0, 1 << 30, &e->index);
    if (!st && kd_position_from_name(get_str(o, "position"), &s->position)) st = bad("position", "is not forward or reverse");
    if (!st && kd_transfer_from_name(get_str(o, "transfer_set"), &s->transfer))
        st = bad("transfer_set", "is not unlabelled, unlabelled_self or student_data");
    if (!st && kd_method_from_name(get_str(o, "method"), &s->method)) st = bad("method", "is not kd, dml or dpkd");
    if (!st) st = get_num(o, "temperature", 1e-6, 1e6, false, &s->temperature);
    if (!st) st = get_num(o, "alpha", 0, 1, false, &s->alpha);
    if (!st) st = get_int(o, "replicate", 0, 1 << 20, &s->replicate);
    if (!st) st = get_num(o, "fidelity", 1e-9, 1, false, &s->fidelity);
    if (!st && s->temperature <= 0) st = bad("temperature", "is not positive");
    if (!st && e->run.fixed_position >= 0 && (int)s->position != e->run.fixed_position)
        st = bad("position", "differs from the run's fixed_position");
    if (st) return st;
    int student = -1, teacher = -1;
    if (!st) st = get_int(o, "student", 0, 1 << 30, &student);
    if (!st) st = get_int(o, "teacher", 0, 1 << 30, &teacher);
    if (!st && (student != kd_student_of(s->i, s->j, s->position) || teacher != kd_teacher_of(s->i, s->j, s->position)))
        st = bad("student", "and 'teacher' do not match the pair and position");
    if (st) return st;
    const char *status = get_str(o, "status");
    if (!status || (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0))
        return bad("status", "is not ok or failed");
    r->ok = strcmp(status, "ok") == 0;
    if (!r->ok) {
        const char *why = get_str(o, "reason");
        if (!why) return bad("reason", "is missing from a failed evaluation");
        snprintf(r->reason, sizeof r->reason, "%s", why);
    }
    // Accuracies and gains are fractions; an ok evaluation has finite ones, a failed one may not.
    struct { const char *key; double lo, hi; bool needed; double *v; } m[] = {
        {"val_gain", -1, 1, true, &r->val_gain}, {"test_gain", -1, 1, true, &r->test_gain},
        {"forgetting", -1, 1, false, &r->forgetting},
        {"student_val_before", 0, 1, true, &r->student_val_before}, {"student_val_after", 0, 1, true, &r->student_val_after},
        {"student_test_before", 0, 1, true, &r->student_test_before}, {"student_test_after", 0, 1, true, &r->student_test_after},
        {"teacher_test", 0, 1, false, &r->teacher_test},
        {"peer_val_gain", -1, 1, false, &r->peer_val_gain}, {"peer_test_gain", -1, 1, false, &r->peer_test_gain},
        {"peer_forgetting", -1, 1, false, &r->peer_forgetting}, {"routed_fraction", 0, 1, false, &r->routed_fraction},
        {"seconds", 0, 1e9, false, &r->seconds},
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0] && !st; k++) {
        st = get_num(o, m[k].key, m[k].lo, m[k].hi, true, m[k].v);
        if (!st && r->ok && m[k].needed && !isfinite(*m[k].v)) st = bad(m[k].key, "is null in an ok evaluation");
    }
    json_t *c = json_object_get(o, "cached");
    if (!st && !json_is_boolean(c)) st = bad("cached", "is missing or not true/false");
    e->cached = json_is_true(c);
    return st;
}

int store_parse_line(const char *text, size_t len, int participants, const char *const *strategies,
                     size_t n_strategies, uint64_t *kd_config, store_eval *e, store_recommendation *r) {
    json_error_t err;
    // Reject duplicate keys: a line with two "pair"s would otherwise mean what its last one says.
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    kdt_status st = KDT_OK;
    int kind = 0;
    if (!json_is_object(o)) {
        st = kdt_fail(KDT_ERR_FORMAT, "not a JSON object (%s)", o ? "another JSON value" : err.text);
        goto done;
    }
    int version;
    if ((st = get_int(o, "v", LINE_VERSION, LINE_VERSION, &version))) {
        kdt_fail(st, "%s (a line of another kdtune version?)", kdt_errmsg());
        goto done;
    }
    const char *id = get_str(o, "kd_config"), *type = get_str(o, "type");
    char *end = NULL;
    if (!id || strlen(id) != 16 || (*kd_config = strtoull(id, &end, 16), *end != '\0')) {
        st = bad("kd_config", "is missing or not 16 hex digits");
        goto done;
    }
    store_run run;
    if ((st = get_run(o, participants, strategies, n_strategies, &run))) goto done;
    if (type && strcmp(type, "eval") == 0) {
        memset(e, 0, sizeof *e);
        e->run = run;
        if (!(st = parse_eval(o, e))) kind = 1;
    } else if (type && strcmp(type, "recommendation") == 0) {
        memset(r, 0, sizeof *r);
        r->run = run;
        st = get_int(o, "evaluations", 1, 1 << 30, &r->evaluations);
        if (!st) st = get_int(o, "recommended", 0, r->evaluations - 1, &r->recommended);
        if (!st) kind = 2;
    } else {
        st = bad("type", "is missing or neither eval nor recommendation");
    }
done:
    json_decref(o);
    return st ? 0 : kind;
}
