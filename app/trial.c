// Conversion of trials to and from journal lines (jansson).
#include "app/trial.h"

#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "app/journal.h"

// The fields every line has: the pair and, in ordered mode, the fixed position.
static json_t *pair_fields(const trial *t) {
    json_t *o = json_object();
    json_object_set_new(o, "pair", json_pack("[i, i]", t->i, t->j));
    json_object_set_new(o, "fixed_position",
                        t->fixed_position < 0 ? json_null()
                                              : json_string(config_choice_name("kd.position", t->fixed_position)));
    return o;
}

json_t *trial_line(const trial *t, const char *run_key) {
    json_t *o = t->is_recommendation ? pair_fields(t) : trial_to_json(t);
    json_object_set_new(o, "run", json_string(run_key));
    json_object_set_new(o, "strategy", json_string(t->strategy));
    json_object_set_new(o, "i", json_integer(t->index));
    if (t->is_recommendation) json_object_set_new(o, "recommended", json_integer(t->recommended));
    return o;
}

json_t *trial_to_json(const trial *t) {
    json_t *o = pair_fields(t);
    json_object_set_new(o, "student", json_integer(t->student));
    json_object_set_new(o, "teacher", json_integer(t->teacher));
    json_object_set_new(o, "temperature", json_real(t->temperature));
    json_object_set_new(o, "alpha", json_real(t->alpha));
    json_object_set_new(o, "transfer_set", json_string(config_choice_name("kd.transfer_set", t->transfer_set)));
    json_object_set_new(o, "position", json_string(config_choice_name("kd.position", t->position)));
    json_object_set_new(o, "status", json_string(t->ok ? "ok" : "failed"));
    if (!t->ok) json_object_set_new(o, "reason", json_string(t->reason));
    const struct { const char *key; double v; } metrics[] = {
        {"val_gain", t->val_gain}, {"test_gain", t->test_gain}, {"forgetting", t->forgetting},
        {"student_val_before", t->student_val_before}, {"student_val_after", t->student_val_after},
        {"student_test_before", t->student_test_before}, {"student_test_after", t->student_test_after},
        {"teacher_test", t->teacher_test}, {"seconds", t->seconds},
    };
    for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++)
        json_object_set_new(o, metrics[k].key, json_real(metrics[k].v));
    json_object_set_new(o, "cached", json_boolean(t->cached));
    return o;
}

static kdt_status missing(const char *key) {
    return kdt_fail(KDT_ERR_FORMAT, "key '%s' is missing or has the wrong type", key);
}

static kdt_status get_int(const json_t *o, const char *key, int *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return missing(key);
    *out = (int)json_integer_value(v);
    return KDT_OK;
}

static kdt_status get_num(const json_t *o, const char *key, double *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) return missing(key);
    *out = json_number_value(v);
    return KDT_OK;
}

static kdt_status get_choice(const json_t *o, const char *key, const char *cfg_path, int *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return missing(key);
    for (int c = 0; c < 8; c++)
        if (strcmp(config_choice_name(cfg_path, c), json_string_value(v)) == 0) {
            *out = c;
            return KDT_OK;
        }
    return kdt_fail(KDT_ERR_FORMAT, "key '%s': unknown value '%s'", key, json_string_value(v));
}

kdt_status trial_from_json(const json_t *o, trial *t) {
    memset(t, 0, sizeof *t);
    json_t *v = json_object_get(o, "strategy");
    if (!json_is_string(v) || strlen(json_string_value(v)) >= TRIAL_NAME_MAX) return missing("strategy");
    strcpy(t->strategy, json_string_value(v));
    v = json_object_get(o, "pair");
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0)) ||
        !json_is_integer(json_array_get(v, 1)))
        return missing("pair");
    t->i = (int)json_integer_value(json_array_get(v, 0));
    t->j = (int)json_integer_value(json_array_get(v, 1));
    t->fixed_position = -1;
    v = json_object_get(o, "fixed_position");
    kdt_status s = KDT_OK;
    if (json_is_string(v)) s = get_choice(o, "fixed_position", "kd.position", &t->fixed_position);
    else if (!json_is_null(v)) return missing("fixed_position");
    if (!s) s = get_int(o, "i", &t->index);
    if (s) return s;
    if (json_object_get(o, "recommended")) {
        t->is_recommendation = true;
        return get_int(o, "recommended", &t->recommended);
    }
    if (!s) s = get_int(o, "student", &t->student);
    if (!s) s = get_int(o, "teacher", &t->teacher);
    if (!s) s = get_num(o, "temperature", &t->temperature);
    if (!s) s = get_num(o, "alpha", &t->alpha);
    if (!s) s = get_choice(o, "transfer_set", "kd.transfer_set", &t->transfer_set);
    if (!s) s = get_choice(o, "position", "kd.position", &t->position);
    if (s) return s;
    v = json_object_get(o, "status");
    if (!json_is_string(v)) return missing("status");
    t->ok = strcmp(json_string_value(v), "ok") == 0;
    v = json_object_get(o, "reason");
    if (json_is_string(v)) snprintf(t->reason, sizeof t->reason, "%s", json_string_value(v));
    struct { const char *key; double *v; } metrics[] = {
        {"val_gain", &t->val_gain}, {"test_gain", &t->test_gain}, {"forgetting", &t->forgetting},
        {"student_val_before", &t->student_val_before}, {"student_val_after", &t->student_val_after},
        {"student_test_before", &t->student_test_before}, {"student_test_after", &t->student_test_after},
        {"teacher_test", &t->teacher_test}, {"seconds", &t->seconds},
    };
    for (size_t k = 0; k < sizeof metrics / sizeof metrics[0] && !s; k++)
        s = get_num(o, metrics[k].key, metrics[k].v);
    t->cached = json_is_true(json_object_get(o, "cached"));
    return s;
}

typedef struct {
    const char *path;
    trial *items;
    size_t n, cap;
} trial_list;

static kdt_status collect(const json_t *line, size_t lineno, void *user) {
    trial_list *l = user;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        trial *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown) return kdt_fail(KDT_ERR_NOMEM, "out of memory reading %s", l->path);
        l->items = grown;
        l->cap = cap;
    }
    kdt_status s = trial_from_json(line, &l->items[l->n]);
    if (s) return kdt_fail_context(s, "%s:%zu", l->path, lineno);
    l->n++;
    return KDT_OK;
}

kdt_status trial_read_all(const char *journal, trial **out, size_t *n) {
    trial_list l = {journal, NULL, 0, 0};
    kdt_status s = journal_foreach(journal, collect, &l, NULL);
    if (s) {
        free(l.items);
        *out = NULL;
        *n = 0;
        return s;
    }
    *out = l.items;
    *n = l.n;
    return KDT_OK;
}
