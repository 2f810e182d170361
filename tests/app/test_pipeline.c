// kdtune grid / tune / run / report / eval on a tiny federation, through the binary: resume after
// a kill in the middle of grid and of tune (no evaluation lost or repeated), the summary checked
// against the journal, recommended.yaml read back, and eval taking a recommended entry.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"

// 4 participants (6 pairs), a 3x8x8 MLP: a whole run takes a few seconds.
static const char *const tiny[] = {
    "federation.participants=4", "data.synthetic.image_size=8", "data.augment.crop_padding=1",
    "data.pool_size=800", "data.transfer_size=300", "data.val_size=300", "data.test_size=500",
    "model.arch=mlp", "model.mlp_hidden=[32]", "pretrain.epochs=15", "pretrain.augment=false",
    "grid.temperatures=[1,2,4]", "grid.alphas=[0.25,0.5,1.0]", "tuner.budget=6",
    "tuner.initial_points=2", "tuner.strategies=[gp,random,sbplx]", "output.plots=false",
    "experiment.threads=1", NULL};

static char dir[64];

// Starts kdtune COMMAND with the extra arguments (NULL-terminated) and the tiny config, its stdout
// into out_path when given; returns its pid.
static pid_t spawn(const char *command, const char *const *extra, const char *out_path, bool quiet) {
    const char *argv[64];
    int n = 0;
    argv[n++] = KDT_BINARY_DIR "/kdtune";
    argv[n++] = command;
    if (quiet) argv[n++] = "-q";
    argv[n++] = "-o";
    argv[n++] = dir;
    // Options first, then the tiny config, then the extra key=value overrides (which win).
    for (int k = 0; extra && extra[k]; k++)
        if (!strchr(extra[k], '=')) argv[n++] = extra[k];
    for (int k = 0; tiny[k]; k++) argv[n++] = tiny[k];
    for (int k = 0; extra && extra[k]; k++)
        if (strchr(extra[k], '=')) argv[n++] = extra[k];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (out_path) assert_non_null(freopen(out_path, "w", stdout));
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int run(const char *command, const char *const *extra, const char *out_path) {
    int status;
    waitpid(spawn(command, extra, out_path, true), &status, 0);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static json_t *journal(size_t *n) {
    char path[128];
    snprintf(path, sizeof path, "%s/trials.jsonl", dir);
    FILE *f = fopen(path, "r");
    json_t *lines = json_array();
    if (f) {
        char buf[8192];
        while (fgets(buf, sizeof buf, f)) {
            json_t *o = json_loads(buf, 0, NULL);
            assert_non_null(o); // every line is whole
            json_array_append_new(lines, o);
        }
        fclose(f);
    }
    *n = json_array_size(lines);
    return lines;
}

// The run of an evaluation line as people write it ("gp/0-3" or "gp/0-3/reverse"), or "" for a
// recommendation line.
static void run_of(const json_t *line, char *out, size_t cap) {
    out[0] = '\0';
    if (strcmp(json_string_value(json_object_get(line, "type")), "eval") != 0) return;
    json_t *pair = json_object_get(line, "pair"), *fixed = json_object_get(line, "fixed_position");
    snprintf(out, cap, "%s/%lld-%lld%s%s", json_string_value(json_object_get(line, "strategy")),
             (long long)json_integer_value(json_array_get(pair, 0)), (long long)json_integer_value(json_array_get(pair, 1)),
             json_is_string(fixed) ? "/" : "", json_is_string(fixed) ? json_string_value(fixed) : "");
}

// Every (run, i) of the journal appears once, and run `prefix` has `want` evaluation lines.
static void assert_journal_sound(const char *prefix, size_t want) {
    size_t n, have = 0;
    json_t *lines = journal(&n);
    char ra[96], rb[96];
    for (size_t a = 0; a < n; a++) {
        json_t *la = json_array_get(lines, a);
        run_of(la, ra, sizeof ra);
        json_int_t ia = json_integer_value(json_object_get(la, "i"));
        if (!ra[0]) continue;
        if (strncmp(ra, prefix, strlen(prefix)) == 0) have++;
        for (size_t b = a + 1; b < n; b++) {
            json_t *lb = json_array_get(lines, b);
            run_of(lb, rb, sizeof rb);
            if (strcmp(ra, rb) == 0 && ia == json_integer_value(json_object_get(lb, "i")))
                fail_msg("journal line %zu repeats run %s, evaluation %lld", b + 1, ra, (long long)ia);
        }
    }
    json_decref(lines);
    if (have != want) fail_msg("%s: %zu evaluation lines, wanted %zu", prefix, have, want);
}

// Complete lines of the journal while a writer may be in the middle of one.
static size_t journal_lines_now(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/trials.jsonl", dir);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    for (int c; f && (c = fgetc(f)) != EOF;) n += c == '\n';
    if (f) fclose(f);
    return n;
}

// Starts a command and kills it (SIGKILL) once the journal has grown past `lines` lines.
static void kill_midway(const char *command, const char *const *extra, size_t lines) {
    pid_t pid = spawn(command, extra, NULL, true);
    for (int tries = 0; tries < 60000; tries++) {
        size_t n = journal_lines_now();
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) fail_msg("%s finished before it could be killed", command);
        if (n >= lines) break;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void resume_after_kills(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kdt_pipeline_%d", (int)getpid());
    // 6 pairs x (6 default + 3 x 3 x 3 x 2 = 54 grid): killed after 100 lines, then finished.
    kill_midway("grid", NULL, 100);
    size_t n;
    json_decref(journal(&n));
    printf("# grid killed after %zu journal lines\n", n);
    assert_true(n >= 100 && n < 6 * 60);
    assert_int_equal(run("grid", NULL, NULL), 0);
    assert_journal_sound("grid/", 6 * 54);
    assert_journal_sound("default/", 6 * 6);
    // tune: 3 strategies x 6 pairs x 6 evaluations; killed a few evaluations in.
    kill_midway("tune", NULL, n = 6 * 60 + 20);
    assert_int_equal(run("tune", NULL, NULL), 0);
    // tuner.budget = 6 paid evaluations on top of the 6 free default-phase settings
    assert_journal_sound("gp/", 6 * 12);
    assert_journal_sound("random/", 6 * 12);
    assert_journal_sound("sbplx/", 6 * 12);
    // Run again: everything is there, nothing is added.
    size_t before, after;
    json_decref(journal(&before));
    assert_int_equal(run("tune", NULL, NULL), 0);
    assert_int_equal(run("grid", NULL, NULL), 0);
    json_decref(journal(&after));
    assert_int_equal(before, after);
}

static double jnum(json_t *o, const char *key) { return json_real_value(json_object_get(o, key)); }

// --ordered tunes each ordered pair with the position fixed: runs gp/I-J/forward and /reverse.
static void ordered_tuning(void **state) {
    (void)state;
    const char *args[] = {"--strategy", "gp", "--ordered", "--pairs", "1-3", NULL};
    assert_int_equal(run("tune", args, NULL), 0);
    // one position: 6 paid and the 3 free default settings (one per transfer set)
    assert_journal_sound("gp/1-3/forward", 9);
    assert_journal_sound("gp/1-3/reverse", 9);
    size_t n;
    json_t *lines = journal(&n);
    for (size_t k = 0; k < n; k++) {
        json_t *l = json_array_get(lines, k);
        char r[96];
        run_of(l, r, sizeof r);
        if (strcmp(r, "gp/1-3/reverse") == 0) {
            assert_string_equal(json_string_value(json_object_get(l, "position")), "reverse");
            assert_int_equal(json_integer_value(json_object_get(l, "student")), 1);
        }
    }
    json_decref(lines);
}

// A damaged checkpoint is reported and retrained (to the same weights: training is deterministic);
// a run directory made with another config is refused with exit status 2.
static void damaged_checkpoint_and_foreign_config(void **state) {
    (void)state;
    char path[128], csv[128], *before, *after;
    size_t len;
    snprintf(csv, sizeof csv, "%s/participants/pretrain.csv", dir);
    assert_int_equal(fs_read_all(csv, &before, &len), KDT_OK);
    snprintf(path, sizeof path, "%s/participants/p2.ckpt", dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 200, SEEK_SET);
    fputc(0x5A, f);
    fclose(f);
    assert_int_equal(run("pretrain", NULL, NULL), 0);
    assert_int_equal(fs_read_all(csv, &after, &len), KDT_OK);
    char *row_before = strstr(before, "\n2,"), *row_after = strstr(after, "\n2,");
    assert_non_null(row_before);
    assert_non_null(row_after);
    // Same accuracies (the columns up to "seconds"), now marked as trained rather than loaded.
    assert_memory_equal(row_before, row_after, (size_t)(strstr(row_before, ",0.") - row_before) + 30);
    assert_non_null(strstr(row_after, ",trained,"));
    free(before);
    free(after);
    const char *other[] = {"partition.seed=7", NULL};
    assert_int_equal(run("pretrain", other, NULL), 2);
    // While another command holds the run directory, a second one is refused.
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(run("grid", NULL, NULL), 1);
    // `kdtune report` too: it never reads a journal that another command is appending to.
    assert_int_equal(run("report", NULL, NULL), 1);
    close(fd);
}

// Every row of report.md's first table has as many cells as its header.
static void assert_report_table_even(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int want = -1, rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '|') {
            if (want >= 0) break; // the end of the first table
            continue;
        }
        int bars = 0;
        for (char *c = line; *c; c++) bars += *c == '|';
        if (want < 0) want = bars;
        else if (bars != want) fail_msg("report.md row with %d cells, header %d: %s", bars - 1, want - 1, line);
        rows++;
    }
    fclose(f);
    assert_true(rows >= 4);
}

static void summary_matches_the_journal(void **state) {
    (void)state;
    assert_int_equal(run("report", NULL, NULL), 0);
    assert_report_table_even();
    char path[128];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_t *sum = json_load_file(path, 0, NULL);
    assert_non_null(sum);
    // Recompute from the journal: the default's mean test gain (T=1, alpha=0.5, unlabelled,
    // forward) and the grid's best (by val) mean test gain, over the 6 pairs.
    size_t n;
    json_t *lines = journal(&n);
    double def = 0, grid_best_val[6], grid_best_test[6];
    int pairs_seen = 0;
    for (int q = 0; q < 6; q++) grid_best_val[q] = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        json_t *l = json_array_get(lines, k);
        const char *strategy = json_string_value(json_object_get(l, "strategy"));
        json_t *pair = json_object_get(l, "pair");
        int i = (int)json_integer_value(json_array_get(pair, 0)), j = (int)json_integer_value(json_array_get(pair, 1));
        int q = i == 0 ? j - 1 : i == 1 ? j + 1 : 5; // (0,1)..(0,3), (1,2), (1,3), (2,3)
        if (strcmp(strategy, "default") == 0 && jnum(l, "temperature") == 1.0 && jnum(l, "alpha") == 0.5 &&
            strcmp(json_string_value(json_object_get(l, "transfer_set")), "unlabelled") == 0 &&
            strcmp(json_string_value(json_object_get(l, "position")), "forward") == 0) {
            def += jnum(l, "test_gain");
            pairs_seen++;
        }
        if (strcmp(strategy, "grid") == 0 && jnum(l, "val_gain") > grid_best_val[q]) {
            grid_best_val[q] = jnum(l, "val_gain");
            grid_best_test[q] = jnum(l, "test_gain");
        }
    }
    assert_int_equal(pairs_seen, 6);
    double grid = 0;
    for (int q = 0; q < 6; q++) grid += grid_best_test[q];
    json_t *d = json_object_get(sum, "default"), *g = json_object_get(sum, "grid");
    assert_true(fabs(jnum(d, "mean_test_gain") - def / 6) < 1e-9);
    assert_true(fabs(jnum(g, "mean_test_gain") - grid / 6) < 1e-9);
    assert_int_equal(json_integer_value(json_object_get(sum, "pairs")), 6);
    json_t *gp = json_object_get(json_object_get(sum, "strategies"), "gp");
    assert_non_null(gp);
    // 12 per pair, and 12 + 2 x 9 on pair 1-3, tuned again in ordered mode (a run per position)
    if (fabs(jnum(gp, "mean_evaluations_per_pair") - (5 * 12 + 30) / 6.0) > 1e-12)
        fail_msg("gp: %g evaluations per pair", jnum(gp, "mean_evaluations_per_pair"));
    json_decref(lines);
    json_decref(sum);
}

static void recommendations_read_back(void **state) {
    (void)state;
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/recommended.yaml", dir);
    if (system("/usr/bin/python3 -c 'import yaml' 2>/dev/null") == 0) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import yaml,sys; d=yaml.safe_load(open('%s')); "
                 "sys.exit(0 if len(d['pairs'])==6 and d['objective']=='val_gain' and "
                 "all(isinstance(p['temperature'], float) and 0<=p['alpha']<=1 for p in d['pairs']) else 1)\"", path);
        assert_int_equal(system(cmd), 0);
    } else {
        printf("# PyYAML not installed: its read-back is skipped\n");
    }
    // eval takes pair 0-2's entry; the setting was evaluated, so the result is the journal's.
    char out[128];
    snprintf(out, sizeof out, "%s/eval.json", dir);
    const char *args[] = {"--pair", "0,2", "--recommended", path, NULL};
    assert_int_equal(run("eval", args, out), 0);
    json_t *e = json_load_file(out, 0, NULL);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "ok");
    char *yaml;
    size_t len;
    assert_int_equal(fs_read_all(path, &yaml, &len), KDT_OK);
    char *entry = strstr(yaml, "pair: [0, 2]");
    assert_non_null(entry);
    double rec_val = strtod(strstr(entry, "\n    val_gain: ") + 15, NULL);
    assert_true(fabs(rec_val - jnum(e, "val_gain")) < 1e-9);
    free(yaml);
    // The same call twice prints the same line.
    char out2[128];
    snprintf(out2, sizeof out2, "%s/eval2.json", dir);
    assert_int_equal(run("eval", args, out2), 0);
    char *a, *b;
    size_t la, lb;
    assert_int_equal(fs_read_all(out, &a, &la), KDT_OK);
    assert_int_equal(fs_read_all(out2, &b, &lb), KDT_OK);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(e);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

// gp_transfer learns from the waves before it: pair 0-2 tuned after 0-1 (waves of one pair) gets
// 0-1's run as prior observations and so asks other points than 0-2 tuned alone. Regression: the
// priors were looked up under the tuner's budget (tuner.budget plus the free initial points), a
// run key that never exists, so gp_transfer silently ran without them.
static void gp_transfer_learns_from_earlier_waves(void **state) {
    (void)state;
    char keep[64], asked[2][2048];
    snprintf(keep, sizeof keep, "%s", dir);
    const char *after[] = {"--strategy", "gp_transfer", "--budget", "3", "--pairs", "0-1,0-2", "tuner.transfer_wave=1", NULL};
    const char *alone[] = {"--strategy", "gp_transfer", "--budget", "3", "--pairs", "0-2", NULL};
    for (int r = 0; r < 2; r++) {
        snprintf(dir, sizeof dir, "%.40s_tr%d", keep, r);
        assert_int_equal(run("tune", r ? alone : after, NULL), 0);
        size_t n;
        json_t *lines = journal(&n);
        asked[r][0] = '\0';
        for (size_t k = 0; k < n; k++) { // the paid evaluations of gp_transfer on 0-2, in order
            json_t *l = json_array_get(lines, k), *pr = json_object_get(l, "pair");
            if (strcmp(json_string_value(json_object_get(l, "type")), "eval") != 0 ||
                strcmp(json_string_value(json_object_get(l, "strategy")), "gp_transfer") != 0 ||
                json_integer_value(json_array_get(pr, 1)) != 2 || json_integer_value(json_object_get(l, "i")) < 6)
                continue;
            size_t at = strlen(asked[r]);
            snprintf(asked[r] + at, sizeof asked[r] - at, "%.6f,%.6f,%s,%s;", jnum(l, "temperature"), jnum(l, "alpha"),
                     json_string_value(json_object_get(l, "transfer_set")), json_string_value(json_object_get(l, "position")));
        }
        json_decref(lines);
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(dir, sizeof dir, "%s", keep);
    assert_true(strlen(asked[0]) > 0 && strlen(asked[1]) > 0);
    if (strcmp(asked[0], asked[1]) == 0) fail_msg("gp_transfer on 0-2 asked the same points with and without 0-1: %s", asked[0]);
}

// The same run with one worker and with two gives the same evaluations: each is a pure function
// of the seed, the pair and the setting, whatever thread runs it.
static json_t *run_and_summarize(const char *out_dir, const char *threads) {
    char keep[64];
    snprintf(keep, sizeof keep, "%s", dir);
    snprintf(dir, sizeof dir, "%s", out_dir);
    const char *args[] = {"--pairs", "0-1,2-3,0-2", "tuner.strategies=[gp,gp_transfer]", "tuner.transfer_wave=2",
                          "grid.methods=[kd,dpkd]", threads, NULL};
    assert_int_equal(run("run", args, NULL), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_t *summary = json_load_file(path, 0, NULL);
    assert_non_null(summary);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s", keep);
    return summary;
}

// `kdtune report --pairs`: the summary covers those pairs only (the others stay in the journal),
// and a pair outside the federation is a usage error, not an empty report.
static void report_of_some_pairs(void **state) {
    (void)state;
    const char *some[] = {"--pairs", "2-3,0-1", NULL};
    assert_int_equal(run("report", some, NULL), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_t *sum = json_load_file(path, 0, NULL);
    assert_non_null(sum);
    assert_int_equal(json_integer_value(json_object_get(sum, "pairs")), 2);
    json_t *per_pair = json_object_get(sum, "per_pair");
    assert_int_equal(json_array_size(per_pair), 2);
    for (size_t q = 0; q < 2; q++) {
        json_t *pr = json_object_get(json_array_get(per_pair, q), "pair");
        int i = (int)json_integer_value(json_array_get(pr, 0)), j = (int)json_integer_value(json_array_get(pr, 1));
        assert_true((i == 0 && j == 1) || (i == 2 && j == 3));
    }
    json_decref(sum);
    const char *outside[] = {"--pairs", "0-4", NULL};
    assert_int_not_equal(run("report", outside, NULL), 0);
    assert_int_equal(run("report", NULL, NULL), 0); // every pair again: recommendations_read_back reads it
}

static void same_results_with_two_workers(void **state) {
    (void)state;
    char out[sizeof dir];
    snprintf(out, sizeof out, "%.40s_workers", dir);
    json_t *one = run_and_summarize(out, "experiment.threads=1");
    json_t *two = run_and_summarize(out, "experiment.threads=2");
    assert_true(json_equal(json_object_get(one, "per_pair"), json_object_get(two, "per_pair")));
    assert_true(json_equal(json_object_get(one, "strategies"), json_object_get(two, "strategies")));
    json_decref(one);
    json_decref(two);
}

static json_t *eval_line(const char *const *extra) {
    char out[128];
    snprintf(out, sizeof out, "/tmp/kdt_eval_%d.out", (int)getpid());
    assert_int_equal(run("eval", extra, out), 0);
    json_t *o = json_load_file(out, 0, NULL);
    assert_non_null(o);
    return o;
}

// Regression: in a run directory that holds results of kd.epochs=2, `eval kd.epochs=0` used to
// print the old result. Now any changed KD training setting is another identity (a miss), and the
// same setting again is a hit (no new line, the same output).
static void kd_settings_are_part_of_the_identity(void **state) {
    (void)state;
    const char *base[] = {"--pair", "0,1", NULL}, *none[] = {"--pair", "0,1", "kd.epochs=0", NULL};
    size_t n0, n1, n2;
    json_t *a = eval_line(base);
    json_decref(journal(&n0));
    json_t *b = eval_line(none);
    json_decref(journal(&n1));
    assert_int_equal(n1, n0 + 1);
    assert_true(jnum(b, "val_gain") == 0.0 && jnum(b, "test_gain") == 0.0); // no training: no change
    assert_true(jnum(b, "student_val_after") == jnum(b, "student_val_before"));
    assert_false(json_equal(a, b));
    json_t *b2 = eval_line(none), *a2 = eval_line(base);
    json_decref(journal(&n2));
    assert_int_equal(n2, n1);
    assert_true(json_equal(b, b2));
    assert_true(json_equal(a, a2));
    json_decref(a), json_decref(b), json_decref(a2), json_decref(b2);
}

// A tuner plans for its budget: runs of another budget in the same run directory are other runs
// (they used to be refused as "made with another configuration"), and each budget is summarized
// on its own.
static void another_budget_is_another_run(void **state) {
    (void)state;
    const char *args[] = {"--strategy", "gp", "--budget", "3", "--pairs", "0-1", NULL};
    assert_int_equal(run("tune", args, NULL), 0);
    size_t n, budget3 = 0;
    json_t *lines = journal(&n);
    for (size_t k = 0; k < n; k++) {
        json_t *l = json_array_get(lines, k);
        budget3 += strcmp(json_string_value(json_object_get(l, "type")), "eval") == 0 &&
                   json_integer_value(json_object_get(l, "budget")) == 3;
    }
    json_decref(lines);
    assert_int_equal(budget3, 3 + 6); // 3 paid and the 6 free default settings
    const char *report[] = {"tuner.budget=3", NULL};
    assert_int_equal(run("report", report, NULL), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_t *sum = json_load_file(path, 0, NULL);
    json_t *gp = json_object_get(json_object_get(sum, "strategies"), "gp");
    assert_int_equal(json_integer_value(json_object_get(gp, "pairs")), 1);
    assert_true(jnum(gp, "mean_evaluations_per_pair") == 9.0);
    json_decref(sum);
}

// Regression: a diverging setting (kd.lr=10) used to be journaled without its metrics, and the
// next command refused the journal. Now it is a failed evaluation that round-trips: `run`
// completes, counts it, and `report` reads it back.
static void failures_round_trip(void **state) {
    (void)state;
    char keep[64];
    snprintf(keep, sizeof keep, "%s", dir);
    snprintf(dir, sizeof dir, "%.40s_fail", keep);
    const char *args[] = {"--pairs", "0-1", "tuner.strategies=[gp]", "kd.lr=10", "kd.epochs=5", NULL};
    assert_int_equal(run("run", args, NULL), 0);
    assert_int_equal(run("report", args + 2, NULL), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_t *sum = json_load_file(path, 0, NULL);
    assert_non_null(sum);
    json_int_t failed = json_integer_value(json_object_get(json_object_get(sum, "default"), "failed_evaluations")) +
                        json_integer_value(json_object_get(json_object_get(sum, "grid"), "failed_evaluations"));
    assert_true(failed > 0);
    size_t n;
    json_t *lines = journal(&n);
    size_t failed_lines = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *l = json_array_get(lines, k);
        if (strcmp(json_string_value(json_object_get(l, "type")), "eval") != 0) continue;
        if (strcmp(json_string_value(json_object_get(l, "status")), "failed") == 0) {
            failed_lines++;
            assert_true(json_is_null(json_object_get(l, "val_gain")));
            assert_non_null(json_string_value(json_object_get(l, "reason")));
        }
    }
    assert_true(failed_lines >= (size_t)failed);
    json_decref(lines);
    json_decref(sum);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s", keep);
}

// Methods, replicates and the statistics: a run over all three methods reports the best non-tuned
// approach and tuned-vs-it; grid and final-candidate replicates are journaled with their replicate
// and the summary carries the noise across them; every figure carries its test or interval.
static void methods_replicates_statistics(void **state) {
    (void)state;
    char keep[64];
    snprintf(keep, sizeof keep, "%s", dir);
    snprintf(dir, sizeof dir, "%.40s_methods", keep);
    const char *grid[] = {"--pairs", "0-1,1-2", "--replicates", "2", "grid.methods=[kd,dml,dpkd]",
                          "space.methods=[kd,dml,dpkd]", "grid.temperatures=[1,4]", "grid.alphas=[0.5,1]", NULL};
    assert_int_equal(run("grid", grid, NULL), 0);
    const char *tune[] = {"--pairs", "0-1,1-2", "--strategy", "gp", "--replicates", "2", "grid.methods=[kd,dml,dpkd]",
                          "space.methods=[kd,dml,dpkd]", "grid.temperatures=[1,4]", "grid.alphas=[0.5,1]", NULL};
    assert_int_equal(run("tune", tune, NULL), 0);
    assert_int_equal(run("report", grid + 4, NULL), 0);
    size_t n;
    json_t *lines = journal(&n);
    int methods[3] = {0}, replicated = 0, defaults = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *l = json_array_get(lines, k);
        if (strcmp(json_string_value(json_object_get(l, "type")), "eval") != 0) continue;
        const char *m = json_string_value(json_object_get(l, "method"));
        methods[strcmp(m, "kd") == 0 ? 0 : strcmp(m, "dml") == 0 ? 1 : 2]++;
        replicated += json_integer_value(json_object_get(l, "replicate")) > 0;
        defaults += strcmp(json_string_value(json_object_get(l, "strategy")), "default") == 0;
        if (strcmp(m, "dml") == 0 && strcmp(json_string_value(json_object_get(l, "status")), "ok") == 0)
            assert_true(json_is_real(json_object_get(l, "peer_val_gain")));
        if (strcmp(m, "dpkd") == 0 && strcmp(json_string_value(json_object_get(l, "status")), "ok") == 0)
            assert_true(json_is_real(json_object_get(l, "routed_fraction")));
    }
    assert_true(methods[0] > 0 && methods[1] > 0 && methods[2] > 0);
    assert_int_equal(defaults, 2 * 18); // 3 methods x 3 transfer sets x 2 positions per pair
    assert_true(replicated >= 2 * 24);  // the grid's second pass on each pair, and gp's re-evaluations
    json_decref(lines);
    char path[128];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_t *sum = json_load_file(path, 0, NULL);
    assert_non_null(sum);
    json_t *st = json_object_get(sum, "statistics");
    assert_true(json_is_true(json_object_get(st, "available")));
    assert_true(jnum(json_object_get(st, "se_gain"), "val") > 0);
    assert_true(json_integer_value(json_object_get(json_object_get(st, "replicates"), "settings")) >= 48);
    json_t *vs = json_object_get(st, "improvement_over_best_untuned");
    assert_non_null(json_object_get(vs, "points_ci95"));
    assert_true(jnum(vs, "points") == jnum(vs, "points")); // a number, not null
    json_decref(sum);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s", keep);
}

// Regression: with a cnn, `eval` at 1 and 2 threads gave different participants and gains, and
// `eval` disagreed with `grid` on the same setting; with kd.augment, 2 workers shared the teachers'
// activations. Now every evaluation is the same at any thread or worker count: the grid run with 2
// workers (one thread each) and `eval` in a fresh directory with 1 thread give the same line.
static void cnn_same_answer_at_any_thread_count(void **state) {
    (void)state;
    char keep[64], a[64], b[64];
    snprintf(keep, sizeof keep, "%s", dir);
    snprintf(a, sizeof a, "%.40s_cnn2", keep);
    snprintf(b, sizeof b, "%.40s_cnn1", keep);
    const char *grid[] = {"--pairs", "0-1", "model.arch=cnn", "kd.augment=true", "experiment.threads=2",
                          "grid.temperatures=[2]", "grid.alphas=[0.5]", "grid.transfer_sets=[student_data]", NULL};
    snprintf(dir, sizeof dir, "%s", a);
    assert_int_equal(run("grid", grid, NULL), 0);
    size_t n;
    json_t *lines = journal(&n), *from_grid = NULL;
    for (size_t k = 0; k < n; k++) {
        json_t *l = json_array_get(lines, k);
        if (strcmp(json_string_value(json_object_get(l, "type")), "eval") == 0 &&
            strcmp(json_string_value(json_object_get(l, "strategy")), "grid") == 0 &&
            strcmp(json_string_value(json_object_get(l, "position")), "reverse") == 0)
            from_grid = l;
    }
    assert_non_null(from_grid);
    snprintf(dir, sizeof dir, "%s", b);
    const char *eval[] = {"--pair", "0,1", "model.arch=cnn", "kd.augment=true", "experiment.threads=1",
                          "kd.temperature=2", "kd.alpha=0.5", "kd.transfer_set=student_data", "kd.position=reverse", NULL};
    json_t *one = eval_line(eval);
    // eval prints 10 significant digits, the journal 17: equal gains agree to the printed digits
    // (a difference of one image would be 1/300 here).
    assert_true(fabs(jnum(one, "val_gain") - jnum(from_grid, "val_gain")) < 1e-9);
    assert_true(fabs(jnum(one, "test_gain") - jnum(from_grid, "test_gain")) < 1e-9);
    assert_true(fabs(jnum(one, "student_val_before") - jnum(from_grid, "student_val_before")) < 1e-9);
    json_decref(one);
    json_decref(lines);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", a, b);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s", keep);
}

// Strategy screen: screens are journaled at the low fidelity and the recommendation is a full
// evaluation; a killed run resumes by replaying its lines (nothing evaluated twice, nothing added
// on a rerun); evals/pair are full-evaluation equivalents; 1 and 2 workers give the same picks.
static json_t *screen_summary(const char *out_dir, const char *threads, bool kill_first) {
    char keep[64];
    snprintf(keep, sizeof keep, "%s", dir);
    snprintf(dir, sizeof dir, "%s", out_dir);
    // 6 paid: 2 full evaluations and 8 screens at a cost of 0.5, on top of the 6 free defaults
    const char *args[] = {"--pairs", "0-1,2-3", "tuner.strategies=[screen]", "tuner.screen_fidelity=0.5",
                          "tuner.screen_cost=0.5", threads, NULL};
    if (kill_first) kill_midway("run", args, 2 * (6 + 54) + 10);
    assert_int_equal(run("run", args, NULL), 0);
    assert_journal_sound("screen/0-1", 6 + 8 + 2);
    assert_journal_sound("screen/2-3", 6 + 8 + 2);
    size_t before, after, n;
    json_decref(journal(&before));
    assert_int_equal(run("run", args, NULL), 0); // everything is there: replayed, nothing added
    json_decref(journal(&after));
    assert_int_equal(before, after);
    json_t *lines = journal(&n);
    int screens = 0, recs = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *l = json_array_get(lines, k);
        if (strcmp(json_string_value(json_object_get(l, "strategy")), "screen") != 0) continue;
        if (strcmp(json_string_value(json_object_get(l, "type")), "eval") == 0) {
            double f = jnum(l, "fidelity");
            assert_true(f == 1 || f == 0.5);
            screens += f == 0.5;
            continue;
        }
        recs++; // the recommended line of the same run is a full evaluation
        json_int_t want = json_integer_value(json_object_get(l, "recommended"));
        json_t *pair = json_object_get(l, "pair");
        bool found = false;
        for (size_t q = 0; q < n; q++) {
            json_t *e = json_array_get(lines, q);
            if (strcmp(json_string_value(json_object_get(e, "type")), "eval") != 0 ||
                strcmp(json_string_value(json_object_get(e, "strategy")), "screen") != 0 ||
                !json_equal(json_object_get(e, "pair"), pair) || json_integer_value(json_object_get(e, "i")) != want)
                continue;
            found = true;
            assert_true(jnum(e, "fidelity") == 1);
        }
        assert_true(found);
    }
    json_decref(lines);
    assert_int_equal(screens, 2 * 8);
    assert_int_equal(recs, 2);
    char path[128];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_t *summary = json_load_file(path, 0, NULL);
    assert_non_null(summary);
    json_t *st = json_object_get(json_object_get(summary, "strategies"), "screen");
    assert_true(jnum(st, "mean_evaluations_per_pair") == 12.0); // 6 free + 8 x 0.5 + 2
    json_t *sc = json_object_get(st, "screening");
    assert_int_equal(json_integer_value(json_object_get(sc, "evaluations")), 16);
    assert_true(jnum(sc, "assumed_cost") == 0.5);
    assert_true(jnum(sc, "measured_time_ratio") > 0);
    json_object_del(sc, "measured_time_ratio"); // timing, not a result
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s", keep);
    return summary;
}

static void screening_journal_resume_and_workers(void **state) {
    (void)state;
    char out[sizeof dir];
    snprintf(out, sizeof out, "%.40s_screen", dir);
    json_t *one = screen_summary(out, "experiment.threads=1", true);
    json_t *two = screen_summary(out, "experiment.threads=2", false);
    assert_true(json_equal(json_object_get(one, "per_pair"), json_object_get(two, "per_pair")));
    assert_true(json_equal(json_object_get(one, "strategies"), json_object_get(two, "strategies")));
    json_decref(one);
    json_decref(two);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resume_after_kills),
        cmocka_unit_test(ordered_tuning),
        cmocka_unit_test(damaged_checkpoint_and_foreign_config),
        cmocka_unit_test(summary_matches_the_journal),
        cmocka_unit_test(report_of_some_pairs),
        cmocka_unit_test(recommendations_read_back),
        cmocka_unit_test(same_results_with_two_workers),
        cmocka_unit_test(gp_transfer_learns_from_earlier_waves),
        cmocka_unit_test(kd_settings_are_part_of_the_identity),
        cmocka_unit_test(failures_round_trip),
        cmocka_unit_test(another_budget_is_another_run),
        cmocka_unit_test(methods_replicates_statistics),
        cmocka_unit_test(cnn_same_answer_at_any_thread_count),
        cmocka_unit_test(screening_journal_resume_and_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
