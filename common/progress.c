// Terminal progress bar: "label [#####.......] 12/40  3.1/s  ETA 1m09s".
#include "common/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timer.h"

struct progress {
    char label[48];
    size_t total, done;
    double start, last_draw;
};

static void draw(progress *p, double now) {
    enum { WIDTH = 28 };
    size_t fill = p->total ? p->done * WIDTH / p->total : 0;
    char bar[WIDTH + 1];
    for (size_t i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0.0;
    char eta[32] = "";
    if (rate > 0 && p->done < p->total) {
        long left = (long)((double)(p->total - p->done) / rate + 0.5);
        snprintf(eta, sizeof eta, "ETA %ldm%02lds", left / 60, left % 60);
    }
    fprintf(stderr, "\r%s [%s] %zu/%zu  %.1f/s  %s\033[K", p->label, bar, p->done, p->total, rate,
            eta);
    fflush(stderr);
    p->last_draw = now;
}

progress *progress_create(const char *label, size_t total) {
    if (!isatty(STDERR_FILENO) || !log_enabled(LOG_INFO)) return NULL;
    progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->start = timer_now();
    draw(p, p->start);
    return p;
}

void progress_update(progress *p, size_t done) {
    if (!p) return;
    p->done = done;
    double now = timer_now();
    if (now - p->last_draw >= 0.1) draw(p, now);
}

void progress_finish(progress *p) {
    if (!p) return;
    draw(p, timer_now());
    fputc('\n', stderr);
    free(p);
}
