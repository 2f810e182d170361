// gnuplot scripts for the report's heat maps, curves and bars (pngcairo terminal).
#include "app/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

// Replaces the ".png" of `png` by `ext`.
static void sibling(char *out, size_t cap, const char *png, const char *ext) {
    size_t n = strlen(png);
    if (n > 4 && strcmp(png + n - 4, ".png") == 0) n -= 4;
    snprintf(out, cap, "%.*s%s", (int)n, png, ext);
}

// gnuplot strings are single-quoted; a quote inside is doubled.
static void put_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static kdt_status run_gnuplot(const char *script) {
    char *argv[] = {"gnuplot", (char *)script, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        return kdt_fail(KDT_ERR_IO, "cannot run gnuplot (%s): install gnuplot-nox "
                        "(scripts/install-deps.sh) or set output.plots=false", strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return kdt_fail(KDT_ERR_IO, "waiting for gnuplot: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return kdt_fail(KDT_ERR_IO, "gnuplot failed on %s (see its messages above)", script);
    return KDT_OK;
}

static FILE *open_or_fail(const char *path, kdt_status *s) {
    FILE *f = fopen(path, "w");
    if (!f) *s = kdt_fail(KDT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

// The data and script files of one plot, beside its PNG.
typedef struct {
    char dat[4096], script[4096];
} plot_files;

// Names the files and opens the data file; NULL (with *s set) when it cannot be written.
static FILE *begin(const char *png, plot_files *f, kdt_status *s) {
    sibling(f->dat, sizeof f->dat, png, ".dat");
    sibling(f->script, sizeof f->script, png, ".gp");
    return open_or_fail(f->dat, s);
}

static void put_axes(FILE *gp, const char *xlabel, const char *ylabel) {
    if (xlabel) {
        fprintf(gp, "set xlabel ");
        put_quoted(gp, xlabel);
        fputc('\n', gp);
    }
    fprintf(gp, "set ylabel ");
    put_quoted(gp, ylabel);
    fputc('\n', gp);
}

static void put_header(FILE *gp, const char *png, const char *title, int width, int height) {
    fprintf(gp, "set terminal pngcairo noenhanced size %d,%d font 'Sans,10'\nset output ", width,
            height);
    put_quoted(gp, png);
    fprintf(gp, "\nset title ");
    put_quoted(gp, title);
    fputc('\n', gp);
}

kdt_status plot_heatmap(const char *png, const char *title, const char *xlabel, const char *ylabel,
                        const char *const *xticks, int nx, const char *const *yticks, int ny,
                        const double *z, const char *zlabel, double label_scale) {
    plot_files pf;
    kdt_status s = KDT_OK;
    FILE *d = begin(png, &pf, &s);
    if (!d) return s;
    fprintf(d, "# x y value label\n");
    for (int r = 0; r < ny; r++)
        for (int c = 0; c < nx; c++) {
            double v = z[(size_t)r * nx + c];
            if (isnan(v)) fprintf(d, "%d %d NaN \"\"\n", c, r);
            else fprintf(d, "%d %d %.9g \"%.1f\"\n", c, r, v, v * label_scale);
        }
    fclose(d);
    FILE *gp = open_or_fail(pf.script, &s);
    if (!gp) return s;
    int width = 120 + 70 * nx, height = 140 + 45 * ny;
    put_header(gp, png, title, width < 480 ? 480 : width, height < 320 ? 320 : height);
    put_axes(gp, xlabel, ylabel);
    fprintf(gp, "set cblabel ");
    put_quoted(gp, zlabel);
    fprintf(gp, "\nset xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset xtics (", nx - 0.5, ny - 0.5);
    for (int c = 0; c < nx; c++) {
        fprintf(gp, "%s", c ? ", " : "");
        put_quoted(gp, xticks[c]);
        fprintf(gp, " %d", c);
    }
    fprintf(gp, ")\nset ytics (");
    for (int r = 0; r < ny; r++) {
        fprintf(gp, "%s", r ? ", " : "");
        put_quoted(gp, yticks[r]);
        fprintf(gp, " %d", r);
    }
    fprintf(gp, ")\nset palette defined (0 '#b2182b', 1 '#f7f7f7', 2 '#2166ac')\n"
                "unset key\n");
    // Centre the palette on zero so that gains are blue and losses red.
    double m = 0;
    for (int i = 0; i < nx * ny; i++)
        if (!isnan(z[i])) m = fmax(m, fabs(z[i]));
    if (m > 0) fprintf(gp, "set cbrange [%.9g:%.9g]\n", -m, m);
    fprintf(gp, "plot ");
    put_quoted(gp, pf.dat);
    // NaN cells stay blank: `image` leaves them out, and their label is empty.
    fprintf(gp, " using 1:2:3 with image, '' using 1:2:4 with labels font 'Sans,8'\n");
    fclose(gp);
    return run_gnuplot(pf.script);
}

kdt_status plot_lines(const char *png, const char *title, const char *xlabel, const char *ylabel,
                      const plot_series *series, int n_series, double hline, const char *hline_label) {
    plot_files pf;
    kdt_status s = KDT_OK;
    FILE *d = begin(png, &pf, &s);
    if (!d) return s;
    for (int k = 0; k < n_series; k++) { // one gnuplot data block per series
        fprintf(d, "# %s\n", series[k].name);
        for (int i = 0; i < series[k].n; i++)
            if (!isnan(series[k].y[i])) fprintf(d, "%d %.9g\n", i + 1, series[k].y[i]);
        fprintf(d, "\n\n");
    }
    fclose(d);
    FILE *gp = open_or_fail(pf.script, &s);
    if (!gp) return s;
    put_header(gp, png, title, 720, 440);
    put_axes(gp, xlabel, ylabel);
    int longest = 1;
    for (int k = 0; k < n_series; k++) longest = series[k].n > longest ? series[k].n : longest;
    fprintf(gp, "set key bottom right\nset grid\nset xrange [1:%d]\nset xtics %d\nplot ", longest,
            (longest + 9) / 10);
    for (int k = 0; k < n_series; k++) {
        fprintf(gp, "%s", k ? ", " : "");
        put_quoted(gp, pf.dat);
        fprintf(gp, " index %d using 1:2 with linespoints pt 7 ps 0.5 lw 2 title ", k);
        put_quoted(gp, series[k].name);
    }
    if (!isnan(hline)) {
        fprintf(gp, "%s%.9g with lines dt 2 lw 2 lc rgb 'black' title ", n_series ? ", " : "", hline);
        put_quoted(gp, hline_label ? hline_label : "");
    }
    fputc('\n', gp);
    fclose(gp);
    return run_gnuplot(pf.script);
}

kdt_status plot_bars(const char *png, const char *title, const char *ylabel,
                     const char *const *labels, const double *values, const double *err, int n) {
    plot_files pf;
    kdt_status s = KDT_OK;
    FILE *d = begin(png, &pf, &s);
    if (!d) return s;
    for (int i = 0; i < n; i++) {
        fprintf(d, "%d \"", i);
        for (const char *c = labels[i]; *c; c++) fputc(*c == '"' ? '\'' : *c, d);
        fprintf(d, "\" %.9g %.9g\n", values[i], err ? err[i] : 0.0);
    }
    fclose(d);
    FILE *gp = open_or_fail(pf.script, &s);
    if (!gp) return s;
    put_header(gp, png, title, 160 + 110 * n < 480 ? 480 : 160 + 110 * n, 420);
    put_axes(gp, NULL, ylabel);
    // The value axis always shows zero, so that bar lengths compare.
    double lo = 0, hi = 0;
    for (int i = 0; i < n; i++) {
        double e = err ? err[i] : 0.0;
        lo = fmin(lo, values[i] - e);
        hi = fmax(hi, values[i] + e);
    }
    double pad = 0.1 * (hi - lo > 0 ? hi - lo : 1.0);
    fprintf(gp, "set style fill solid 0.7 border -1\nset boxwidth 0.6\nset grid ytics\nunset key\n"
                "set xrange [-0.7:%g]\nset yrange [%.9g:%.9g]\nset xzeroaxis lt -1\nplot ", n - 0.3,
            lo < 0 ? lo - pad : 0.0, hi > 0 ? hi + pad : 0.0);
    put_quoted(gp, pf.dat);
    fprintf(gp, " using 1:3:xtic(2) with boxes lc rgb '#4477aa'%s", err ? ", '' using 1:3:4 with "
                "yerrorbars lc rgb 'black' pt -1" : "");
    fputc('\n', gp);
    fclose(gp);
    return run_gnuplot(pf.script);
}
