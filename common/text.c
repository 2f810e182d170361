// Edit distance and round-trip float formatting.
#include "common/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t text_edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    size_t *row = malloc((m + 1) * sizeof *row);
    if (!row) return (size_t)-1;
    for (size_t j = 0; j <= m; j++) row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[m];
    free(row);
    return d;
}

void text_format_double(char *out, size_t cap, double x) {
    if (isnan(x)) { snprintf(out, cap, ".nan"); return; }
    if (isinf(x)) { snprintf(out, cap, x > 0 ? ".inf" : "-.inf"); return; }
    char buf[64];
    double ax = fabs(x);
    if (ax == 0.0 || (ax >= 1e-4 && ax < 1e16)) { // plain decimals where they stay short
        for (int digits = 0; digits <= 20; digits++) {
            snprintf(buf, sizeof buf, "%.*f", digits, x);
            if (strtod(buf, NULL) == x) break;
        }
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, x);
            if (strtod(buf, NULL) == x) break;
        }
    }
    // Make sure a reader sees a float: "1" -> "1.0", "1e-05" -> "1.0e-05".
    char *e = strchr(buf, 'e');
    if (!strchr(buf, '.')) {
        if (e) {
            char exp[32];
            snprintf(exp, sizeof exp, "%s", e);
            *e = '\0';
            snprintf(out, cap, "%s.0%s", buf, exp);
            return;
        }
        snprintf(out, cap, "%s.0", buf);
        return;
    }
    snprintf(out, cap, "%s", buf);
}
