// PNG plots drawn by gnuplot. Each plot keeps its data (.dat) and script (.gp) beside the PNG, so a
// user can restyle it with `gnuplot plot.gp`.
#pragma once
#include "common/error.h"

// A heat map of z (ny, nx) row-major, row 0 at the bottom, its colours centred on zero; cells are
// annotated with their value times `label_scale`. NaN cells are left blank.
kdt_status plot_heatmap(const char *png, const char *title, const char *xlabel, const char *ylabel,
                        const char *const *xticks, int nx, const char *const *yticks, int ny,
                        const double *z, const char *zlabel, double label_scale);

typedef struct {
    const char *name;
    const double *y;   // y[i] at x = i + 1; NaN values are skipped
    int n;
} plot_series;

// Lines over x = 1..n, one per series, with an optional horizontal reference line (NaN: none).
kdt_status plot_lines(const char *png, const char *title, const char *xlabel, const char *ylabel,
                      const plot_series *series, int n_series, double hline, const char *hline_label);

// Bars with error bars (err may be NULL): one bar per label.
kdt_status plot_bars(const char *png, const char *title, const char *ylabel,
                     const char *const *labels, const double *values, const double *err, int n);
