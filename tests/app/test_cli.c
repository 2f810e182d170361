// The kdtune binary as a user meets it: help, version, exit codes (0 ok, 1 runtime, 2 usage or
// config), error messages on stderr, and the resolved config on stdout.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/fs.h"

// Runs `kdtune ARGS` with stdout and stderr captured together; returns the exit code.
static int kdtune(const char *args, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s/kdtune %s 2>&1", KDT_SOURCE_DIR, KDT_BINARY_DIR, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static char out[1 << 16];

static void expect(const char *args, int code, const char *want) {
    int got = kdtune(args, out, sizeof out);
    if (got != code || !strstr(out, want))
        fail_msg("kdtune %s: exit %d, wanted %d with '%s'; output:\n%s", args, got, code, want, out);
}

static void help_and_version(void **state) {
    (void)state;
    expect("--help", 0, "Usage: kdtune <command>");
    expect("--help", 0, "validate");
    expect("--version", 0, "kdtune 0.");
    expect("validate --help", 0, "Usage: kdtune validate");
    expect("validate --help", 0, "--commented");
    expect("", 2, "Usage: kdtune <command>");
}

static void validate_prints_the_default(void **state) {
    (void)state;
    expect("validate", 0, "experiment:\n  name: \"default\"\n  seed: 42\n");
    expect("validate -q kd.alpha=0.25 --set kd.temperature=3", 2, "option '--set' must come before");
    expect("validate --set kd.temperature=3 kd.alpha=0.25", 0, "  temperature: 3.0\n  alpha: 0.25\n");
    expect("validate -c experiments/default.yaml", 0, "transfer_set: unlabelled");
    expect("validate --commented", 0, "# SGD learning rate [0.0, 10.0]");
    expect("validate -o /tmp/somewhere", 0, "dir: \"/tmp/somewhere\"");
}

// Every committed experiment config is valid.
static void experiment_configs_validate(void **state) {
    (void)state;
    const char *configs[] = {"default", "small", "mnist", "partitions", "cifar10_resnet18", "fmnist", "fmnist_partitions"};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        char args[128];
        snprintf(args, sizeof args, "validate -q -c experiments/%s.yaml", configs[i]);
        expect(args, 0, "experiment:");
    }
}

static void usage_errors_exit_2(void **state) {
    (void)state;
    expect("frobnicate", 2, "unknown command 'frobnicate'");
    expect("valdate", 2, "did you mean 'validate'?");
    expect("validate --bogus", 2, "unknown option '--bogus'");
    expect("validate -c", 2, "option '-c' needs a value");
    expect("validate stray", 2, "unexpected argument 'stray'");
    expect("validate kd.alpha=7", 2, "kd.alpha: 7 is out of range");
    expect("validate -c /nonexistent.yaml", 2, "/nonexistent.yaml: cannot open");
    expect("validate model.arch=[cnn,cnn,cnn]", 2, "model.arch has 3 entries");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_and_version),
        cmocka_unit_test(validate_prints_the_default),
        cmocka_unit_test(experiment_configs_validate),
        cmocka_unit_test(usage_errors_exit_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
