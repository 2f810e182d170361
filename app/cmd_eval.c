// `kdtune eval`: KD evaluations of one pair, each printed as one JSON line, for external tuners:
// one setting from the command line, or (--stdin) one JSON setting per input line, answered line
// by line by one process (Optuna's ask/tell).
//
// What an answer costs. A setting the store holds is answered after taking the run directory
// (lock, fingerprint) and reading the journal: no data, no partition, no participant. Only the
// first setting it lacks builds the federation, from what the run directory kept (the data cache,
// the checkpoints, and the participants' outcomes before KD that the store recorded, so that they
// are not measured again), and every later one costs its KD round alone.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "app/evaluator.h"
#include "app/recommend.h"
#include "app/setup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/timer.h"
#include "model/model.h"
#include "store/store.h"

#include <jansson.h>

enum { EVAL_LINE_MAX = 1 << 16 }; // an input line longer than this is refused, not parsed

// One pair's evaluations in one run directory, held for the command's whole life.
typedef struct {
    kdt_config cfg;          // the base: kd.* are the settings' defaults
    int i, j;
    setup setup;             // the run directory taken; the federation built on the first miss
    bool built;
    store *store;            // until the first miss: the store alone, opened without the federation
    const char *names[EVALUATOR_N_STRATEGY_NAMES];
    evaluator *eval;         // from the first miss on (it owns its store)
} eval_session;

static store *session_store(eval_session *es) { return es->eval ? evaluator_store(es->eval) : es->store; }

// config.yaml is the resolved config of the last command, but kd.temperature, kd.alpha,
// kd.transfer_set and kd.position there are the run's default setting (what `kdtune report`
// compares against): an evaluation's setting must not replace them, so they are kept as the file
// has them. And rewriting it unchanged would cost two fsyncs on every answer.
static kdt_status write_config_yaml(const kdt_config *given, const char *run_dir) {
    char path[4096];
    kdt_status s = fs_join(path, sizeof path, run_dir, "config.yaml");
    if (s) return s;
    kdt_config *cfg = malloc(sizeof *cfg), *old = malloc(sizeof *old);
    if (!cfg || !old) {
        free(cfg);
        free(old);
        return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    }
    *cfg = *given;
    config_default(old);
    if (fs_exists(path) && config_load_file(old, path) == KDT_OK) {
        cfg->kd.temperature = old->kd.temperature;
        cfg->kd.alpha = old->kd.alpha;
        cfg->kd.transfer_set = old->kd.transfer_set;
        cfg->kd.position = old->kd.position;
    }
    free(old);
    char *yaml = config_to_yaml(cfg, false), *have = NULL;
    free(cfg);
    size_t len = 0;
    if (!yaml) return kdt_fail(KDT_ERR_NOMEM, "out of memory");
    bool same = fs_exists(path) && fs_read_all(path, &have, &len) == KDT_OK && len == strlen(yaml) &&
                memcmp(have, yaml, len) == 0;
    if (!same) s = fs_write_atomic(path, yaml, strlen(yaml));
    free(have);
    free(yaml);
    return s;
}

static kdt_status session_open(eval_session *es, const kdt_config *cfg, int i, int j) {
    memset(es, 0, sizeof *es);
    es->setup.lock_fd = -1;
    es->cfg = *cfg;
    es->i = i;
    es->j = j;
    int P = cfg->federation.participants;
    if (j >= P)
        return kdt_fail(KDT_ERR_USAGE, "--pair %d,%d: participant %d does not exist; federation.participants "
                        "is %d, so ids go from 0 to %d", i, j, j, P, P - 1);
    kdt_status s = setup_open_run_dir(&es->setup, cfg);
    if (!s) s = write_config_yaml(cfg, es->setup.run_dir);
    return s; // the store is opened when first needed (session_eval)
}

static void session_close(eval_session *es) {
    evaluator_destroy(es->eval);
    store_close(es->store);
    setup_free(&es->setup);
    memset(es, 0, sizeof *es);
}

// The store's outcomes of participant cid before KD, when they fit the splits just loaded.
static bool recall_outcomes(void *ctx, int cid, const uint8_t **val, const uint8_t **test) {
    eval_session *es = ctx;
    store_outcomes o;
    if (!es->store || !store_participant_outcomes(es->store, cid, &o)) return false;
    if (o.n_val != es->setup.splits.val->n || o.n_test != es->setup.splits.test->n) return false;
    *val = o.val;
    *test = o.test;
    return true;
}

// The first miss: the federation (data, partition, participants), then the evaluator, which
// opens the store again for itself (the outcomes recalled are copied before this one closes).
// Participants missing a checkpoint are pre-trained side by side, one thread each (far faster
// for small models, and the same result); the KD rounds then run one at a time on every thread,
// as before.
static kdt_status session_build(eval_session *es) {
    double t0 = timer_now();
    int threads = setup_threads(&es->cfg);
    kdt_status s = setup_build_federation(&es->setup, &es->cfg, threads, recall_outcomes, es);
    model_set_threads(threads);
    store_close(es->store);
    es->store = NULL;
    es->built = true; // even on failure: setup is not to be built twice
    if (!s) s = evaluator_create(&es->eval, &es->setup, &es->cfg, 1);
    if (!s) log_debug("eval: federation ready in %.1f ms", 1e3 * (timer_now() - t0));
    return s;
}

// The setting evaluated: read back from the store, or trained as the next line of the pair's
// `eval` run.
static kdt_status session_eval(eval_session *es, const store_setting *set, store_eval *e) {
    store_run run = {.strategy = "eval", .i = es->i, .j = es->j, .fixed_position = -1};
    memset(e, 0, sizeof *e);
    e->run = run;
    e->setting = *set;
    kdt_status s = KDT_OK;
    if (!es->store && !es->eval) {
        // Nothing open yet: a setting evaluated before is found in the journal's text without
        // parsing all of it (a large journal costs a full read otherwise); else the store opens.
        evaluator_strategy_names(es->names);
        store_options opt = {es->setup.run_dir, evaluator_identity(&es->cfg), es->cfg.federation.participants};
        bool found;
        if ((s = store_peek(&opt, es->names, EVALUATOR_N_STRATEGY_NAMES, set, &e->result, &found))) return s;
        if (found) {
            log_debug("eval: answered from the journal's text; the federation was not built");
            return KDT_OK;
        }
        if ((s = evaluator_open_store(&es->store, &es->cfg, es->setup.run_dir, es->names))) return s;
    }
    if (store_lookup(session_store(es), set, &e->result)) {
        log_debug("eval: answered from %s; the federation was %s", store_journal_path(session_store(es)),
                  es->built ? "built before" : "not built");
        return KDT_OK;
    }
    if (es->built && !es->eval) return kdt_fail(KDT_ERR_STATE, "the federation could not be built (see above)");
    s = es->eval ? KDT_OK : session_build(es);
    store_eval *lines = NULL;
    size_t n = 0;
    if (!s) s = store_run_evals(session_store(es), &run, &lines, &n);
    free(lines);
    if (!s) s = evaluator_eval(es->eval, 0, &run, (int)n, set, e);
    return s;
}

// The evaluation as one JSON line: the journal line without its bookkeeping, so that the same
// call prints the same line whether it trained or read the store.
static kdt_status eval_print(FILE *out, const store_eval *e) {
    char *text = store_format_eval(e, 0);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!o) return kdt_fail(KDT_ERR_NOMEM, "out of memory formatting the evaluation");
    static const char *bookkeeping[] = {"v", "type", "kd_config", "strategy", "fixed_position", "budget", "i", "cached"};
    for (size_t k = 0; k < sizeof bookkeeping / sizeof bookkeeping[0]; k++) json_object_del(o, bookkeeping[k]);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!line) return kdt_fail(KDT_ERR_NOMEM, "out of memory formatting the evaluation");
    fprintf(out, "%s\n", line);
    fflush(out);
    free(line);
    return KDT_OK;
}

// ---- --stdin ------------------------------------------------------------------------------------

static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_TRUE: case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    default: return "number";
    }
}

// Fills *set from one input line: a JSON object whose keys are among these, each checked as the
// config schema checks kd.* (omitted keys keep the base setting). Returns NULL, or what is wrong.
static const char *parse_setting(const char *text, size_t len, store_setting *set, char *why, size_t cap) {
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        snprintf(why, cap, "not JSON: %s (column %d); expected one object per line, e.g. "
                 "{\"temperature\": 2.0, \"alpha\": 0.7}", jerr.text, jerr.column);
        return why;
    }
    const char *bad = NULL;
    if (!json_is_object(o)) {
        snprintf(why, cap, "expected a JSON object, e.g. {\"temperature\": 2.0, \"alpha\": 0.7}");
        bad = why;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (bad) break;
        if (!strcmp(key, "temperature") || !strcmp(key, "alpha") || !strcmp(key, "fidelity")) {
            double lo = !strcmp(key, "temperature") ? 0.01 : 0, hi = !strcmp(key, "temperature") ? 1000 : 1;
            bool open_lo = !strcmp(key, "fidelity");
            double x = json_number_value(v);
            if (!json_is_number(v)) {
                snprintf(why, cap, "%s: expected a number in %s%g, %g], not a %s", key, open_lo ? "(" : "[", lo, hi,
                         json_type_name(v));
                bad = why;
            } else if (!isfinite(x) || (open_lo ? x <= lo : x < lo) || x > hi) {
                snprintf(why, cap, "%s: %g is out of range: expected a number in %s%g, %g]", key, x,
                         open_lo ? "(" : "[", lo, hi);
                bad = why;
            } else if (!strcmp(key, "temperature")) set->temperature = x;
            else if (!strcmp(key, "alpha")) set->alpha = x;
            else set->fidelity = x;
        } else if (!strcmp(key, "replicate")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1 << 20)) {
                snprintf(why, cap, "replicate: expected an integer in [0, %d]", 1 << 20);
                bad = why;
            } else set->replicate = (int)json_integer_value(v);
        } else if (!strcmp(key, "transfer_set") || !strcmp(key, "position") || !strcmp(key, "method")) {
            const char *name = json_string_value(v);
            kdt_status s = KDT_ERR_CONFIG;
            const char *choices;
            if (!strcmp(key, "transfer_set")) {
                choices = "unlabelled, unlabelled_self, student_data";
                kd_transfer t;
                if (name && !(s = kd_transfer_from_name(name, &t))) set->transfer = t;
            } else if (!strcmp(key, "position")) {
                choices = "forward, reverse";
                kd_position p;
                if (name && !(s = kd_position_from_name(name, &p))) set->position = p;
            } else {
                choices = "kd, dml, dpkd";
                kd_method m;
                if (name && !(s = kd_method_from_name(name, &m))) set->method = m;
            }
            if (s) {
                if (name) snprintf(why, cap, "%s: '%.64s' is not one of %s", key, name, choices);
                else snprintf(why, cap, "%s: expected a string, one of %s", key, choices);
                bad = why;
            }
        } else {
            snprintf(why, cap, "unknown key '%.64s'; the keys are temperature, alpha, transfer_set, position, "
                     "method, replicate and fidelity", key);
            bad = why;
        }
    }
    json_decref(o);
    return bad;
}

static void print_error(FILE *out, const char *msg) {
    json_t *o = json_pack("{s:s}", "error", msg);
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    fprintf(out, "%s\n", line ? line : "{\"error\": \"out of memory\"}");
    fflush(out);
    free(line);
    json_decref(o);
}

// One answer per input line until EOF. A line at fault gets {"error": ...} and the loop goes on;
// a failure of kdtune itself (the journal cannot be written, the federation cannot be built) is
// answered the same way and ends it.
static kdt_status serve_stdin(eval_session *es, const store_setting *base) {
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    kdt_status s = KDT_OK;
    long lineno = 0;
    while (!s && (len = getline(&buf, &cap, stdin)) >= 0) {
        lineno++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
        char why[512], msg[700];
        store_setting set = *base;
        if ((size_t)len == strspn(buf, " \t")) { // answered too: a client waits for one line per line
            snprintf(msg, sizeof msg, "line %ld: empty; expected a JSON object, e.g. {\"temperature\": 2.0}", lineno);
            print_error(stdout, msg);
            continue;
        }
        if (len > EVAL_LINE_MAX) {
            snprintf(msg, sizeof msg, "line %ld: longer than %d bytes; one setting per line", lineno, EVAL_LINE_MAX);
            print_error(stdout, msg);
            continue;
        }
        if (parse_setting(buf, (size_t)len, &set, why, sizeof why)) {
            snprintf(msg, sizeof msg, "line %ld: %s", lineno, why);
            log_warn("--stdin %s", msg);
            print_error(stdout, msg);
            continue;
        }
        store_eval e;
        if (!(s = session_eval(es, &set, &e))) s = eval_print(stdout, &e);
        if (s) {
            snprintf(msg, sizeof msg, "line %ld: %s", lineno, kdt_errmsg());
            print_error(stdout, msg);
            kdt_fail(s, "%s", msg);
        }
    }
    if (!s && ferror(stdin)) s = kdt_fail(KDT_ERR_IO, "--stdin: reading standard input: %s", strerror(errno));
    free(buf);
    return s;
}

static int run(const cli_args *args) {
    if (!args->opt['p']) {
        log_error("eval: --pair I,J is required");
        fprintf(stderr, "Try 'kdtune eval --help'.\n");
        return 2;
    }
    int i, j, used = 0;
    if (sscanf(args->opt['p'], "%d,%d%n", &i, &j, &used) != 2 || args->opt['p'][used] || i == j || i < 0 || j < 0) {
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
    store_setting set = {.i = i, .j = j, .position = cfg.kd.position, .temperature = cfg.kd.temperature,
                         .alpha = cfg.kd.alpha, .transfer = cfg.kd.transfer_set, .method = cfg.kd.method,
                         .replicate = cfg.kd.replicate, .fidelity = 1};
    eval_session es;
    s = session_open(&es, &cfg, i, j);
    if (!s && args->opt['s']) s = serve_stdin(&es, &set);
    else if (!s) {
        store_eval e;
        s = session_eval(&es, &set, &e);
        if (!s) s = eval_print(stdout, &e);
    }
    if (s) log_error("%s", kdt_errmsg());
    session_close(&es);
    return kdt_exit_code(s);
}

static const struct option options[] = {{"pair", required_argument, NULL, 'p'},
                                        {"recommended", required_argument, NULL, 'r'},
                                        {"stdin", no_argument, NULL, 's'},
                                        {0}};

const cli_command cmd_eval = {
    .name = "eval",
    .summary = "KD evaluations of a pair, one JSON line each (for external tuners; --stdin for ask/tell).",
    .usage = "[-c FILE] [-o DIR] --pair I,J [--recommended FILE | --stdin] [kd.temperature=T kd.alpha=A "
             "kd.transfer_set=S kd.position=forward|reverse]",
    .help = "  -p, --pair I,J        the pair: forward = I teaches J (I < J), reverse = J teaches I\n"
            "  -r, --recommended F   take the pair's setting from a recommended.yaml\n"
            "      --stdin           read one JSON setting per line on stdin and answer each with one\n"
            "                        JSON line on stdout (flushed), until EOF\n"
            "\nRuns one KD round (or finds it in DIR/trials.jsonl) and prints student, teacher, the\n"
            "setting, val_gain, test_gain, forgetting, the accuracies before and after, seconds and\n"
            "status. Gains are fractions. A setting the journal holds is answered without loading\n"
            "the data or the participants; the first new one pre-trains what is missing.\n"
            "\nWith --stdin, a line is an object with any of the keys temperature ([0.01, 1000]),\n"
            "alpha ([0, 1]), transfer_set (unlabelled, unlabelled_self, student_data), position\n"
            "(forward, reverse), method (kd, dml, dpkd), replicate (an integer >= 0) and fidelity\n"
            "((0, 1]); omitted keys take kd.* of the config, method kd, replicate 0, fidelity 1:\n"
            "  {\"temperature\": 2.0, \"alpha\": 0.7, \"transfer_set\": \"unlabelled\", \"position\": \"forward\"}\n"
            "Every line gets one answer; a line that is not such an object gets {\"error\": \"...\"}\n"
            "and the loop goes on.\n"
            "Logs go to stderr only.\n",
    .options = options,
    .shortopts = "p:r:",
    .run = run,
};
