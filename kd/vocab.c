// Name tables of kd/'s enums.
#include "kd/vocab.h"

#include <string.h>

static const char *const transfer_names[KD_N_TRANSFERS] = {"unlabelled", "unlabelled_self", "student_data"};
static const char *const method_names[KD_N_METHODS] = {"kd", "dml", "dpkd"};
static const char *const position_names[KD_N_POSITIONS] = {"forward", "reverse"};

static kdt_status from_name(const char *what, const char *const *names, int n, const char *name, int *out) {
    for (int k = 0; k < n; k++)
        if (name && strcmp(names[k], name) == 0) {
            *out = k;
            return KDT_OK;
        }
    return kdt_fail(KDT_ERR_FORMAT, "unknown %s '%s'", what, name ? name : "(none)");
}

const char *kd_transfer_name(kd_transfer t) {
    return (int)t >= 0 && (int)t < KD_N_TRANSFERS ? transfer_names[t] : NULL;
}
kdt_status kd_transfer_from_name(const char *name, kd_transfer *out) {
    int k = 0;
    kdt_status s = from_name("transfer set", transfer_names, KD_N_TRANSFERS, name, &k);
    if (!s) *out = (kd_transfer)k;
    return s;
}
const char *kd_position_name(kd_position p) {
    return (int)p >= 0 && (int)p < KD_N_POSITIONS ? position_names[p] : NULL;
}
kdt_status kd_position_from_name(const char *name, kd_position *out) {
    int k = 0;
    kdt_status s = from_name("position", position_names, KD_N_POSITIONS, name, &k);
    if (!s) *out = (kd_position)k;
    return s;
}
const char *kd_method_name(kd_method m) {
    return (int)m >= 0 && (int)m < KD_N_METHODS ? method_names[m] : NULL;
}
kdt_status kd_method_from_name(const char *name, kd_method *out) {
    int k = 0;
    kdt_status s = from_name("method", method_names, KD_N_METHODS, name, &k);
    if (!s) *out = (kd_method)k;
    return s;
}
