// `kdtune eval`: one KD evaluation of a pair and a setting, printed as one JSON line (for
// external tuners such as Optuna's ask/tell command line).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "app/pipeline.h"
#include "app/recommend.h"
#include "common/log.h"
#include "store/store.h"

#include <jansson.h>

// The evaluation as one JSON line: the journal line without its bookkeeping, so that the same
// call prints the same line whether it trained or read the store.
static kdt_status eval_print(FILE *out, const store_eval *e) {
    char *text = store_format_eval(e, 0);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!o) return kdt_fail(KDT_ERR_NOMEM, "out of memory formatting the evaluation");
    static const char *bookkeeping[] = {"v", "type", "kd_config", "strategy", "fixed_position", "i", "cached"};
    for (size_t k = 0; k < sizeof bookkeeping / sizeof bookkeeping[0]; k++) json_object_del(o, bookkeeping[k]);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!line) return kdt_fail(KDT_ERR_NOMEM, "out of memory formatting the evaluation");
    fprintf(out, "%s\n", line);
    fflush(out);
    free(line);
    return KDT_OK;
}

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
    kdt_config cfg;
    kdt_status s = cli_load_config(args, &cfg);
    if (s) return kdt_exit_code(s);
    // A recommended.yaml entry becomes the setting; explicit key=value overrides still win.
    if (args->opt['r']) {
        recommend_setting r;
        if ((s = recommend_read(args->opt['r'], i, j, &r))) {
            log_error("%s", kdt_errmsg());
            return kdt_exit_code(s);
        }
        if (!cli_overrides_key(args, "kd.temperature")) cfg.kd.temperature = r.temperature;
        if (!cli_overrides_key(args, "kd.alpha")) cfg.kd.alpha = r.alpha;
        if (!cli_overrides_key(args, "kd.transfer_set")) cfg.kd.transfer_set = r.transfer_set;
        if (!cli_overrides_key(args, "kd.position")) cfg.kd.position = r.position;
    }
    char pair[32];
    snprintf(pair, sizeof pair, "%d-%d", i, j);
    pipeline p;
    s = pipeline_open(&p, &(pipeline_request){&cfg, pair, false});
    if (!s) {
        store_setting set = {.i = i, .j = j, .position = cfg.kd.position,
                             .temperature = cfg.kd.temperature, .alpha = cfg.kd.alpha,
                             .transfer = cfg.kd.transfer_set, .method = cfg.kd.method,
                             .replicate = cfg.kd.replicate, .fidelity = 1};
        store_run run = {.strategy = "eval", .i = i, .j = j, .fixed_position = -1};
        store_eval e = {.run = run, .setting = set};
        store *st = evaluator_store(p.eval);
        // A setting evaluated before (by any command) is printed as it is; a new one is recorded
        // as the next line of the pair's `eval` run.
        if (!store_lookup(st, &set, &e.result)) {
            store_eval *lines;
            size_t n;
            s = store_run_evals(st, &run, &lines, &n);
            free(lines);
            if (!s) s = evaluator_eval(p.eval, 0, &run, (int)n, &set, &e);
        }
        if (!s) s = eval_print(stdout, &e);
        if (s) log_error("%s", kdt_errmsg());
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
