// The search space: typed parameters (continuous with bounds on a linear or log scale,
// categorical with named choices, either of which may be fixed), the encoding of a point to the
// unit cube that every strategy works in, and the text of a point (for messages).
//
// A point is an array of doubles in parameter order: a continuous parameter holds its value, a
// categorical one holds its choice index (0, 1, ...). Fixed parameters hold their fixed value.
// The encoding keeps only the free parameters: `u` (free continuous, in [0, 1], log-scaled where
// the parameter is log) and `c` (free categorical choice indices).
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

enum { TUNER_MAX_PARAMS = 32, TUNER_MAX_CHOICES = 64, TUNER_NAME_CAP = 64 };

typedef struct tuner_space tuner_space;

kdt_status tuner_space_create(tuner_space **out);
void tuner_space_destroy(tuner_space *s);
kdt_status tuner_space_clone(tuner_space **out, const tuner_space *s);

// Adds a continuous parameter on [lo, hi] (lo < hi, finite; lo > 0 when log_scale).
kdt_status tuner_space_add_continuous(tuner_space *s, const char *name, double lo, double hi,
                                      bool log_scale);
// Adds a categorical parameter with n >= 1 named choices (distinct names).
kdt_status tuner_space_add_categorical(tuner_space *s, const char *name,
                                       const char *const *choices, size_t n);
// Fixes a parameter: a value within the bounds, or a choice index for a categorical.
kdt_status tuner_space_fix(tuner_space *s, const char *name, double value);
// Fixes a categorical parameter by the name of its choice.
kdt_status tuner_space_fix_choice(tuner_space *s, const char *name, const char *choice);

// ---- queries ------------------------------------------------------------------------------------
size_t tuner_space_size(const tuner_space *s);           // parameters, free and fixed
int tuner_space_find(const tuner_space *s, const char *name); // index, or -1
const char *tuner_space_name(const tuner_space *s, size_t i);
bool tuner_space_is_categorical(const tuner_space *s, size_t i);
bool tuner_space_is_log(const tuner_space *s, size_t i);
bool tuner_space_is_fixed(const tuner_space *s, size_t i);
double tuner_space_fixed_value(const tuner_space *s, size_t i); // asserts that i is fixed
double tuner_space_lower(const tuner_space *s, size_t i); // categorical: 0
double tuner_space_upper(const tuner_space *s, size_t i); // categorical: n_choices - 1
size_t tuner_space_n_choices(const tuner_space *s, size_t i); // continuous: 0
const char *tuner_space_choice(const tuner_space *s, size_t i, size_t c);

// ---- encoding -----------------------------------------------------------------------------------
size_t tuner_space_n_cont(const tuner_space *s); // free continuous parameters
size_t tuner_space_n_cat(const tuner_space *s);  // free categorical parameters
// Choice counts of the free categorical parameters, in order: (n_cat).
void tuner_space_cat_sizes(const tuner_space *s, int *sizes);
// Number of combinations of the free categorical choices (1 when there are none).
size_t tuner_space_n_combos(const tuner_space *s);
// The k-th combination (k < n_combos), the first free categorical varying slowest: c (n_cat).
void tuner_space_combo(const tuner_space *s, size_t k, int *c);
size_t tuner_space_combo_index(const tuner_space *s, const int *c);

// x (size) -> u (n_cont) in [0, 1] and c (n_cat). Either output may be NULL.
void tuner_space_encode(const tuner_space *s, const double *x, double *u, int *c);
// u (n_cont), clamped to [0, 1], and c (n_cat) -> x (size), fixed values filled in.
void tuner_space_decode(const tuner_space *s, const double *u, const int *c, double *x);
// A point of the whole unit cube of free dimensions, v (n_cont + n_cat), to x: categoricals
// take the bin floor(v * n_choices). Used by space-filling designs.
void tuner_space_decode_cube(const tuner_space *s, const double *v, double *x);
// Whether x lies in the space: bounds, integral in-range choice indices, fixed values.
bool tuner_space_contains(const tuner_space *s, const double *x);

// ---- text ---------------------------------------------------------------------------------------
// The compact JSON text of a point into buf (cap bytes), e.g. {"T":2,"set":"unlabelled"}: numbers
// with 17 significant digits (they read back exactly), choice names for categorical parameters.
// KDT_ERR_STATE if it does not fit.
kdt_status tuner_space_point_format(const tuner_space *s, const double *x, char *buf, size_t cap);
