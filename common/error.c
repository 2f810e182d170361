// Status names and the per-thread error message.
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MSG_CAP = 2048 };
static _Thread_local char last_msg[MSG_CAP];

const char *kdt_status_str(kdt_status s) {
    switch (s) {
    case KDT_OK: return "ok";
    case KDT_ERR_IO: return "I/O error";
    case KDT_ERR_FORMAT: return "format error";
    case KDT_ERR_CONFIG: return "configuration error";
    case KDT_ERR_USAGE: return "usage error";
    case KDT_ERR_NOMEM: return "out of memory";
    case KDT_ERR_NUMERIC: return "numerical error";
    case KDT_ERR_STATE: return "invalid state";
    }
    return "unknown error";
}

kdt_status kdt_fail(kdt_status s, const char *fmt, ...) {
    char msg[MSG_CAP]; // formatted aside: an argument may be kdt_errmsg() itself
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_msg, msg, sizeof msg);
    return s;
}

kdt_status kdt_fail_context(kdt_status s, const char *fmt, ...) {
    char prefix[MSG_CAP / 2], old[MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_msg, sizeof old);
    size_t n = strlen(prefix);
    memcpy(last_msg, prefix, n);
    if (n + 2 < sizeof last_msg) {
        memcpy(last_msg + n, ": ", 2);
        size_t room = sizeof last_msg - n - 3, m = strlen(old);
        if (m > room) m = room;
        memcpy(last_msg + n + 2, old, m);
        last_msg[n + 2 + m] = '\0';
    } else {
        last_msg[n] = '\0';
    }
    return s;
}

const char *kdt_errmsg(void) { return last_msg; }

void kdt_clear_error(void) { last_msg[0] = '\0'; }

int kdt_exit_code(kdt_status s) {
    if (s == KDT_OK) return 0;
    if (s == KDT_ERR_USAGE || s == KDT_ERR_CONFIG) return 2;
    return 1;
}
