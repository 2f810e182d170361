// Status codes at every API edge, and a per-thread message that says what went wrong, where and
// what to do. Programmer errors assert instead.
#pragma once

typedef enum {
    KDT_OK = 0,
    KDT_ERR_IO,      // a file could not be opened, read or written
    KDT_ERR_FORMAT,  // a file or document is malformed (data, checkpoint, journal, YAML)
    KDT_ERR_CONFIG,  // a configuration value is unknown, mistyped or out of range
    KDT_ERR_USAGE,   // a command line is wrong
    KDT_ERR_NOMEM,   // an allocation failed
    KDT_ERR_NUMERIC, // a computation diverged (NaN or Inf)
    KDT_ERR_STATE,   // an operation does not fit the object's state (e.g. budget exhausted)
} kdt_status;

// A short name for a status, e.g. "format error".
const char *kdt_status_str(kdt_status s);

// Records a formatted message for the calling thread and returns s, so that callers can write
// `return kdt_fail(KDT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));`. An argument may be
// kdt_errmsg() itself, to wrap the previous message.
kdt_status kdt_fail(kdt_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prefixes the calling thread's message with more context ("while loading X: ...").
kdt_status kdt_fail_context(kdt_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// The calling thread's last message ("" when none).
const char *kdt_errmsg(void);

// Forgets the calling thread's message.
void kdt_clear_error(void);

// Exit code of the command line for a status: 0 ok, 2 usage or configuration, 1 anything else.
int kdt_exit_code(kdt_status s);
