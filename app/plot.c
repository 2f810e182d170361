// gnuplot scripts for the report's heat maps, curves and bars (pngcairo terminal).
//
// Nothing from outside becomes gnuplot code: gnuplot runs in the plot's folder (fork, chdir, exec)
// and the script names its files by their base names, which are kdtune's own and checked against
// a safe alphabet, so the run directory's path (a quote or a newline in it, say) never enters the
// script; every text shown (titles, labels, series names that came from a journal) is quoted with
// control characters replaced, so it cannot end the string or the line. The data, the script and
// the PNG are written as regular files that are renamed into place (never through a link).
#include "app/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fs.h"

// A plot's files: the folder, and the base names of the PNG, its data and its script.
typedef struct {
    char dir[4096], png[256], dat[256], script[256];
    char *dat_text, *gp_text;  // what is written (open_memstream buffers)
    size_t dat_len, gp_len;
} plot_files;

// Base names are kdtune's own ("heatmap_unlabelled.png"): letters, digits, '_', '-' and '.', not
// starting with '-' or '.'. Anything else is refused rather than quoted.
static bool safe_base(const char *b) {
    if (!*b || *b == '-' || *b == '.') return false;
    for (; *b; b++)
        if (!((*b >= 'a' && *b <= 'z') || (*b >= 'A' && *b <= 'Z') || (*b >= '0' && *b <= '9') ||
              *b == '_' || *b == '-' || *b == '.'))
            return false;
    return true;
}

// Splits png into folder and base name and names the siblings (".dat", ".gp").
static kdt_status name_files(const char *png, plot_files *f) {
    memset(f, 0, sizeof *f);
    const char *slash = strrchr(png, '/');
    const char *base = slash ? slash + 1 : png;
    size_t dn = slash ? (size_t)(slash - png) : 0;
    if (dn >= sizeof f->dir) return kdt_fail(KDT_ERR_IO, "%s: path too long", png);
    if (slash) snprintf(f->dir, sizeof f->dir, "%.*s", (int)(dn ? dn : 1), dn ? png : "/");
    else snprintf(f->dir, sizeof f->dir, ".");
    size_t n = strlen(base);
    if (n < 5 || strcmp(base + n - 4, ".png") != 0 || n + 1 > sizeof f->png || !safe_base(base))
        return kdt_fail(KDT_ERR_USAGE, "%s: a plot's file name must end in .png and use only letters, "
                        "digits, '_', '-' and '.'", png);
    snprintf(f->png, sizeof f->png, "%s", base);
    snprintf(f->dat, sizeof f->dat, "%.*s.dat", (int)(n - 4), base);
    snprintf(f->script, sizeof f->script, "%.*s.gp", (int)(n - 4), base);
    return KDT_OK;
}

// gnuplot strings are single-quoted; a quote inside is doubled, and a control character (which
// could end the line and start a command) becomes '?'.
static void put_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'') fputc('\'', f);
        fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
    fputc('\'', f);
}

// Text inside a data file: one line, no double quote.
static void put_data_text(FILE *f, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(c < 0x20 || c == 0x7f ? '?' : c == '"' ? '\'' : c, f);
    }
}

static kdt_status path_in(char *out, size_t cap, const plot_files *f, const char *base) {
    return fs_join(out, cap, f->dir, base);
}

// Runs gnuplot on the script inside the plot's folder, its output to a fresh temporary that is
// renamed onto the PNG once gnuplot succeeded.
static kdt_status run_gnuplot(const plot_files *f) {
    char tmp_base[300], tmp[4400], png[4400], script[4400];
    snprintf(tmp_base, sizeof tmp_base, "%s.tmp.%ld", f->png, (long)getpid());
    kdt_status s = path_in(tmp, sizeof tmp, f, tmp_base);
    if (!s) s = path_in(png, sizeof png, f, f->png);
    if (!s) s = path_in(script, sizeof script, f, f->script);
    if (s) return s;
    // The temporary is created here, as a new regular file, so that gnuplot never writes through a
    // link; the script names it, not the PNG.
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return kdt_fail(KDT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    close(fd);
    pid_t pid = fork();
    if (pid < 0) {
        unlink(tmp);
        return kdt_fail(KDT_ERR_IO, "cannot start gnuplot: %s", strerror(errno));
    }
    if (pid == 0) { // the child: only async-signal-safe calls until exec
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDOUT_FILENO);
        if (chdir(f->dir) != 0) _exit(126);
        char *argv[] = {"gnuplot", "-d", (char *)f->script, NULL};
        execvp("gnuplot", argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            unlink(tmp);
            return kdt_fail(KDT_ERR_IO, "waiting for gnuplot: %s", strerror(errno));
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        unlink(tmp);
        return kdt_fail(KDT_ERR_IO, "cannot run gnuplot: install gnuplot-nox (scripts/install-deps.sh) "
                        "or set output.plots=false");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(tmp);
        return kdt_fail(KDT_ERR_IO, "gnuplot failed on %s (see its messages above)", script);
    }
    struct stat st;
    if (lstat(png, &st) == 0 && !S_ISREG(st.st_mode)) {
        unlink(tmp);
        return kdt_fail(KDT_ERR_IO, "%s: is not a regular file; kdtune never writes through a link: "
                        "remove it and run again", png);
    }
    if (rename(tmp, png) != 0) {
        int e = errno;
        unlink(tmp);
        return kdt_fail(KDT_ERR_IO, "%s: cannot rename into place: %s", png, strerror(e));
    }
    return KDT_OK;
}

// Opens an in-memory stream for the data or the script.
static FILE *mem_open(char **buf, size_t *len, kdt_status *s) {
    FILE *f = open_memstream(buf, len);
    if (!f) *s = kdt_fail(KDT_ERR_NOMEM, "out of memory writing a plot");
    return f;
}

// Names the files and opens the data stream; NULL (with *s set) on a bad name.
static FILE *begin(const char *png, plot_files *f, kdt_status *s) {
    if ((*s = name_files(png, f))) return NULL;
    return mem_open(&f->dat_text, &f->dat_len, s);
}

// Closes the script stream, writes data and script (atomically, never through a link) and runs
// gnuplot; frees the buffers.
static kdt_status finish(plot_files *f, FILE *gp) {
    fclose(gp);
    char path[4400];
    kdt_status s = path_in(path, sizeof path, f, f->dat);
    if (!s && fs_write_atomic(path, f->dat_text, f->dat_len))
        s = kdt_fail(KDT_ERR_IO, "%s: cannot write: %s", path, kdt_errmsg());
    if (!s) s = path_in(path, sizeof path, f, f->script);
    if (!s && fs_write_atomic(path, f->gp_text, f->gp_len))
        s = kdt_fail(KDT_ERR_IO, "%s: cannot write: %s", path, kdt_errmsg());
    free(f->dat_text);
    free(f->gp_text);
    f->dat_text = f->gp_text = NULL;
    return s ? s : run_gnuplot(f);
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

static void put_header(FILE *gp, const plot_files *f, const char *title, int width, int height) {
    fprintf(gp, "set terminal pngcairo noenhanced size %d,%d font 'Sans,10'\nset output ", width,
            height);
    char out[300]; // run_gnuplot's temporary; renamed onto the PNG
    snprintf(out, sizeof out, "%s.tmp.%ld", f->png, (long)getpid());
    put_quoted(gp, out);
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
    FILE *gp = mem_open(&pf.gp_text, &pf.gp_len, &s);
    if (!gp) {
        free(pf.dat_text);
        return s;
    }
    int width = 120 + 70 * nx, height = 140 + 45 * ny;
    put_header(gp, &pf, title, width < 480 ? 480 : width, height < 320 ? 320 : height);
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
    return finish(&pf, gp);
}

kdt_status plot_lines(const char *png, const char *title, const char *xlabel, const char *ylabel,
                      const plot_series *series, int n_series, double hline, const char *hline_label) {
    plot_files pf;
    kdt_status s = KDT_OK;
    FILE *d = begin(png, &pf, &s);
    if (!d) return s;
    for (int k = 0; k < n_series; k++) { // one gnuplot data block per series
        fprintf(d, "# ");
        put_data_text(d, series[k].name);
        fprintf(d, "\n");
        for (int i = 0; i < series[k].n; i++)
            if (!isnan(series[k].y[i])) fprintf(d, "%d %.9g\n", i + 1, series[k].y[i]);
        fprintf(d, "\n\n");
    }
    fclose(d);
    FILE *gp = mem_open(&pf.gp_text, &pf.gp_len, &s);
    if (!gp) {
        free(pf.dat_text);
        return s;
    }
    put_header(gp, &pf, title, 720, 440);
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
    return finish(&pf, gp);
}

kdt_status plot_bars(const char *png, const char *title, const char *ylabel,
                     const char *const *labels, const double *values, const double *err, int n) {
    plot_files pf;
    kdt_status s = KDT_OK;
    FILE *d = begin(png, &pf, &s);
    if (!d) return s;
    for (int i = 0; i < n; i++) {
        fprintf(d, "%d \"", i);
        put_data_text(d, labels[i]);
        fprintf(d, "\" %.9g %.9g\n", values[i], err ? err[i] : 0.0);
    }
    fclose(d);
    FILE *gp = mem_open(&pf.gp_text, &pf.gp_len, &s);
    if (!gp) {
        free(pf.dat_text);
        return s;
    }
    put_header(gp, &pf, title, 160 + 110 * n < 480 ? 480 : 160 + 110 * n, 420);
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
    return finish(&pf, gp);
}
