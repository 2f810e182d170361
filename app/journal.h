// The journal: a JSON-lines file, one object per evaluation, appended and fsynced line by line.
// Many tuner runs (and the application's own fields) share one file; each line names its run.
// A line of a tuning run looks like
//   {"run": "gp/0-3", "strategy": "gp", "i": 0, "temperature": 1.0, ...the trial's fields...}
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

// Called for each line, in file order, with its 1-based line number. A non-OK status stops the
// walk and is returned.
typedef kdt_status (*journal_fn)(const json_t *line, size_t lineno, void *user);

// What a walk found about the end of the file.
typedef struct {
    size_t size;       // bytes in the file (0 when it does not exist)
    size_t damaged_at; // byte offset of a damaged last line, or size when there is none
    bool unterminated; // the file does not end with a newline (a write cut just before it)
} journal_info;

// Walks every line of a journal. A missing file is an empty journal. A damaged last line (not a
// JSON object: a crash mid-write) is reported with log_warn (file and line) and skipped; a damaged
// line before the last is a KDT_ERR_FORMAT naming the file and line. info may be NULL.
kdt_status journal_foreach(const char *path, journal_fn fn, void *user,
                                 journal_info *info);

// Makes the file safe to append to after a walk: cuts a damaged last line, or ends an
// unterminated one with its newline (so that the next line does not land on the same line).
kdt_status journal_repair(const char *path, const journal_info *info);

// Appends one object as one line (one write(2) on an O_APPEND descriptor, then fsync).
kdt_status journal_append(const char *path, const json_t *line);
