// The journal file (app/journal.c, formerly tuner/journal.c): a missing file is empty, blank lines
// are skipped, a damaged last line is reported and cut, an unterminated one is ended, a damaged
// middle line is an error naming the file and line, and appended lines read back.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/journal.h"
#include "common/fs.h"
#include "common/log.h"

static char path[512];

static void fresh(const char *name) {
    snprintf(path, sizeof path, "%s/tests/journal_%s_%d.jsonl", KDT_BINARY_DIR, name, (int)getpid());
    fs_mkdir_p(KDT_BINARY_DIR "/tests");
    remove(path);
}

static void write_text(const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static size_t file_size(void) {
    char *d;
    size_t n;
    assert_int_equal(fs_read_all(path, &d, &n), KDT_OK);
    free(d);
    return n;
}

typedef struct {
    size_t lines, of_a;
} census;

static kdt_status count_line(const json_t *line, size_t lineno, void *user) {
    census *c = user;
    c->lines++;
    const char *run = json_string_value(json_object_get(line, "run"));
    c->of_a += run && !strcmp(run, "gp/0-1");
    assert_true(lineno >= 1);
    return KDT_OK;
}

static void missing_blank_damaged_tail_and_append(void **state) {
    (void)state;
    fresh("tail");
    census c = {0};
    assert_int_equal(journal_foreach(path, count_line, &c, NULL), KDT_OK);
    assert_int_equal(c.lines, 0);
    write_text("{\"run\":\"x\"}\n\n  \n{\"run\":\"gp/0-1\"}\n{\"run\":");
    journal_info info;
    assert_int_equal(journal_foreach(path, count_line, &c, &info), KDT_OK);
    assert_int_equal(c.lines, 2);
    assert_int_equal(c.of_a, 1);
    size_t good = strlen("{\"run\":\"x\"}\n\n  \n{\"run\":\"gp/0-1\"}\n");
    assert_int_equal(info.damaged_at, good);
    assert_int_equal(journal_repair(path, &info), KDT_OK);
    assert_int_equal(file_size(), good);
    // A complete last line without its newline is kept and terminated.
    write_text("{\"run\":\"x\"}\n{\"run\":\"y\"}");
    c = (census){0};
    assert_int_equal(journal_foreach(path, count_line, &c, &info), KDT_OK);
    assert_int_equal(c.lines, 2);
    assert_true(info.unterminated && info.damaged_at == info.size);
    assert_int_equal(journal_repair(path, &info), KDT_OK);
    json_t *line = json_pack("{s:s, s:f}", "run", "gp/0-1", "value", 0.1);
    assert_int_equal(journal_append(path, line), KDT_OK);
    json_decref(line);
    c = (census){0};
    assert_int_equal(journal_foreach(path, count_line, &c, &info), KDT_OK);
    assert_int_equal(c.lines, 3);
    assert_int_equal(c.of_a, 1);
    remove(path);
}

static void damaged_middle_line_is_an_error(void **state) {
    (void)state;
    fresh("middle");
    write_text("{\"run\":\"a\"}\n{\"run\"#:\"b\"}\n{\"run\":\"c\"}\n");
    census c = {0};
    assert_int_equal(journal_foreach(path, count_line, &c, NULL), KDT_ERR_FORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s:2:", path);
    assert_non_null(strstr(kdt_errmsg(), want));
    remove(path);
}

static void unwritable_journal_is_an_io_error(void **state) {
    (void)state;
    snprintf(path, sizeof path, "%s/no/such/dir/j.jsonl", KDT_BINARY_DIR);
    json_t *line = json_pack("{s:s}", "run", "z");
    assert_int_equal(journal_append(path, line), KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), path));
    json_decref(line);
}

int main(void) {
    log_set_level(LOG_ERROR); // the damaged-tail warnings are expected here
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_blank_damaged_tail_and_append),
        cmocka_unit_test(damaged_middle_line_is_an_error),
        cmocka_unit_test(unwritable_journal_is_an_io_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
