// Leveled log lines on stderr; one fprintf per line so that threads do not interleave.
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>

static log_level current = LOG_INFO;

void log_set_level(log_level level) { current = level; }
log_level log_get_level(void) { return current; }
bool log_enabled(log_level level) { return level <= current; }

void log_msg(log_level level, const char *fmt, ...) {
    if (!log_enabled(level)) return;
    static const char *prefix[] = {"error: ", "warning: ", "", "debug: "};
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "kdtune: %s%s\n", prefix[level], line);
}
