// Hostile files, classes 2 (links and special files) and 6 (stale temporaries): common/fs opens
// only regular files and never blocks on a FIFO or reads /dev/zero without end, bounds what it
// reads, never writes through a link, and removes only its own temporaries.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

static char dir[64];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kdt_fs_hostile_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void in_dir(char *out, size_t cap, const char *name) {
    assert_int_equal(fs_join(out, cap, dir, name), KDT_OK);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_msg(kdt_status got, kdt_status want, const char *needle) {
    assert_int_equal(got, want);
    if (!strstr(kdt_errmsg(), needle)) fail_msg("message '%s' lacks '%s'", kdt_errmsg(), needle);
}

// A FIFO with no writer: reading it must neither block nor succeed (the test would hang otherwise).
static void fifo_is_refused_without_blocking(void **state) {
    (void)state;
    char fifo[256];
    in_dir(fifo, sizeof fifo, "config.yaml");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *data = (char *)1;
    size_t len = 7;
    expect_msg(fs_read_all(fifo, &data, &len), KDT_ERR_IO, "a FIFO");
    assert_non_null(strstr(kdt_errmsg(), fifo));
    assert_null(data);
    int fd = 5;
    expect_msg(fs_open_regular(fifo, 0, &fd), KDT_ERR_IO, "not a regular file");
    assert_int_equal(fd, -1);
}

static void devices_and_directories_are_refused(void **state) {
    (void)state;
    char *data;
    size_t len;
    expect_msg(fs_read_all("/dev/zero", &data, &len), KDT_ERR_IO, "/dev/zero: is a character device");
    expect_msg(fs_read_all("/dev/null", &data, &len), KDT_ERR_IO, "character device");
    expect_msg(fs_read_all(dir, &data, &len), KDT_ERR_IO, "is a directory");
    expect_msg(fs_read_all("/nonexistent/x", &data, &len), KDT_ERR_IO, "cannot open");
}

static void links_are_refused_when_asked(void **state) {
    (void)state;
    char target[256], link[256];
    in_dir(target, sizeof target, "real");
    in_dir(link, sizeof link, "p0.ckpt");
    write_file(target, "abc");
    assert_int_equal(symlink(target, link), 0);
    int fd;
    expect_msg(fs_open_regular(link, FS_NOFOLLOW, &fd), KDT_ERR_IO, "symbolic link");
    assert_int_equal(fs_open_regular(link, 0, &fd), KDT_OK); // reading through a link is allowed
    close(fd);
}

static void reads_are_bounded(void **state) {
    (void)state;
    char path[256];
    in_dir(path, sizeof path, "big");
    write_file(path, "0123456789");
    char *data;
    size_t len;
    expect_msg(fs_read_all_limited(path, 9, &data, &len), KDT_ERR_FORMAT, "more than the 9 bytes");
    assert_null(data);
    assert_int_equal(fs_read_all_limited(path, 10, &data, &len), KDT_OK);
    assert_int_equal(len, 10);
    assert_string_equal(data, "0123456789");
    free(data);
}

// A link planted where kdtune writes: the write is refused and the link's target is unchanged.
static void writes_never_follow_a_link(void **state) {
    (void)state;
    char outside[256], link[256];
    in_dir(outside, sizeof outside, "outside.txt");
    in_dir(link, sizeof link, "summary.json");
    write_file(outside, "precious");
    assert_int_equal(symlink(outside, link), 0);
    expect_msg(fs_write_atomic(link, "evil", 4), KDT_ERR_IO, "symbolic link");
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(outside, &data, &len), KDT_OK);
    assert_string_equal(data, "precious");
    free(data);
    // A dangling link too: nothing may be created at its target.
    char dangling[256], nowhere[256];
    in_dir(dangling, sizeof dangling, "report.md");
    in_dir(nowhere, sizeof nowhere, "created-through-link");
    assert_int_equal(symlink(nowhere, dangling), 0);
    expect_msg(fs_write_atomic(dangling, "evil", 4), KDT_ERR_IO, "symbolic link");
    assert_false(fs_exists(nowhere));
    // A FIFO or a directory where the file goes: refused, never opened.
    char fifo[256];
    in_dir(fifo, sizeof fifo, "fingerprint");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_msg(fs_write_atomic(fifo, "x", 1), KDT_ERR_IO, "FIFO");
    // An ordinary write still works, and replaces the file.
    char ok[256];
    in_dir(ok, sizeof ok, "ok.txt");
    assert_int_equal(fs_write_atomic(ok, "one", 3), KDT_OK);
    assert_int_equal(fs_write_atomic(ok, "two", 3), KDT_OK);
    assert_int_equal(fs_read_all(ok, &data, &len), KDT_OK);
    assert_string_equal(data, "two");
    free(data);
}

// A link planted as a folder kdtune writes into (run/participants -> elsewhere) is refused.
static void linked_folders_are_refused(void **state) {
    (void)state;
    char real[256], link[256], below[300];
    in_dir(real, sizeof real, "elsewhere");
    in_dir(link, sizeof link, "participants");
    assert_int_equal(mkdir(real, 0700), 0);
    assert_int_equal(symlink(real, link), 0);
    expect_msg(fs_mkdir_p(link), KDT_ERR_IO, "symbolic link");
    snprintf(below, sizeof below, "%s/sub", link); // a link higher up the path is followed
    assert_int_equal(fs_mkdir_p(below), KDT_OK);
    assert_int_equal(fs_mkdir_p(real), KDT_OK);
}

// What the journal needs: appending to a regular file only, never through a link or to a FIFO.
static void appends_are_regular_only(void **state) {
    (void)state;
    char path[256], link[256], outside[256], fifo[256];
    in_dir(path, sizeof path, "trials.jsonl");
    in_dir(link, sizeof link, "linked.jsonl");
    in_dir(outside, sizeof outside, "outside");
    in_dir(fifo, sizeof fifo, "fifo.jsonl");
    int fd;
    assert_int_equal(fs_open_append(path, &fd), KDT_OK);
    assert_int_equal(write(fd, "a\n", 2), 2);
    close(fd);
    assert_int_equal(fs_open_append(path, &fd), KDT_OK);
    assert_int_equal(write(fd, "b\n", 2), 2);
    close(fd);
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(path, &data, &len), KDT_OK);
    assert_string_equal(data, "a\nb\n");
    free(data);
    write_file(outside, "precious");
    assert_int_equal(symlink(outside, link), 0);
    expect_msg(fs_open_append(link, &fd), KDT_ERR_IO, "symbolic link");
    assert_int_equal(fd, -1);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_msg(fs_open_append(fifo, &fd), KDT_ERR_IO, "FIFO");
    assert_int_equal(fs_read_all(outside, &data, &len), KDT_OK);
    assert_string_equal(data, "precious");
    free(data);
}

static void temp_names(void **state) {
    (void)state;
    assert_true(fs_is_temp_name("p3.ckpt.tmp.12345"));
    assert_true(fs_is_temp_name("indices.bin.tmp.1"));
    assert_false(fs_is_temp_name("p3.ckpt.tmp."));
    assert_false(fs_is_temp_name("p3.ckpt.tmp"));
    assert_false(fs_is_temp_name(".tmp.12"));
    assert_false(fs_is_temp_name("p3.ckpt"));
    assert_false(fs_is_temp_name("notes.tmp.12a"));
}

// A kill between create and rename leaves "<file>.tmp.<pid>": removed, and only such names; a
// link of that name is removed as a link, its target untouched.
static void stale_temporaries_are_removed(void **state) {
    (void)state;
    char path[256], keep[256], target[512], link[256];
    in_dir(path, sizeof path, "p3.ckpt.tmp.4242");
    in_dir(keep, sizeof keep, "p3.ckpt");
    in_dir(target, sizeof target, "precious.tmp.1"); // would match, but is reached only by the link
    write_file(path, "half a checkpoint");
    write_file(keep, "whole");
    char sub[256];
    in_dir(sub, sizeof sub, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(target, sizeof target, "%s/precious.tmp.1", sub);
    write_file(target, "precious");
    in_dir(link, sizeof link, "x.tmp.7");
    assert_int_equal(symlink(target, link), 0);
    char fifo[256];
    in_dir(fifo, sizeof fifo, "f.tmp.9"); // not a file kdtune writes: left alone
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int removed = -1;
    assert_int_equal(fs_remove_stale_temps(dir, &removed), KDT_OK);
    assert_int_equal(removed, 2);
    assert_false(fs_exists(path));
    struct stat st;
    assert_int_not_equal(lstat(link, &st), 0);
    assert_true(fs_exists(keep));
    assert_true(fs_exists(target));
    assert_true(fs_exists(fifo));
    assert_int_equal(fs_remove_stale_temps("/nonexistent/dir", &removed), KDT_OK);
    assert_int_equal(removed, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fifo_is_refused_without_blocking, setup, teardown),
        cmocka_unit_test_setup_teardown(devices_and_directories_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(links_are_refused_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_never_follow_a_link, setup, teardown),
        cmocka_unit_test_setup_teardown(linked_folders_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(appends_are_regular_only, setup, teardown),
        cmocka_unit_test(temp_names),
        cmocka_unit_test_setup_teardown(stale_temporaries_are_removed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
