// The search space: parameters, fixing, the unit-cube encoding and the text of a point.
#include "tuner/space.h"

#include "common/check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[TUNER_NAME_CAP];
    bool categorical, log_scale, fixed;
    double lo, hi, fixed_value;
    size_t n_choices;
    char choices[TUNER_MAX_CHOICES][TUNER_NAME_CAP];
} param;

struct tuner_space {
    size_t n;
    param p[TUNER_MAX_PARAMS];
};

kdt_status tuner_space_create(tuner_space **out) {
    *out = calloc(1, sizeof **out);
    return *out ? KDT_OK : kdt_fail(KDT_ERR_NOMEM, "tuner space: out of memory");
}

void tuner_space_destroy(tuner_space *s) { free(s); }

kdt_status tuner_space_clone(tuner_space **out, const tuner_space *s) {
    kdt_status st = tuner_space_create(out);
    if (st == KDT_OK) memcpy(*out, s, sizeof *s);
    return st;
}

static kdt_status add_check(tuner_space *s, const char *name) {
    if (s->n == TUNER_MAX_PARAMS)
        return kdt_fail(KDT_ERR_CONFIG, "search space: more than %d parameters", TUNER_MAX_PARAMS);
    if (!name || !*name || strlen(name) >= TUNER_NAME_CAP)
        return kdt_fail(KDT_ERR_CONFIG, "search space: a parameter name must have 1 to %d characters",
                        TUNER_NAME_CAP - 1);
    if (tuner_space_find(s, name) >= 0)
        return kdt_fail(KDT_ERR_CONFIG, "search space: parameter '%s' is defined twice", name);
    return KDT_OK;
}

kdt_status tuner_space_add_continuous(tuner_space *s, const char *name, double lo, double hi,
                                      bool log_scale) {
    kdt_status st = add_check(s, name);
    if (st) return st;
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return kdt_fail(KDT_ERR_CONFIG, "search space: '%s' needs finite bounds with lower < upper "
                        "(got [%g, %g])", name, lo, hi);
    if (log_scale && !(lo > 0))
        return kdt_fail(KDT_ERR_CONFIG, "search space: '%s' is on a log scale, so its lower bound "
                        "must be > 0 (got %g)", name, lo);
    param *p = &s->p[s->n++];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->lo = lo, p->hi = hi, p->log_scale = log_scale;
    return KDT_OK;
}

kdt_status tuner_space_add_categorical(tuner_space *s, const char *name,
                                       const char *const *choices, size_t n) {
    kdt_status st = add_check(s, name);
    if (st) return st;
    if (n < 1 || n > TUNER_MAX_CHOICES)
        return kdt_fail(KDT_ERR_CONFIG, "search space: '%s' needs 1 to %d choices (got %zu)", name,
                        TUNER_MAX_CHOICES, n);
    for (size_t i = 0; i < n; i++) {
        if (!choices[i] || !*choices[i] || strlen(choices[i]) >= TUNER_NAME_CAP)
            return kdt_fail(KDT_ERR_CONFIG, "search space: choice %zu of '%s' must have 1 to %d "
                            "characters", i, name, TUNER_NAME_CAP - 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(choices[i], choices[j]))
                return kdt_fail(KDT_ERR_CONFIG, "search space: '%s' lists choice '%s' twice", name,
                                choices[i]);
    }
    param *p = &s->p[s->n++];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->categorical = true, p->n_choices = n, p->lo = 0, p->hi = (double)(n - 1);
    for (size_t i = 0; i < n; i++) strcpy(p->choices[i], choices[i]);
    return KDT_OK;
}

kdt_status tuner_space_fix(tuner_space *s, const char *name, double value) {
    int i = tuner_space_find(s, name);
    if (i < 0) return kdt_fail(KDT_ERR_CONFIG, "search space: no parameter '%s' to fix", name);
    param *p = &s->p[i];
    if (!(value >= p->lo && value <= p->hi) || (p->categorical && value != floor(value)))
        return kdt_fail(KDT_ERR_CONFIG, "search space: cannot fix '%s' to %g: %s [%g, %g]", name,
                        value, p->categorical ? "expected a choice index in" : "outside its bounds",
                        p->lo, p->hi);
    p->fixed = true, p->fixed_value = value;
    return KDT_OK;
}

kdt_status tuner_space_fix_choice(tuner_space *s, const char *name, const char *choice) {
    int i = tuner_space_find(s, name);
    if (i < 0 || !s->p[i].categorical)
        return kdt_fail(KDT_ERR_CONFIG, "search space: no categorical parameter '%s' to fix", name);
    for (size_t c = 0; c < s->p[i].n_choices; c++)
        if (!strcmp(s->p[i].choices[c], choice)) return tuner_space_fix(s, name, (double)c);
    return kdt_fail(KDT_ERR_CONFIG, "search space: '%s' has no choice '%s'", name, choice);
}

size_t tuner_space_size(const tuner_space *s) { return s->n; }

int tuner_space_find(const tuner_space *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->p[i].name, name)) return (int)i;
    return -1;
}

const char *tuner_space_name(const tuner_space *s, size_t i) { KDT_ASSERT(i < s->n); return s->p[i].name; }
bool tuner_space_is_categorical(const tuner_space *s, size_t i) { KDT_ASSERT(i < s->n); return s->p[i].categorical; }
bool tuner_space_is_log(const tuner_space *s, size_t i) { KDT_ASSERT(i < s->n); return s->p[i].log_scale; }
bool tuner_space_is_fixed(const tuner_space *s, size_t i) { KDT_ASSERT(i < s->n); return s->p[i].fixed; }
double tuner_space_fixed_value(const tuner_space *s, size_t i) {
    KDT_ASSERT(i < s->n && s->p[i].fixed);
    return s->p[i].fixed_value;
}

double tuner_space_lower(const tuner_space *s, size_t i) { KDT_ASSERT(i < s->n); return s->p[i].lo; }
double tuner_space_upper(const tuner_space *s, size_t i) { KDT_ASSERT(i < s->n); return s->p[i].hi; }
size_t tuner_space_n_choices(const tuner_space *s, size_t i) { KDT_ASSERT(i < s->n); return s->p[i].n_choices; }

const char *tuner_space_choice(const tuner_space *s, size_t i, size_t c) {
    KDT_ASSERT(i < s->n && s->p[i].categorical && c < s->p[i].n_choices);
    return s->p[i].choices[c];
}

size_t tuner_space_n_cont(const tuner_space *s) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) k += !s->p[i].categorical && !s->p[i].fixed;
    return k;
}

size_t tuner_space_n_cat(const tuner_space *s) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) k += s->p[i].categorical && !s->p[i].fixed;
    return k;
}

void tuner_space_cat_sizes(const tuner_space *s, int *sizes) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->p[i].categorical && !s->p[i].fixed) sizes[k++] = (int)s->p[i].n_choices;
}

size_t tuner_space_n_combos(const tuner_space *s) {
    size_t n = 1;
    for (size_t i = 0; i < s->n; i++)
        if (s->p[i].categorical && !s->p[i].fixed) n *= s->p[i].n_choices;
    return n;
}

void tuner_space_combo(const tuner_space *s, size_t k, int *c) {
    int sizes[TUNER_MAX_PARAMS];
    size_t m = tuner_space_n_cat(s);
    tuner_space_cat_sizes(s, sizes);
    for (size_t j = m; j-- > 0;) {
        c[j] = (int)(k % (size_t)sizes[j]);
        k /= (size_t)sizes[j];
    }
    KDT_ASSERT(k == 0);
}

size_t tuner_space_combo_index(const tuner_space *s, const int *c) {
    int sizes[TUNER_MAX_PARAMS];
    size_t m = tuner_space_n_cat(s), k = 0;
    tuner_space_cat_sizes(s, sizes);
    for (size_t j = 0; j < m; j++) k = k * (size_t)sizes[j] + (size_t)c[j];
    return k;
}

static double to_unit(const param *p, double v) {
    double u = p->log_scale ? (log(v) - log(p->lo)) / (log(p->hi) - log(p->lo))
                            : (v - p->lo) / (p->hi - p->lo);
    return u < 0 ? 0 : u > 1 ? 1 : u;
}

static double from_unit(const param *p, double u) {
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    if (u == 0) return p->lo; // exact bounds, whatever the rounding of exp/log
    if (u == 1) return p->hi;
    double v = p->log_scale ? exp(log(p->lo) + u * (log(p->hi) - log(p->lo)))
                            : p->lo + u * (p->hi - p->lo);
    return v < p->lo ? p->lo : v > p->hi ? p->hi : v;
}

void tuner_space_encode(const tuner_space *s, const double *x, double *u, int *c) {
    size_t a = 0, b = 0;
    for (size_t i = 0; i < s->n; i++) {
        const param *p = &s->p[i];
        if (p->fixed) continue;
        if (p->categorical) {
            if (c) c[b] = (int)x[i];
            b++;
        } else {
            if (u) u[a] = to_unit(p, x[i]);
            a++;
        }
    }
}

void tuner_space_decode(const tuner_space *s, const double *u, const int *c, double *x) {
    size_t a = 0, b = 0;
    for (size_t i = 0; i < s->n; i++) {
        const param *p = &s->p[i];
        if (p->fixed) x[i] = p->fixed_value;
        else if (p->categorical) {
            KDT_ASSERT(c[b] >= 0 && (size_t)c[b] < p->n_choices);
            x[i] = c[b++];
        } else x[i] = from_unit(p, u[a++]);
    }
}

void tuner_space_decode_cube(const tuner_space *s, const double *v, double *x) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const param *p = &s->p[i];
        if (p->fixed) x[i] = p->fixed_value;
        else if (p->categorical) {
            size_t b = (size_t)(v[k++] * (double)p->n_choices);
            x[i] = (double)(b < p->n_choices ? b : p->n_choices - 1);
        } else x[i] = from_unit(p, v[k++]);
    }
}

bool tuner_space_contains(const tuner_space *s, const double *x) {
    for (size_t i = 0; i < s->n; i++) {
        const param *p = &s->p[i];
        if (!(x[i] >= p->lo && x[i] <= p->hi)) return false;
        if (p->categorical && x[i] != floor(x[i])) return false;
        if (p->fixed && x[i] != p->fixed_value) return false;
    }
    return true;
}

kdt_status tuner_space_point_format(const tuner_space *s, const double *x, char *buf, size_t cap) {
    size_t len = 0;
    int w = snprintf(buf, cap, "{");
    for (size_t i = 0; w >= 0 && i < s->n; i++) {
        len += (size_t)w;
        const param *p = &s->p[i];
        const char *sep = i ? "," : "";
        size_t room = len < cap ? cap - len : 0;
        char *at = len < cap ? buf + len : NULL;
        // %.17g: the text reads back to the same double
        if (p->categorical && x[i] >= 0 && x[i] < (double)p->n_choices && x[i] == floor(x[i]))
            w = snprintf(at, room, "%s\"%s\":\"%s\"", sep, p->name, p->choices[(size_t)x[i]]);
        else
            w = snprintf(at, room, "%s\"%s\":%.17g", sep, p->name, x[i]);
    }
    if (w >= 0) len += (size_t)w;
    if (w < 0 || len + 1 >= cap) {
        if (cap) buf[0] = '\0';
        return kdt_fail(KDT_ERR_STATE, "point: its text needs %zu bytes, the buffer has %zu", len + 2, cap);
    }
    buf[len++] = '}', buf[len] = '\0';
    return KDT_OK;
}
