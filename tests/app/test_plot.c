// Plots: each kind is drawn into a PNG (checked by its signature and a plausible size), and the
// data and script stay beside it. Skipped when gnuplot is not installed.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/plot.h"
#include "common/fs.h"

static char dir[] = "/tmp/kdt_plot_XXXXXX";

static void assert_png(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data;
    size_t len;
    assert_int_equal(fs_read_all(path, &data, &len), KDT_OK);
    assert_true(len > 2000);
    assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
    free(data);
}

static void draws_every_kind(void **state) {
    (void)state;
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("# gnuplot not installed: skipped\n");
        skip();
    }
    assert_non_null(mkdtemp(dir));
    char png[256];
    const char *xs[] = {"0.0", "0.5", "1.0"}, *ys[] = {"1", "4"};
    const double z[] = {0.01, -0.02, NAN, 0.03, 0.0, -0.01};
    snprintf(png, sizeof png, "%s/heat.png", dir);
    assert_int_equal(plot_heatmap(png, "gain 'x'", "alpha", "T", xs, 3, ys, 2, z, "points", 100), KDT_OK);
    assert_png("heat.png");
    assert_png("heat.png");
    double a[] = {0.1, 0.2, 0.25, NAN, 0.3}, b[] = {0.0, 0.15, 0.3};
    plot_series s[] = {{"gp", a, 5}, {"random", b, 3}};
    snprintf(png, sizeof png, "%s/lines.png", dir);
    assert_int_equal(plot_lines(png, "best so far", "evaluations", "gain", s, 2, 0.31, "grid best"), KDT_OK);
    assert_png("lines.png");
    const char *labels[] = {"unlabelled", "student_data"};
    double v[] = {0.02, -0.01}, e[] = {0.005, 0.01};
    snprintf(png, sizeof png, "%s/bars.png", dir);
    assert_int_equal(plot_bars(png, "forgetting", "points", labels, v, e, 2), KDT_OK);
    assert_png("bars.png");
    snprintf(png, sizeof png, "%s/bars.gp", dir);
    assert_true(fs_exists(png));
    // An unwritable place is an error, not a crash.
    assert_int_equal(plot_bars("/nonexistent/dir/x.png", "t", "y", labels, v, NULL, 2), KDT_ERR_IO);
    assert_non_null(strstr(kdt_errmsg(), "/nonexistent/dir/x.dat: cannot write"));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(draws_every_kind)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
