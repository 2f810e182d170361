// Small file-system helpers: directories, safe opens, bounded whole-file reads and atomic writes.
// Every file kdtune reads or writes goes through here, so that one owner refuses what is not a
// regular file (a FIFO that would block, /dev/zero that never ends, a directory), bounds what is
// read into memory and never writes through a symbolic link.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

// The most fs_read_all reads (1 GiB): larger than any file kdtune writes or a config needs.
#define FS_READ_MAX_DEFAULT ((size_t)1 << 30)

// Creates a directory and its parents (like `mkdir -p`). Refuses a path whose last component is a
// symbolic link (the folders kdtune writes into are real; a link planted as run/participants
// would carry writes out of the run directory); links higher up the path are followed.
kdt_status fs_mkdir_p(const char *path);

bool fs_exists(const char *path);

// Flags of fs_open_regular.
enum {
    FS_NOFOLLOW = 1, // refuse when path itself is a symbolic link (files kdtune owns in a run dir)
};

// Opens path read-only as a regular file and returns its descriptor (close-on-exec) in *fd.
// Never blocks: the open is non-blocking (a FIFO without a writer opens at once), then fstat
// refuses anything but a regular file (FIFO, device such as /dev/zero, socket, directory) with a
// message naming the path and what it is; the descriptor is then made blocking again.
kdt_status fs_open_regular(const char *path, int flags, int *fd);

// Opens path for appending (creating it, mode 0644) as a regular file that is not a symbolic link:
// what an append-only file in the run directory (the journal) needs. Never blocks on a FIFO; the
// descriptor (close-on-exec, O_APPEND) is returned in *fd.
kdt_status fs_open_append(const char *path, int *fd);

// Reads a whole regular file into a NUL-terminated malloc'ed buffer; *len gets its size without
// the NUL. A file larger than max_bytes is refused before anything is allocated (and a file that
// grows past it while being read is refused too). Opens with fs_open_regular(path, 0).
kdt_status fs_read_all_limited(const char *path, size_t max_bytes, char **data, size_t *len);

// fs_read_all_limited with FS_READ_MAX_DEFAULT.
kdt_status fs_read_all(const char *path, char **data, size_t *len);

// Writes data to path atomically: a fresh temporary file beside it (O_EXCL | O_NOFOLLOW, named
// "<path>.tmp.<pid>"), fsync, rename, fsync of the folder. A crash leaves either the old file or
// the new one, never a mix (and perhaps the temporary: see fs_remove_stale_temps). Refuses when
// path is a symbolic link or exists as anything but a regular file, so that a write never follows
// a link out of the run directory.
kdt_status fs_write_atomic(const char *path, const void *data, size_t len);

// True when name (a file name without folder) is one of fs_write_atomic's temporaries:
// "<something>.tmp.<digits>".
bool fs_is_temp_name(const char *name);

// Removes the temporaries fs_write_atomic left in dir (a process killed between create and
// rename), and only those: regular files or symbolic links (the link itself, never its target)
// whose name fs_is_temp_name accepts. Call it when a command holds the run directory. A missing
// dir is not an error. *removed (may be NULL) gets how many were removed.
kdt_status fs_remove_stale_temps(const char *dir, int *removed);

// Joins two path parts with one '/' into out (capacity cap); fails if it does not fit.
kdt_status fs_join(char *out, size_t cap, const char *dir, const char *name);
