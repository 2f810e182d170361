// The journal: lines written and read back, resume after a crash mid-write giving the same
// suggestions as an uninterrupted run, many runs and extra fields in one file, and clear errors
// for a damaged middle line or a journal made with another configuration.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "tests/tuner/testfun.h"
#include "tuner/journal.h"
#include "tuner/tuner.h"

static char journal_path[512];

static void fresh_journal(const char *name) {
    snprintf(journal_path, sizeof journal_path, "%s/tests/tuner_journal_%s_%d.jsonl", KDT_BINARY_DIR,
             name, (int)getpid());
    fs_mkdir_p(KDT_BINARY_DIR "/tests");
    remove(journal_path);
}

static tuner *make(tuner_strategy st, uint64_t seed, const char *key) {
    tuner_space *s = testfun_space(1);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, st, TUNER_MAXIMIZE, 16, seed), KDT_OK);
    double x0[4] = {1, 5, 1, 0};
    assert_int_equal(tuner_add_initial_point(t, x0), KDT_OK);
    tuner_space_destroy(s);
    if (key) assert_int_equal(tuner_set_journal(t, journal_path, key), KDT_OK);
    return t;
}

// Asks and tells until n told (or done), writing the points into xs (16, 4).
static void drive(tuner *t, size_t n, double (*xs)[4]) {
    while (tuner_n_told(t) < n && !tuner_done(t)) {
        size_t i = tuner_n_told(t);
        assert_int_equal(tuner_ask(t, xs[i]), KDT_OK);
        json_t *extra = json_pack("{s:f, s:s}", "metric", 2.0 * (double)i, "note", "app field");
        double y = i == 3 ? NAN : -testfun_mixed(xs[i]); // one failed evaluation
        assert_int_equal(tuner_tell(t, y, extra), KDT_OK);
        json_decref(extra);
    }
}

static size_t file_size(const char *path) {
    char *d;
    size_t n;
    assert_int_equal(fs_read_all(path, &d, &n), KDT_OK);
    free(d);
    return n;
}

// Cuts the journal in the middle of its last line, as a crash during the write would.
static void cut_mid_last_line(const char *path) {
    char *d;
    size_t n;
    assert_int_equal(fs_read_all(path, &d, &n), KDT_OK);
    assert_true(n > 2 && d[n - 1] == '\n');
    size_t start = n - 1;
    while (start > 0 && d[start - 1] != '\n') start--;
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, start + (n - 1 - start) / 2, f);
    fclose(f);
    free(d);
}

// For each strategy kind (quasi-random, NLopt replay, GP): run 9 evaluations with a journal,
// crash mid-write of the 9th line, resume on the journal: the resumed tuner has 8 told and then
// asks exactly what an uninterrupted tuner asks.
static void resume_after_crash_gives_the_same_sequence(void **state) {
    (void)state;
    const tuner_strategy list[] = {TUNER_RANDOM, TUNER_GRID, TUNER_BOBYQA, TUNER_DIRECT_L, TUNER_GP};
    for (size_t k = 0; k < sizeof list / sizeof *list; k++) {
        fresh_journal(tuner_strategy_name(list[k]));
        double ref[16][4], got[16][4];
        tuner *a = make(list[k], 11, NULL);
        drive(a, 16, ref);
        tuner_destroy(a);

        tuner *b = make(list[k], 11, "run/a");
        drive(b, 9, got);
        tuner_destroy(b);
        cut_mid_last_line(journal_path);
        size_t cut = file_size(journal_path);

        tuner *c = make(list[k], 11, "run/a"); // replays 8 lines, warns about the 9th
        assert_int_equal(tuner_n_told(c), 8);
        assert_true(file_size(journal_path) < cut); // the damaged tail is gone
        for (size_t i = 0; i < 8; i++) {
            double x[4], y;
            tuner_history(c, i, x, &y);
            assert_memory_equal(x, ref[i], sizeof x);
            assert_true(i == 3 ? isnan(y) : y == -testfun_mixed(ref[i]));
        }
        drive(c, 16, got);
        assert_memory_equal(got + 8, ref + 8, 8 * sizeof got[0]);
        tuner_destroy(c);

        // The finished journal replays completely: nothing left to ask.
        tuner *d = make(list[k], 11, "run/a");
        assert_int_equal(tuner_n_told(d), tuner_budget(d));
        assert_true(tuner_done(d));
        tuner_destroy(d);
        remove(journal_path);
    }
}

typedef struct {
    size_t lines, of_a, of_b, with_metric;
} census;

static kdt_status count_line(const json_t *line, size_t lineno, void *user) {
    census *c = user;
    c->lines++;
    const char *run = json_string_value(json_object_get(line, "run"));
    c->of_a += run && !strcmp(run, "gp/0-1");
    c->of_b += run && !strcmp(run, "random/0-1");
    c->with_metric += json_is_real(json_object_get(line, "metric"));
    assert_true(lineno >= 1);
    return KDT_OK;
}

// Two runs interleaved in one file with extra fields and a foreign line: each replays its own.
static void runs_share_a_journal(void **state) {
    (void)state;
    fresh_journal("shared");
    double xa[16][4], xb[16][4], ra[16][4];
    tuner *a = make(TUNER_GP, 1, "gp/0-1"), *b = make(TUNER_RANDOM, 1, "random/0-1");
    for (size_t n = 1; n <= 6; n++) drive(a, n, xa), drive(b, n, xb);
    json_t *foreign = json_pack("{s:s, s:i}", "kind", "cache", "n", 3);
    assert_int_equal(tuner_journal_append(journal_path, foreign), KDT_OK);
    json_decref(foreign);
    tuner_destroy(a), tuner_destroy(b);

    census c = {0};
    assert_int_equal(tuner_journal_foreach(journal_path, count_line, &c, NULL), KDT_OK);
    assert_int_equal(c.lines, 13);
    assert_int_equal(c.of_a, 6);
    assert_int_equal(c.of_b, 6);
    assert_int_equal(c.with_metric, 12);

    a = make(TUNER_GP, 1, "gp/0-1");
    assert_int_equal(tuner_n_told(a), 6);
    drive(a, 8, xa);
    tuner_destroy(a);
    a = make(TUNER_GP, 1, NULL);
    drive(a, 8, ra);
    assert_memory_equal(ra, xa, 8 * sizeof ra[0]);
    tuner_destroy(a);

    // Reserved keys cannot be overwritten by extra fields.
    b = make(TUNER_RANDOM, 1, "random/0-1");
    double x[4];
    assert_int_equal(tuner_ask(b, x), KDT_OK);
    json_t *bad = json_pack("{s:f}", "value", 1.0);
    assert_int_equal(tuner_tell(b, 1.0, bad), KDT_ERR_USAGE);
    json_decref(bad);
    tuner_destroy(b);
    remove(journal_path);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

// A damaged line before the last is an error naming the file and line; the journal is left as is.
static void damaged_middle_line_is_an_error(void **state) {
    (void)state;
    fresh_journal("middle");
    double xs[16][4];
    tuner *a = make(TUNER_RANDOM, 2, "r");
    drive(a, 3, xs);
    tuner_destroy(a);
    char *d;
    size_t n;
    assert_int_equal(fs_read_all(journal_path, &d, &n), KDT_OK);
    char *second = strchr(d, '\n') + 1;
    second[5] = '#'; // corrupt line 2 of 3
    write_text(journal_path, d);
    free(d);
    tuner_space *s = testfun_space(1);
    tuner *t = NULL;
    assert_int_equal(tuner_create(&t, s, TUNER_RANDOM, TUNER_MAXIMIZE, 16, 2), KDT_OK);
    assert_int_equal(tuner_set_journal(t, journal_path, "r"), KDT_ERR_FORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s:2:", journal_path);
    assert_non_null(strstr(kdt_errmsg(), want));
    tuner_destroy(t);
    tuner_space_destroy(s);
    remove(journal_path);
}

// A journal made with another seed, strategy or initial point is refused with the line named.
static void mismatched_configuration_is_an_error(void **state) {
    (void)state;
    fresh_journal("mismatch");
    double xs[16][4];
    tuner *a = make(TUNER_GP, 4, "k");
    drive(a, 7, xs);
    tuner_destroy(a);
    tuner_space *s = testfun_space(1);
    tuner *t = NULL;
    // another seed
    assert_int_equal(tuner_create(&t, s, TUNER_GP, TUNER_MAXIMIZE, 16, 5), KDT_OK);
    assert_int_equal(tuner_set_journal(t, journal_path, "k"), KDT_ERR_CONFIG);
    assert_non_null(strstr(kdt_errmsg(), "seed 4"));
    tuner_destroy(t);
    // another initial point: the first suggestion differs
    assert_int_equal(tuner_create(&t, s, TUNER_GP, TUNER_MAXIMIZE, 16, 4), KDT_OK);
    double x0[4] = {2, 5, 1, 0};
    assert_int_equal(tuner_add_initial_point(t, x0), KDT_OK);
    assert_int_equal(tuner_set_journal(t, journal_path, "k"), KDT_ERR_CONFIG);
    char want[600];
    snprintf(want, sizeof want, "%s:1: run 'k' evaluation 0", journal_path);
    assert_non_null(strstr(kdt_errmsg(), want));
    tuner_destroy(t);
    // a smaller budget than the journal holds
    assert_int_equal(tuner_create(&t, s, TUNER_GP, TUNER_MAXIMIZE, 5, 4), KDT_OK);
    double x1[4] = {1, 5, 1, 0};
    assert_int_equal(tuner_add_initial_point(t, x1), KDT_OK);
    assert_int_equal(tuner_set_journal(t, journal_path, "k"), KDT_ERR_CONFIG);
    tuner_destroy(t);
    tuner_space_destroy(s);
    remove(journal_path);
}

// Lines of the run that are valid JSON but not valid journal lines are format errors naming the
// file, the line and what is wrong; lines of other runs are not inspected.
static void malformed_lines_of_the_run_are_errors(void **state) {
    (void)state;
    fresh_journal("malformed");
    const char *bad[] = {
        "{\"run\":\"k\",\"strategy\":\"random\",\"seed\":2,\"i\":0,\"x\":{},\"value\":\"abc\"}\n",
        "{\"run\":\"k\",\"strategy\":\"random\",\"seed\":2,\"i\":0,\"value\":1.0}\n",
        "{\"run\":\"k\",\"strategy\":\"random\",\"seed\":2,\"i\":0,\"x\":{\"x1\":1,\"x2\":2,"
        "\"c1\":\"zz\",\"c2\":\"b0\"},\"value\":1.0}\n",
        "{\"run\":\"k\",\"strategy\":\"random\",\"seed\":2,\"i\":5,\"x\":{},\"value\":1.0}\n",
    };
    const char *want[] = {"\"value\" is missing or mistyped", "\"x\" is missing or mistyped", "'zz' is not one of the choices of 'c1'",
                          "evaluation 5 where 0 was expected"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"run\":\"other\",\"junk\":[1,2]}\n%s{\"run\":\"other\"}\n", bad[k]);
        write_text(journal_path, text);
        tuner_space *s = testfun_space(1);
        tuner *t = NULL;
        assert_int_equal(tuner_create(&t, s, TUNER_RANDOM, TUNER_MAXIMIZE, 16, 2), KDT_OK);
        kdt_status st = tuner_set_journal(t, journal_path, "k");
        assert_true(st == KDT_ERR_FORMAT);
        char where[600];
        snprintf(where, sizeof where, "%s:2:", journal_path);
        if (!strstr(kdt_errmsg(), where) || !strstr(kdt_errmsg(), want[k]))
            print_error("line %zu: %s\n", k, kdt_errmsg());
        assert_non_null(strstr(kdt_errmsg(), where));
        assert_non_null(strstr(kdt_errmsg(), want[k]));
        tuner_destroy(t);
        tuner_space_destroy(s);
    }
    remove(journal_path);
}

// A result that cannot be journaled is not given to the strategy: tell fails with an I/O error
// naming the file, nothing is told, and the same point stays pending.
static void unwritable_journal_keeps_the_point_pending(void **state) {
    (void)state;
    snprintf(journal_path, sizeof journal_path, "%s/no/such/dir/j.jsonl", KDT_BINARY_DIR);
    tuner *t = make(TUNER_GP, 1, "k");
    double x[4], y[4];
    assert_int_equal(tuner_ask(t, x), KDT_OK);
    assert_int_equal(tuner_tell(t, 1.0, NULL), KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), journal_path));
    assert_int_equal(tuner_n_told(t), 0);
    assert_int_equal(tuner_ask(t, y), KDT_OK);
    assert_memory_equal(x, y, sizeof x);
    tuner_destroy(t);
}

static void missing_journal_is_empty_and_blank_lines_are_skipped(void **state) {
    (void)state;
    fresh_journal("blank");
    census c = {0};
    assert_int_equal(tuner_journal_foreach(journal_path, count_line, &c, NULL), KDT_OK);
    assert_int_equal(c.lines, 0);
    write_text(journal_path, "{\"run\":\"x\"}\n\n  \n{\"run\":\"gp/0-1\"}\n{\"run\":");
    tuner_journal_info info;
    assert_int_equal(tuner_journal_foreach(journal_path, count_line, &c, &info), KDT_OK);
    assert_int_equal(c.lines, 2);
    assert_int_equal(c.of_a, 1);
    size_t good = strlen("{\"run\":\"x\"}\n\n  \n{\"run\":\"gp/0-1\"}\n");
    assert_int_equal(info.damaged_at, good);
    assert_int_equal(tuner_journal_repair(journal_path, &info), KDT_OK);
    assert_int_equal(file_size(journal_path), good);
    // A complete last line without its newline is kept and terminated.
    write_text(journal_path, "{\"run\":\"x\"}\n{\"run\":\"y\"}");
    c = (census){0};
    assert_int_equal(tuner_journal_foreach(journal_path, count_line, &c, &info), KDT_OK);
    assert_int_equal(c.lines, 2);
    assert_true(info.unterminated && info.damaged_at == info.size);
    assert_int_equal(tuner_journal_repair(journal_path, &info), KDT_OK);
    json_t *line = json_pack("{s:s}", "run", "z");
    assert_int_equal(tuner_journal_append(journal_path, line), KDT_OK);
    json_decref(line);
    c = (census){0};
    assert_int_equal(tuner_journal_foreach(journal_path, count_line, &c, &info), KDT_OK);
    assert_int_equal(c.lines, 3);
    remove(journal_path);
}

int main(void) {
    log_set_level(LOG_ERROR); // the damaged-tail warnings are expected here
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resume_after_crash_gives_the_same_sequence),
        cmocka_unit_test(runs_share_a_journal),
        cmocka_unit_test(damaged_middle_line_is_an_error),
        cmocka_unit_test(mismatched_configuration_is_an_error),
        cmocka_unit_test(malformed_lines_of_the_run_are_errors),
        cmocka_unit_test(unwritable_journal_keeps_the_point_pending),
        cmocka_unit_test(missing_journal_is_empty_and_blank_lines_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
