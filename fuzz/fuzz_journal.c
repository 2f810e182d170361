// Fuzz target: the store's reader of trials.jsonl, one line (store_parse_line) and a whole file
// (store_open: torn tails, foreign identities, duplicates). What it accepts is a valid line: a
// pair inside the federation, finite numbers in range, names from the vocabulary.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "store/store.h"

static const char *const names[] = {"default", "grid", "eval", "gp", "random", "bobyqa"};
enum { N = sizeof names / sizeof names[0], P = 5 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t id = 0;
    store_eval e;
    store_recommendation r;
    int kind = store_parse_line((const char *)data, size, P, names, N, &id, &e, &r);
    if (kind == 1) {
        const store_setting *s = &e.setting;
        if (s->i < 0 || s->j >= P || s->i >= s->j || !(s->temperature > 0) || !(s->alpha >= 0 && s->alpha <= 1) ||
            (e.result.ok && !isfinite(e.result.val_gain)) || !kd_transfer_name(s->transfer) ||
            !kd_position_name(s->position) || !kd_method_name(s->method))
            __builtin_trap();
        char *back = store_format_eval(&e, id); // what was accepted writes back
        if (!back) __builtin_trap();
        free(back);
    } else if (kind == 2 && (r.recommended < 0 || r.recommended >= r.evaluations)) {
        __builtin_trap();
    }
    char path[256];
    fuzz_write(path, sizeof path, "trials.jsonl", data, size);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    store *st = NULL;
    store_options opt = {dir, id, P};
    if (store_open(&st, &opt, names, N) == KDT_OK) store_close(st);
    return 0;
}
