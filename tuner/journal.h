// The journal: a JSON-lines file, one object per evaluation, appended and fsynced line by line.
// Many tuner runs (and the application's own fields) share one file; each line names its run.
// A line written by the tuner looks like
//   {"run": "gp/0-3", "strategy": "gp", "seed": 7, "i": 0, "x": {"temperature": 1.0, ...},
//    "value": 0.0123, ...the caller's extra fields...}
#pragma once
#include <jansson.h>
#include <stddef.h>

#include "common/error.h"

// Called for each line, in file order, with its 1-based line number. A non-OK status stops the
// walk and is returned.
typedef kdt_status (*tuner_journal_fn)(const json_t *line, size_t lineno, void *user);

// Walks every line of a journal. A missing file is an empty journal. A damaged last line (not a
// JSON object: a crash mid-write) is reported with log_warn (file and line) and skipped, and its
// byte offset is stored in *damaged_at (else the file size) when damaged_at is not NULL; a damaged
// line before the last is a KDT_ERR_FORMAT naming the file and line.
kdt_status tuner_journal_foreach(const char *path, tuner_journal_fn fn, void *user,
                                 size_t *damaged_at);

// Cuts the file at offset (removing a damaged tail) and fsyncs it.
kdt_status tuner_journal_truncate(const char *path, size_t offset);

// Appends one object as one line (one write(2) on an O_APPEND descriptor, then fsync).
kdt_status tuner_journal_append(const char *path, const json_t *line);
