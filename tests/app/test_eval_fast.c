// `kdtune eval` through the binary on a tiny federation: the --stdin line protocol (answers line by
// line, refused lines in the middle, a repeated setting answered the same with one journal line),
// a cached answer given without building the federation, a new one built from what the run
// directory kept giving exactly what building it all afresh gives (and a damaged data cache
// regenerated), the run directory's lock and fingerprint still enforced, and the one timing bound
// the issue asks for: 100 cached evaluations through --stdin in well under 5 s.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"

// 4 participants (6 pairs), a 1x8x8 MLP: pre-training takes about a second.
static const char *const tiny[] = {
    "federation.participants=4", "data.synthetic.image_size=8", "data.pool_size=800",
    "data.transfer_size=300", "data.val_size=300", "data.test_size=500", "model.arch=mlp",
    "model.mlp_hidden=[32]", "pretrain.epochs=10", "experiment.threads=1", NULL};

static char root[64];

// Runs kdtune eval -o DIR --pair PAIR [options...] with the tiny config and the overrides in
// `extra` (options are those without '='), stdin from in_path (NULL: /dev/null), stdout and stderr
// into files when given. Returns the exit code.
static int eval_in(const char *dir, const char *pair, const char *const *extra, const char *in_path,
                   const char *out_path, const char *err_path) {
    const char *argv[64];
    int n = 0;
    argv[n++] = KDT_BINARY_DIR "/kdtune";
    argv[n++] = "eval";
    argv[n++] = "-o";
    argv[n++] = dir;
    argv[n++] = "--pair";
    argv[n++] = pair;
    for (int k = 0; extra && extra[k]; k++)
        if (!strchr(extra[k], '=')) argv[n++] = extra[k];
    for (int k = 0; tiny[k]; k++) argv[n++] = tiny[k];
    for (int k = 0; extra && extra[k]; k++)
        if (strchr(extra[k], '=')) argv[n++] = extra[k];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(in_path ? in_path : "/dev/null", "r", stdin)) _exit(126);
        if (out_path && !freopen(out_path, "w", stdout)) _exit(126);
        if (err_path && !freopen(err_path, "w", stderr)) _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static char *slurp(const char *path) {
    char *text = NULL;
    size_t len;
    assert_int_equal(fs_read_all(path, &text, &len), KDT_OK);
    return text;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

// The lines of a file (at most 256), each malloc'ed without its newline.
static int lines_of(const char *path, char *lines[256]) {
    char *text = slurp(path);
    int n = 0;
    for (char *p = text, *nl; *p && n < 256; p = nl + 1) {
        nl = strchr(p, '\n');
        assert_non_null(nl); // every answer ends with a newline (it was flushed whole)
        lines[n++] = strndup(p, (size_t)(nl - p));
    }
    free(text);
    return n;
}

static void free_lines(char **lines, int n) {
    for (int k = 0; k < n; k++) free(lines[k]);
}

// Journal lines of strategy `eval`.
static int eval_lines(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/trials.jsonl", dir);
    if (!fs_exists(path)) return 0;
    char *lines[256];
    int n = lines_of(path, lines), evals = 0;
    for (int k = 0; k < n; k++) evals += strstr(lines[k], "\"strategy\":\"eval\"") != NULL;
    free_lines(lines, n);
    return evals;
}

// A result line without its "seconds" (the one field that depends on the machine).
static char *without_seconds(const char *line) {
    json_t *o = json_loads(line, 0, NULL);
    assert_non_null(o);
    assert_true(json_is_number(json_object_get(o, "seconds")));
    json_object_del(o, "seconds");
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static int setup_root(void **state) {
    (void)state;
    snprintf(root, sizeof root, "/tmp/kdt_evalfast_XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown_root(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", root, name); }

static void test_stdin_protocol(void **state) {
    (void)state;
    char dir[128], in[128], out[128], err[128];
    path_in(dir, sizeof dir, "stdin");
    path_in(in, sizeof in, "stdin.in");
    path_in(out, sizeof out, "stdin.out");
    path_in(err, sizeof err, "stdin.err");
    write_text(in, "{\"temperature\": 2.0, \"alpha\": 0.7, \"transfer_set\": \"unlabelled\", \"position\": \"forward\", "
                   "\"method\": \"kd\", \"replicate\": 0}\n"
                   "{\"temperature\": \"hot\"}\n"
                   "this is not JSON\n"
                   "{\"alpha\": 0.3, \"bogus\": 1}\n"
                   "{\"alpha\": 1.5}\n"
                   "{\"temperature\": 2.0, \"alpha\": 0.7}\n"
                   "{\"transfer_set\": \"student_data\", \"position\": \"reverse\", \"temperature\": 4}\n"
                   "{\"position\": \"sideways\"}\n"
                   "{}\n"
                   "   \n");
    assert_int_equal(eval_in(dir, "1,0", (const char *const[]){"--stdin", NULL}, in, out, err), 0);
    char *l[256];
    int n = lines_of(out, l);
    assert_int_equal(n, 10); // one answer per line (a blank one too), nothing else on stdout
    for (int k = 0; k < n; k++) {
        json_t *o = json_loads(l[k], 0, NULL);
        assert_non_null(o);
        bool error = json_object_get(o, "error") != NULL;
        assert_int_equal(error, k == 1 || k == 2 || k == 3 || k == 4 || k == 7 || k == 9);
        if (!error) {
            assert_string_equal(json_string_value(json_object_get(o, "status")), "ok");
            assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "pair"), 0)), 0);
        }
        json_decref(o);
    }
    // the errors name the key and the line
    assert_non_null(strstr(l[1], "line 2: temperature"));
    assert_non_null(strstr(l[2], "line 3: not JSON"));
    assert_non_null(strstr(l[3], "bogus"));
    assert_non_null(strstr(l[4], "alpha: 1.5 is out of range"));
    assert_non_null(strstr(l[7], "position: 'sideways'"));
    assert_non_null(strstr(l[9], "line 10: empty"));
    // the same setting (omitted keys at their defaults) twice: the same line, one journal line
    assert_string_equal(l[0], l[5]);
    assert_non_null(strstr(l[6], "\"student\":0,\"teacher\":1"));
    assert_non_null(strstr(l[6], "\"transfer_set\":\"student_data\""));
    assert_int_equal(eval_lines(dir), 3);
    // `{}` is the config's kd.* setting: what the one-shot eval prints (from the store now)
    char one[128];
    path_in(one, sizeof one, "oneshot.out");
    assert_int_equal(eval_in(dir, "0,1", NULL, NULL, one, NULL), 0);
    char *o[256];
    assert_int_equal(lines_of(one, o), 1);
    assert_string_equal(o[0], l[8]);
    assert_int_equal(eval_lines(dir), 3);
    free_lines(o, 1);
    // stderr has the logs, and says which lines were refused
    char *e = slurp(err);
    assert_non_null(strstr(e, "line 4"));
    free(e);
    free_lines(l, n);
}

// A cached one-shot eval needs neither the participants nor the data: with participants/ and
// the data cache moved away it still answers, says so, and recreates neither. Its setting is not
// written into config.yaml as the run's default.
static void test_cached_without_federation(void **state) {
    (void)state;
    char dir[128], out[128], err[128], a[256], b[256], c[256];
    path_in(dir, sizeof dir, "stdin"); // made by test_stdin_protocol
    path_in(out, sizeof out, "cached.out");
    path_in(err, sizeof err, "cached.err");
    snprintf(a, sizeof a, "%s/participants", dir);
    snprintf(b, sizeof b, "%s/participants.away", dir);
    snprintf(c, sizeof c, "%s/cache", dir);
    assert_true(fs_exists(a) && fs_exists(c));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", c);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rename(a, b), 0);
    const char *const setting[] = {"-v", "kd.temperature=4", "kd.transfer_set=student_data", "kd.position=reverse", NULL};
    assert_int_equal(eval_in(dir, "0,1", setting, NULL, out, err), 0);
    char *l[256];
    assert_int_equal(lines_of(out, l), 1);
    assert_non_null(strstr(l[0], "\"temperature\":4.0"));
    assert_false(fs_exists(a)); // nothing pre-trained again
    assert_false(fs_exists(c)); // no data generated
    char *e = slurp(err);
    assert_non_null(strstr(e, "the federation was not built"));
    assert_null(strstr(e, "participant 0"));
    free(e);
    free_lines(l, 1);
    assert_int_equal(rename(b, a), 0);
    // an evaluation's setting does not become the run's default setting in config.yaml
    char yaml_path[256];
    snprintf(yaml_path, sizeof yaml_path, "%s/config.yaml", dir);
    char *yaml = slurp(yaml_path);
    assert_non_null(strstr(yaml, "  temperature: 1.0\n"));
    assert_non_null(strstr(yaml, "  position: forward\n"));
    free(yaml);
}

// What a run directory kept (the data cache, the participants' outcomes before KD in the store)
// gives exactly what computing everything afresh gives; a damaged data cache is regenerated.
static void test_kept_equals_fresh(void **state) {
    (void)state;
    char kept[128], fresh[128], out[128], err[128], path[256];
    path_in(kept, sizeof kept, "kept");
    path_in(fresh, sizeof fresh, "fresh");
    path_in(out, sizeof out, "kept.out");
    path_in(err, sizeof err, "kept.err");
    const char *const first[] = {"kd.temperature=2", NULL};
    const char *const second[] = {"kd.temperature=6", "kd.alpha=0.9", "kd.transfer_set=unlabelled_self", NULL};
    // kept: a first evaluation pre-trains and records; the second is built from what it kept
    assert_int_equal(eval_in(kept, "0,2", first, NULL, NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/cache/splits.bin", kept);
    assert_true(fs_exists(path));
    const char *const second_v[] = {"-v", "kd.temperature=6", "kd.alpha=0.9", "kd.transfer_set=unlabelled_self", NULL};
    assert_int_equal(eval_in(kept, "0,2", second_v, NULL, out, err), 0);
    char *e = slurp(err);
    assert_non_null(strstr(e, "accuracies recalled"));
    free(e);
    char *k[256], *f[256];
    assert_int_equal(lines_of(out, k), 1);
    // fresh: the same setting first, everything computed
    char fout[128];
    path_in(fout, sizeof fout, "fresh.out");
    assert_int_equal(eval_in(fresh, "0,2", second, NULL, fout, NULL), 0);
    assert_int_equal(lines_of(fout, f), 1);
    char *a = without_seconds(k[0]), *b = without_seconds(f[0]);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free_lines(k, 1);
    free_lines(f, 1);

    // a flipped byte in kept's data cache: not used, regenerated, and the answer still right
    char *before = NULL;
    size_t len;
    assert_int_equal(fs_read_all(path, &before, &len), KDT_OK);
    FILE *c = fopen(path, "r+b");
    assert_non_null(c);
    fseek(c, (long)len / 2, SEEK_SET);
    fputc(before[len / 2] ^ 0x40, c);
    fclose(c);
    const char *const third[] = {"kd.temperature=3", "kd.alpha=0.2", NULL};
    assert_int_equal(eval_in(kept, "1,3", third, NULL, out, NULL), 0);
    assert_int_equal(eval_in(fresh, "1,3", third, NULL, fout, NULL), 0);
    assert_int_equal(lines_of(out, k), 1);
    assert_int_equal(lines_of(fout, f), 1);
    a = without_seconds(k[0]);
    b = without_seconds(f[0]);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free_lines(k, 1);
    free_lines(f, 1);
    char *after = NULL;
    size_t len2;
    assert_int_equal(fs_read_all(path, &after, &len2), KDT_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(before, after, len); // rewritten whole
    free(before);
    free(after);
}

// The run directory is still taken on a cached answer: locked, and its fingerprint checked.
static void test_run_dir_still_guarded(void **state) {
    (void)state;
    char dir[128], err[128], lock[256];
    path_in(dir, sizeof dir, "stdin");
    path_in(err, sizeof err, "guard.err");
    snprintf(lock, sizeof lock, "%s/lock", dir);
    int fd = open(lock, O_RDWR | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(eval_in(dir, "0,1", NULL, NULL, NULL, err), 1);
    char *e = slurp(err);
    assert_non_null(strstr(e, "in use by another kdtune command"));
    free(e);
    close(fd);
    assert_int_equal(eval_in(dir, "0,1", (const char *const[]){"data.pool_size=900", NULL}, NULL, NULL, err), 2);
    e = slurp(err);
    assert_non_null(strstr(e, "made with another config"));
    free(e);
    assert_int_equal(eval_in(dir, "0,7", NULL, NULL, NULL, err), 2);
    e = slurp(err);
    assert_non_null(strstr(e, "participant 7 does not exist"));
    free(e);
}

// The bound: 100 cached evaluations through one --stdin process in under 5 s (they take
// milliseconds; the bound only catches a process that rebuilds the federation per line).
static void test_stdin_100_cached(void **state) {
    (void)state;
    char dir[128], in[128], out[128];
    path_in(dir, sizeof dir, "many");
    path_in(in, sizeof in, "many.in");
    path_in(out, sizeof out, "many.out");
    static const double T[5] = {1, 2, 4, 8, 16};
    char text[16384] = "";
    for (int k = 0; k < 10; k++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "{\"temperature\": %g, \"alpha\": %g}\n", T[k % 5],
                 k < 5 ? 0.25 : 0.75);
    write_text(in, text);
    assert_int_equal(eval_in(dir, "2,3", (const char *const[]){"--stdin", NULL}, in, out, NULL), 0);
    assert_int_equal(eval_lines(dir), 10);
    char *first[256];
    assert_int_equal(lines_of(out, first), 10);
    text[0] = 0;
    for (int k = 0; k < 100; k++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "{\"temperature\": %g, \"alpha\": %g}\n",
                 T[(k * 7) % 10 % 5], (k * 7) % 10 < 5 ? 0.25 : 0.75);
    write_text(in, text);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(eval_in(dir, "2,3", (const char *const[]){"--stdin", NULL}, in, out, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("100 cached evaluations through --stdin: %.3f s\n", secs);
    assert_true(secs < 5.0);
    char *l[256];
    assert_int_equal(lines_of(out, l), 100);
    for (int k = 0; k < 100; k++) assert_string_equal(l[k], first[(k * 7) % 10]);
    assert_int_equal(eval_lines(dir), 10); // nothing trained or recorded again
    free_lines(l, 100);
    free_lines(first, 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdin_protocol),
        cmocka_unit_test(test_cached_without_federation),
        cmocka_unit_test(test_kept_equals_fresh),
        cmocka_unit_test(test_run_dir_still_guarded),
        cmocka_unit_test(test_stdin_100_cached),
    };
    return cmocka_run_group_tests(tests, setup_root, teardown_root);
}
