// Hostile input to the app, one test per class: 1 text reaching gnuplot (plots), 3 unbounded
// sizes (config nesting, model and data sizes), 5 names that are not UTF-8 (config round trip),
// and the recommended.yaml reader (special files, nesting, bad values).
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

#include "app/config.h"
#include "app/plot.h"
#include "app/recommend.h"
#include "common/fs.h"

static void expect_msg(kdt_status got, kdt_status want, const char *needle) {
    assert_int_equal(got, want);
    if (!strstr(kdt_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", kdt_errmsg(), needle);
}

static kdt_config *fresh(void) {
    kdt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    config_default(c);
    return c;
}

// Class 1: a series name from a journal and a folder name with a quote and newlines cannot
// become gnuplot commands.
static void plot_text_never_becomes_code(void **state) {
    (void)state;
    char base[] = "/tmp/kdt_hostile_plot_XXXXXX";
    assert_non_null(mkdtemp(base));
    char dir[512], png[600], gp[600], pwned[600];
    snprintf(dir, sizeof dir, "%s/run'\nsystem('touch %s/PWNED1')\n#\"", base, base);
    assert_int_equal(fs_mkdir_p(dir), KDT_OK);
    snprintf(pwned, sizeof pwned, "%s/PWNED", base);
    char evil[800];
    snprintf(evil, sizeof evil, "gp'\nsystem('touch %s')\n'", pwned);
    double y[] = {0.1, 0.2, 0.3};
    plot_series s[] = {{evil, y, 3}, {"random", y, 3}};
    snprintf(png, sizeof png, "%s/best_so_far.png", dir);
    kdt_status st = plot_lines(png, evil, evil, "gain", s, 2, 0.3, evil);
    bool have_gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;
    if (have_gnuplot) assert_int_equal(st, KDT_OK);
    assert_false(fs_exists(pwned));
    char pwned1[600];
    snprintf(pwned1, sizeof pwned1, "%s/PWNED1", base);
    assert_false(fs_exists(pwned1));
    // The script: no line starts a command of the attacker's.
    snprintf(gp, sizeof gp, "%s/best_so_far.gp", dir);
    char *text;
    size_t len;
    assert_int_equal(fs_read_all(gp, &text, &len), KDT_OK);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "system", 6) == 0 || strncmp(line, "'", 1) == 0) fail_msg("injected: %s", line);
    assert_null(strstr(text, base)); // the folder's path never enters the script
    free(text);
    const char *labels[] = {evil, "x"};
    double v[] = {0.1, 0.2};
    snprintf(png, sizeof png, "%s/forgetting.png", dir);
    st = plot_bars(png, evil, evil, labels, v, NULL, 2);
    if (have_gnuplot) assert_int_equal(st, KDT_OK);
    assert_false(fs_exists(pwned));
    // A file name outside kdtune's own alphabet is refused, not quoted.
    snprintf(png, sizeof png, "%s/x'y.png", base);
    expect_msg(plot_bars(png, "t", "y", labels, v, NULL, 2), KDT_ERR_USAGE, "must end in .png");
    // Links planted where the data and the PNG go: refused, their target untouched.
    char outside[600];
    snprintf(outside, sizeof outside, "%s/outside", base);
    assert_int_equal(fs_write_atomic(outside, "precious", 8), KDT_OK);
    snprintf(png, sizeof png, "%s/bars.png", dir);
    assert_int_equal(symlink(outside, png), 0);
    snprintf(gp, sizeof gp, "%s/bars.dat", dir);
    assert_int_equal(symlink(outside, gp), 0);
    st = plot_bars(png, "t", "y", labels, v, NULL, 2);
    assert_int_equal(st, KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), "symbolic link"));
    assert_int_equal(fs_read_all(outside, &text, &len), KDT_OK);
    assert_string_equal(text, "precious");
    free(text);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    assert_int_equal(system(cmd), 0);
}

// Class 3: nesting deeper than a config can be is refused at once, whatever the depth.
static void deep_nesting_is_refused_early(void **state) {
    (void)state;
    size_t n = 100000;
    char *yaml = malloc(2 * n + 16);
    assert_non_null(yaml);
    char *p = yaml;
    p += sprintf(p, "data: ");
    for (size_t i = 0; i < n; i++) *p++ = '[';
    for (size_t i = 0; i < n; i++) *p++ = ']';
    *p = '\0';
    kdt_config *c = fresh(), *before = fresh();
    expect_msg(config_load_string(c, yaml, strlen(yaml), "deep.yaml"), KDT_ERR_CONFIG, "deep.yaml:1:");
    assert_non_null(strstr(kdt_errmsg(), "nested deeper than"));
    assert_memory_equal(c, before, sizeof *c);
    // Block nesting, and through an override.
    p = yaml;
    for (int i = 0; i < 40; i++) p += sprintf(p, "%*sk%d:\n", i, "", i);
    expect_msg(config_load_string(c, yaml, strlen(yaml), "block.yaml"), KDT_ERR_CONFIG, "nested deeper");
    expect_msg(config_set(c, "model.mlp_hidden=[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]"), KDT_ERR_CONFIG,
               "nested deeper");
    free(yaml);
    free(c);
    free(before);
}

// Class 3: a model or a dataset larger than memory is refused by config_check, naming the keys
// and the bytes, before anything is allocated.
static void sizes_are_checked_against_memory(void **state) {
    (void)state;
    kdt_config *c = fresh();
    assert_int_equal(config_set(c, "model.mlp_hidden=[65536, 65536, 65536, 65536, 65536, 65536]"), KDT_OK);
    expect_msg(config_check(c), KDT_ERR_CONFIG, "model.mlp_hidden");
    assert_non_null(strstr(kdt_errmsg(), "MiB"));
    assert_null(strstr(kdt_errmsg(), "use a smaller batch"));
    config_default(c);
    assert_int_equal(config_set(c, "model.mlp_hidden=[1, 2, 3, 4, 5, 6, 7, 8, 9]"), KDT_OK);
    expect_msg(config_check(c), KDT_ERR_CONFIG, "model.mlp_hidden has 9 layers");
    config_default(c);
    assert_int_equal(config_set(c, "data.pool_size=10000000"), KDT_OK);
    assert_int_equal(config_set(c, "data.synthetic.image_size=256"), KDT_OK);
    assert_int_equal(config_set(c, "data.synthetic.channels=4"), KDT_OK);
    expect_msg(config_check(c), KDT_ERR_CONFIG, "data.pool_size");
    assert_non_null(strstr(kdt_errmsg(), "MiB"));
    config_default(c);
    assert_int_equal(config_check(c), KDT_OK);
    free(c);
}

// Class 5: every UTF-8 name reads back from config.yaml byte for byte; a name that is not UTF-8 is
// refused when it enters (override or command line), with the key and the byte.
static void names_round_trip_or_are_refused(void **state) {
    (void)state;
    const char *names[] = {
        "plain", "quote\" back\\slash 'single'", "tab\tnew\nline\rcr", "del\x7f", "yes", "~", "",
        "nel\xc2\x85 ls\xe2\x80\xa8 ps\xe2\x80\xa9 bom\xef\xbb\xbf nonchar\xef\xbf\xbe\xef\xbf\xbf",
        "c1\xc2\x80\xc2\x9f \xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "#comment: [x] {y} &a *b !t %p @ `",
        " leading and trailing ", "---", "...", "- item",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        kdt_config *c = fresh(), *back = fresh();
        char assign[600];
        snprintf(assign, sizeof assign, "experiment.name=%s", names[i]);
        assert_int_equal(config_set(c, assign), KDT_OK);
        snprintf(assign, sizeof assign, "output.dir=runs/%s", names[i]);
        assert_int_equal(config_set(c, assign), KDT_OK);
        assert_int_equal(config_check(c), KDT_OK);
        char *yaml = config_to_yaml(c, false);
        kdt_status s = config_load_string(back, yaml, strlen(yaml), "config.yaml");
        if (s) fail_msg("name %zu does not read back: %s\n%s", i, kdt_errmsg(), yaml);
        assert_string_equal(back->experiment.name, names[i]);
        assert_string_equal(back->output.dir, c->output.dir);
        free(yaml);
        free(c);
        free(back);
    }
    const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kdt_config *c = fresh();
        char assign[64];
        snprintf(assign, sizeof assign, "experiment.name=%s", bad[i]);
        expect_msg(config_set(c, assign), KDT_ERR_CONFIG, "not valid UTF-8");
        assert_non_null(strstr(kdt_errmsg(), "experiment.name"));
        // The command line's -o bypasses config_set: config_check catches it.
        snprintf(c->output.dir, sizeof c->output.dir, "runs/%s", bad[i]);
        expect_msg(config_check(c), KDT_ERR_CONFIG, "output.dir is not valid UTF-8");
        free(c);
    }
}

// --recommended FILE: special files, nesting and bad values are refused with the file's name.
static void hostile_recommended_files(void **state) {
    (void)state;
    char dir[] = "/tmp/kdt_hostile_rec_XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/recommended.yaml", dir);
    recommend_setting r;
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_msg(recommend_read(path, 0, 1, &r), KDT_ERR_IO, "FIFO");
    remove(path);
    expect_msg(recommend_read("/dev/zero", 0, 1, &r), KDT_ERR_IO, "character device");
    char deep[4096];
    char *p = deep + sprintf(deep, "alpha_weights: soft_target\npairs: ");
    for (int i = 0; i < 1000; i++) *p++ = '[';
    *p = '\0';
    assert_int_equal(fs_write_atomic(path, deep, strlen(deep)), KDT_OK);
    expect_msg(recommend_read(path, 0, 1, &r), KDT_ERR_FORMAT, "nested deeper");
    const char *bad = "alpha_weights: soft_target\npairs:\n  - pair: [0, 1]\n    student: 99999999999\n"
                      "    teacher: 0\n    temperature: 2.0\n    alpha: 0.5\n    transfer_set: unlabelled\n"
                      "    position: forward\n";
    assert_int_equal(fs_write_atomic(path, bad, strlen(bad)), KDT_OK);
    expect_msg(recommend_read(path, 0, 1, &r), KDT_ERR_FORMAT, "participant numbers");
    const char *nan = "alpha_weights: soft_target\npairs:\n  - pair: [0, 1]\n    student: 1\n"
                      "    teacher: 0\n    temperature: .nan\n    alpha: 0.5\n    transfer_set: unlabelled\n"
                      "    position: forward\n";
    assert_int_equal(fs_write_atomic(path, nan, strlen(nan)), KDT_OK);
    expect_msg(recommend_read(path, 0, 1, &r), KDT_ERR_FORMAT, "kd.temperature");
    remove(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plot_text_never_becomes_code),
        cmocka_unit_test(deep_nesting_is_refused_early),
        cmocka_unit_test(sizes_are_checked_against_memory),
        cmocka_unit_test(names_round_trip_or_are_refused),
        cmocka_unit_test(hostile_recommended_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
