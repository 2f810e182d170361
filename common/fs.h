// Small file-system helpers: directories, whole-file reads and atomic writes.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

// Creates a directory and its parents (like `mkdir -p`).
kdt_status fs_mkdir_p(const char *path);

bool fs_exists(const char *path);

// Reads a whole file into a NUL-terminated malloc'ed buffer; *len gets its size without the NUL.
kdt_status fs_read_all(const char *path, char **data, size_t *len);

// Writes data to path atomically: a temporary file beside it, fsync, rename, fsync of the folder.
// A crash leaves either the old file or the new one, never a mix.
kdt_status fs_write_atomic(const char *path, const void *data, size_t len);

// Joins two path parts with one '/' into out (capacity cap); fails if it does not fit.
kdt_status fs_join(char *out, size_t cap, const char *dir, const char *name);
