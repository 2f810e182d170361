// `kdtune eval`: one KD evaluation of a pair and a setting, printed as one JSON line (for
// external tuners such as Optuna's ask/tell command line).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "app/pipeline.h"
#include "app/recommend.h"
#include "common/log.h"

static int run(const cli_args *args) {
    if (!args->opt['p']) {
        log_error("eval: --pair I,J is required");
        fprintf(stderr, "Try 'kdtune eval --help'.\n");
        return 2;
    }
    int i, j, used = 0;
    if (sscanf(args->opt['p'], "%d,%d%n", &i, &j, &used) != 2 || args->opt['p'][used] || i == j) {
        log_error("eval: --pair '%s': expected two different participants, e.g. --pair 0,3", args->opt['p']);
        return 2;
    }
    if (i > j) { int t = i; i = j; j = t; }
    // A recommended.yaml entry becomes the setting (explicit key=value overrides still win).
    cli_args a = *args;
    char rec[4][64];
    if (args->opt['r']) {
        recommend_setting r;
        kdt_status s = recommend_read(args->opt['r'], i, j, &r);
        if (s) {
            log_error("%s", kdt_errmsg());
            return kdt_exit_code(s);
        }
        snprintf(rec[0], sizeof rec[0], "kd.temperature=%.17g", r.temperature);
        snprintf(rec[1], sizeof rec[1], "kd.alpha=%.17g", r.alpha);
        snprintf(rec[2], sizeof rec[2], "kd.transfer_set=%s", config_choice_name("kd.transfer_set", r.transfer_set));
        snprintf(rec[3], sizeof rec[3], "kd.position=%s", config_choice_name("kd.position", r.position));
        memmove(a.overrides + 4, a.overrides, sizeof *a.overrides * (size_t)(a.n_overrides < CLI_MAX_OVERRIDES - 4 ? a.n_overrides : CLI_MAX_OVERRIDES - 4));
        for (int k = 0; k < 4; k++) a.overrides[k] = rec[k];
        a.n_overrides = a.n_overrides + 4 > CLI_MAX_OVERRIDES ? CLI_MAX_OVERRIDES : a.n_overrides + 4;
    }
    char pair[32];
    snprintf(pair, sizeof pair, "%d-%d", i, j);
    pipeline p;
    kdt_status s = pipeline_open(&p, &a, pair, false);
    if (!s) {
        const kdt_config *cfg = p.cfg;
        trial t = {.fixed_position = -1};
        snprintf(t.strategy, sizeof t.strategy, "eval");
        s = evaluator_eval(p.eval, 0, i, j, cfg->kd.temperature, cfg->kd.alpha, cfg->kd.transfer_set, cfg->kd.position, &t);
        // One journal line per distinct setting, keyed by it.
        char key[160];
        snprintf(key, sizeof key, "eval/%d-%d/%s/%s/%.17g/%.17g", i, j, config_choice_name("kd.position", t.position),
                 config_choice_name("kd.transfer_set", t.transfer_set), t.temperature, t.alpha);
        if (!s && !evaluator_has_line(p.eval, key, 0)) s = evaluator_append(p.eval, &t, key);
        if (!s) {
            json_t *o = trial_to_json(&t);
            json_object_del(o, "fixed_position");
            json_object_del(o, "cached"); // the same call prints the same line, cached or not
            char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
            printf("%s\n", line);
            free(line);
            json_decref(o);
        } else {
            log_error("%s", kdt_errmsg());
        }
    }
    pipeline_close(&p);
    return kdt_exit_code(s);
}

static const struct option options[] = {
    {"pair", required_argument, NULL, 'p'}, {"recommended", required_argument, NULL, 'r'}, {0}};

const cli_command cmd_eval = {
    .name = "eval",
    .summary = "One KD evaluation of a pair, printed as one JSON line (for external tuners).",
    .usage = "[-c FILE] [-o DIR] --pair I,J [--recommended FILE] [kd.temperature=T kd.alpha=A "
             "kd.transfer_set=S kd.position=forward|reverse]",
    .help = "  -p, --pair I,J        the pair: forward = I teaches J (I < J), reverse = J teaches I\n"
            "  -r, --recommended F   take the pair's setting from a recommended.yaml\n"
            "\nPre-trains what is missing, then runs one KD round (or finds it in DIR/trials.jsonl)\n"
            "and prints student, teacher, the setting, val_gain, test_gain, forgetting, the\n"
            "accuracies before and after, seconds and status. Gains are fractions.\n",
    .options = options,
    .shortopts = "p:r:",
    .run = run,
};
