// The store: lines round-trip (failures included), identities are kept apart, the cache hits on an
// identical setting and misses on any changed field, a torn last line is cut, hostile values in a
// well-formed line and a journal that is a link or not a regular file are refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "store/store.h"

static const char *const names[] = {"default", "grid", "eval", "gp", "random"};
enum { N_NAMES = sizeof names / sizeof names[0], P = 5 };

static char dir[64], journal[128];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kdt_store_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(journal, sizeof journal, "%s/trials.jsonl", dir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static store *open_store(uint64_t id) {
    store *s = NULL;
    store_options opt = {dir, id, P};
    kdt_status st = store_open(&s, &opt, names, N_NAMES);
    if (st) fail_msg("store_open: %s", kdt_errmsg());
    return s;
}

static store_eval an_eval(const char *strategy, int index, double T) {
    store_eval e = {.index = index};
    snprintf(e.run.strategy, sizeof e.run.strategy, "%s", strategy);
    e.run.i = 1, e.run.j = 3, e.run.fixed_position = -1;
    e.setting = (store_setting){.i = 1, .j = 3, .position = KD_REVERSE, .temperature = T, .alpha = 0.25,
                                .transfer = KD_UNLABELLED_SELF, .method = KD_METHOD_KD, .replicate = 0, .fidelity = 1};
    e.result = (store_result){.ok = true, .val_gain = 0.012, .test_gain = -0.003, .forgetting = 0.1,
                              .student_val_before = 0.5, .student_val_after = 0.512, .student_test_before = 0.4,
                              .student_test_after = 0.397, .teacher_test = 0.6, .peer_val_gain = NAN,
                              .peer_test_gain = NAN, .peer_forgetting = NAN, .routed_fraction = NAN, .seconds = 0.25};
    return e;
}

static void write_file(const char *text) {
    FILE *f = fopen(journal, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void lines_round_trip(void **state) {
    (void)state;
    store_eval e = an_eval("gp", 4, 2.5), back;
    store_recommendation r = {{"gp", 1, 3, KD_FORWARD, 7}, 7, 2}, rback;
    uint64_t id = 0;
    char *text = store_format_eval(&e, 0xABCDEF0123456789ull);
    assert_int_equal(store_parse_line(text, strlen(text), P, names, N_NAMES, &id, &back, &rback), 1);
    assert_true(id == 0xABCDEF0123456789ull);
    assert_int_equal(back.index, 4);
    assert_true(back.setting.temperature == 2.5 && back.setting.alpha == 0.25);
    assert_int_equal(back.setting.position, KD_REVERSE);
    assert_int_equal(back.setting.transfer, KD_UNLABELLED_SELF);
    assert_true(back.result.ok && back.result.val_gain == 0.012 && back.result.test_gain == -0.003);
    assert_true(isnan(back.result.peer_val_gain) && isnan(back.result.routed_fraction));
    assert_non_null(strstr(text, "\"student\":1"));
    free(text);
    // A failure round-trips as a failure, its metrics as null (JSON has no NaN).
    e.result.ok = false;
    snprintf(e.result.reason, sizeof e.result.reason, "the loss became nan at epoch 1, step 3");
    e.result.val_gain = e.result.test_gain = e.result.student_val_after = e.result.student_test_after = NAN;
    text = store_format_eval(&e, 1);
    assert_non_null(strstr(text, "\"val_gain\":null"));
    assert_int_equal(store_parse_line(text, strlen(text), P, names, N_NAMES, &id, &back, &rback), 1);
    assert_false(back.result.ok);
    assert_true(isnan(back.result.val_gain));
    assert_string_equal(back.result.reason, e.result.reason);
    free(text);
    text = store_format_recommendation(&r, 1);
    assert_int_equal(store_parse_line(text, strlen(text), P, names, N_NAMES, &id, &back, &rback), 2);
    assert_int_equal(rback.recommended, 2);
    assert_int_equal(rback.run.fixed_position, KD_FORWARD);
    free(text);
}

// Each hostile value in an otherwise valid line is refused, naming the field.
static void hostile_values_refused(void **state) {
    (void)state;
    store_eval e = an_eval("grid", 0, 2.0), back;
    store_recommendation rback;
    uint64_t id;
    char *good = store_format_eval(&e, 7);
    struct { const char *from, *to, *field; } cases[] = {
        {"\"pair\":[1,3]", "\"pair\":[1,9]", "pair"},                          // out of range
        {"\"pair\":[1,3]", "\"pair\":[1,18446744073709551619]", "integer"},    // wraps in 64 bits
        {"\"pair\":[1,3]", "\"pair\":[3,1]", "pair"},
        {"\"strategy\":\"grid\"", "\"strategy\":\"grid\\\";system\"", "strategy"}, // not a strategy
        {"\"transfer_set\":\"unlabelled_self\"", "\"transfer_set\":\"everything\"", "transfer_set"},
        {"\"alpha\":0.25", "\"alpha\":1.5", "alpha"},
        {"\"temperature\":2.0", "\"temperature\":-2.0", "temperature"},
        {"\"val_gain\":0.012", "\"val_gain\":null", "val_gain"},                // ok with no gain
        {"\"val_gain\":0.012", "\"val_gain\":\"high\"", "val_gain"},
        {"\"student\":1", "\"student\":2", "student"},
        {"\"replicate\":0", "\"replicate\":-1", "replicate"},
        {"\"v\":1", "\"v\":2", "v"},
        {"\"type\":\"eval\"", "\"type\":\"other\"", "type"},
        {"\"i\":0", "\"i\":0,\"i\":1", "duplicate"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char bad[4096];
        const char *at = strstr(good, cases[k].from);
        if (!at) fail_msg("case %zu: '%s' not in %s", k, cases[k].from, good);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - good), good, cases[k].to, at + strlen(cases[k].from));
        if (store_parse_line(bad, strlen(bad), P, names, N_NAMES, &id, &back, &rback) != 0)
            fail_msg("case %zu accepted: %s", k, bad);
        if (!strstr(kdt_errmsg(), cases[k].field)) fail_msg("case %zu: message '%s' lacks '%s'", k, kdt_errmsg(), cases[k].field);
    }
    free(good);
}

static void cache_and_identity(void **state) {
    (void)state;
    store *s = open_store(11);
    store_eval e = an_eval("grid", 0, 2.0);
    store_result r;
    assert_false(store_lookup(s, &e.setting, &r));
    assert_int_equal(store_append(s, &e), KDT_OK);
    assert_true(store_lookup(s, &e.setting, &r));
    assert_true(r.val_gain == e.result.val_gain);
    assert_true(store_has(s, &e.run, 0));
    assert_false(store_has(s, &e.run, 1));
    store_close(s);
    // Reopened under the same identity: a hit; every changed field of the setting: a miss.
    s = open_store(11);
    assert_true(store_lookup(s, &e.setting, &r));
    store_setting changed[8];
    for (int k = 0; k < 8; k++) changed[k] = e.setting;
    changed[0].temperature = 2.0000001;
    changed[1].alpha = 0.5;
    changed[2].transfer = KD_STUDENT_DATA;
    changed[3].position = KD_FORWARD;
    changed[4].method = KD_METHOD_DML;
    changed[5].replicate = 1;
    changed[6].fidelity = 0.5;
    changed[7].j = 4;
    for (int k = 0; k < 8; k++)
        if (store_lookup(s, &changed[k], &r)) fail_msg("changed field %d still hits the cache", k);
    store_close(s);
    // Another identity (another KD configuration) sees nothing of it, and keeps it intact.
    s = open_store(12);
    assert_false(store_lookup(s, &e.setting, &r));
    assert_false(store_has(s, &e.run, 0));
    assert_int_equal(store_foreign_lines(s), 1);
    store_eval other = an_eval("grid", 0, 2.0);
    other.result.val_gain = -0.5;
    assert_int_equal(store_append(s, &other), KDT_OK);
    store_close(s);
    s = open_store(11);
    assert_true(store_lookup(s, &e.setting, &r) && r.val_gain == 0.012);
    store_close(s);
    // The one-shot lookup over the journal's text gives what the store gives, per identity.
    bool found;
    store_options o11 = {dir, 11, P}, o12 = {dir, 12, P}, o13 = {dir, 13, P};
    assert_int_equal(store_peek(&o11, names, N_NAMES, &e.setting, &r, &found), KDT_OK);
    assert_true(found && r.val_gain == 0.012);
    assert_int_equal(store_peek(&o12, names, N_NAMES, &e.setting, &r, &found), KDT_OK);
    assert_true(found && r.val_gain == -0.5);
    assert_int_equal(store_peek(&o13, names, N_NAMES, &e.setting, &r, &found), KDT_OK);
    assert_false(found);
    assert_int_equal(store_peek(&o11, names, N_NAMES, &changed[0], &r, &found), KDT_OK);
    assert_false(found);
}

static void failures_and_runs(void **state) {
    (void)state;
    store *s = open_store(21);
    // An ok result with a non-finite gain is recorded as failed.
    store_eval e = an_eval("gp", 0, 3.0);
    e.result.val_gain = INFINITY;
    assert_int_equal(store_append(s, &e), KDT_OK);
    assert_false(e.result.ok);
    for (int k = 1; k < 4; k++) {
        store_eval f = an_eval("gp", k, 3.0 + k);
        assert_int_equal(store_append(s, &f), KDT_OK);
    }
    store_recommendation rec = {e.run, 4, 2};
    assert_int_equal(store_append_recommendation(s, &rec), KDT_OK);
    store_close(s);
    s = open_store(21);
    store_eval *lines;
    size_t n;
    assert_int_equal(store_run_evals(s, &e.run, &lines, &n), KDT_OK);
    assert_int_equal(n, 4);
    assert_false(lines[0].result.ok);
    assert_non_null(strstr(lines[0].result.reason, "not finite"));
    assert_true(lines[3].setting.temperature == 6.0);
    free(lines);
    assert_true(store_has_recommendation(s, &e.run, 4));
    const store_recommendation *recs;
    assert_int_equal(store_all_recommendations(s, &recs), 1);
    store_close(s);
}

static void torn_tail_and_bad_lines(void **state) {
    (void)state;
    store *s = open_store(31);
    store_eval e = an_eval("grid", 0, 2.0);
    assert_int_equal(store_append(s, &e), KDT_OK);
    store_close(s);
    char *text;
    size_t len;
    assert_int_equal(fs_read_all(journal, &text, &len), KDT_OK);
    // A torn last line (a crash mid-write) is cut off; the earlier line is kept.
    FILE *f = fopen(journal, "a");
    fputs("{\"v\":1,\"type\":\"ev", f);
    fclose(f);
    s = open_store(31);
    assert_true(store_has(s, &e.run, 0));
    store_close(s);
    char *after;
    size_t len2;
    assert_int_equal(fs_read_all(journal, &after, &len2), KDT_OK);
    assert_int_equal(len2, len);
    free(after);
    // A bad line before the last is refused with the file and line.
    char bad[8192];
    snprintf(bad, sizeof bad, "not json\n%s", text);
    write_file(bad);
    store *t = NULL;
    store_options opt = {dir, 31, P};
    assert_int_equal(store_open(&t, &opt, names, N_NAMES), KDT_ERR_FORMAT);
    assert_non_null(strstr(kdt_errmsg(), "trials.jsonl:1:"));
    assert_null(t);
    // A valid line of a pair outside the federation is refused too, with the field.
    snprintf(bad, sizeof bad, "%s%s", text, text);
    char *at = strstr(bad, "\"pair\":[1,3]");
    memcpy(at, "\"pair\":[1,7]", 12);
    write_file(bad);
    assert_int_equal(store_open(&t, &opt, names, N_NAMES), KDT_ERR_FORMAT);
    assert_non_null(strstr(kdt_errmsg(), "pair"));
    free(text);
    remove(journal);
}

static void links_and_special_files(void **state) {
    (void)state;
    char target[128];
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    write_file("");
    rename(journal, target);
    FILE *f = fopen(target, "w");
    fputs("precious\n{\"v\":1,", f); // would be "repaired" by a store that followed the link
    fclose(f);
    assert_int_equal(symlink(target, journal), 0);
    store *s = NULL;
    store_options opt = {dir, 41, P};
    assert_int_equal(store_open(&s, &opt, names, N_NAMES), KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), "symbolic link"));
    char *text;
    size_t len;
    assert_int_equal(fs_read_all(target, &text, &len), KDT_OK);
    assert_string_equal(text, "precious\n{\"v\":1,");
    free(text);
    remove(journal);
    // A FIFO is refused at once, not waited on.
    assert_int_equal(mkfifo(journal, 0600), 0);
    assert_int_equal(store_open(&s, &opt, names, N_NAMES), KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), "not a regular file"));
    remove(journal);
}

// Per-image outcomes: recorded, read back after a reopen, kept per identity, a torn tail cut off,
// and a participant's second, different record refused.
static void outcomes_round_trip(void **state) {
    (void)state;
    uint8_t val[3] = {0xA5, 0x0F, 0x01}, test[2] = {0xFF, 0x02}, pval[3] = {1, 2, 3}, ptest[2] = {4, 5};
    store_outcomes student = {val, test, 17, 10}, peer = {pval, ptest, 17, 10}, got, got_peer;
    store_eval e = an_eval("grid", 0, 2.0);
    store *s = open_store(51);
    assert_false(store_outcomes_of(s, &e.setting, &got, NULL));
    assert_int_equal(store_append_outcomes(s, &e.setting, &student, NULL), KDT_OK);
    store_setting dml = e.setting;
    dml.method = KD_METHOD_DML;
    assert_int_equal(store_append_outcomes(s, &dml, &student, &peer), KDT_OK);
    assert_int_equal(store_put_participant_outcomes(s, 3, &peer), KDT_OK);
    assert_int_equal(store_put_participant_outcomes(s, 3, &peer), KDT_OK); // the same again: fine
    store_close(s);
    s = open_store(51);
    assert_true(store_outcomes_of(s, &e.setting, &got, &got_peer));
    assert_int_equal(got.n_val, 17);
    assert_int_equal(got.n_test, 10);
    assert_memory_equal(got.val, val, 3);
    assert_memory_equal(got.test, test, 2);
    assert_int_equal(got_peer.n_val, 0);
    assert_true(store_outcomes_of(s, &dml, &got, &got_peer));
    assert_memory_equal(got_peer.val, pval, 3);
    assert_true(store_participant_outcomes(s, 3, &got));
    assert_memory_equal(got.test, ptest, 2);
    assert_false(store_participant_outcomes(s, 2, &got));
    assert_int_equal(store_put_participant_outcomes(s, 3, &student), KDT_ERR_STATE);
    store_close(s);
    s = open_store(52); // another identity sees none of them
    assert_false(store_outcomes_of(s, &e.setting, &got, NULL));
    store_close(s);
    // A torn last record is cut off; the earlier ones are kept.
    char path[160];
    snprintf(path, sizeof path, "%s/outcomes.bin", dir);
    struct stat before;
    assert_int_equal(stat(path, &before), 0);
    FILE *f = fopen(path, "ab");
    fwrite("KDTO\1\0", 1, 6, f);
    fclose(f);
    s = open_store(51);
    assert_true(store_outcomes_of(s, &dml, &got, &got_peer));
    store_close(s);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, before.st_size); // the 6 torn bytes are gone
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_round_trip),
        cmocka_unit_test(hostile_values_refused),
        cmocka_unit_test_setup_teardown(cache_and_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(failures_and_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_and_bad_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(links_and_special_files, setup, teardown),
        cmocka_unit_test_setup_teardown(outcomes_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
