// POSIX file helpers with error messages that name the path and the reason: safe opens (regular
// files only, never blocking), bounded reads, atomic writes that never follow a link, and the
// clean-up of the temporaries a killed process leaves.
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

kdt_status fs_mkdir_p(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return kdt_fail(KDT_ERR_IO, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return kdt_fail(KDT_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return kdt_fail(KDT_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
    struct stat st;
    // The folder itself must not be a link: kdtune writes into it, and a link planted there (say
    // run/participants -> elsewhere) would carry those writes out of the run directory.
    if (lstat(buf, &st) == 0 && S_ISLNK(st.st_mode))
        return kdt_fail(KDT_ERR_IO, "%s: is a symbolic link; kdtune writes only into real "
                        "directories: remove the link, or give the directory it points to", buf);
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return kdt_fail(KDT_ERR_IO, "%s: exists and is not a directory; remove it or choose "
                        "another path", buf);
    return KDT_OK;
}

bool fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

// The descriptor d, opened O_NONBLOCK on path, into *fd if it is a regular file (then in blocking
// mode: regular files never block, and reads and writes behave as usual); else closed, with an
// error that ends with `advice`.
static kdt_status keep_if_regular(int d, const char *path, const char *advice, int *fd) {
    struct stat st;
    if (fstat(d, &st) != 0) {
        int e = errno;
        close(d);
        return kdt_fail(KDT_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(d);
        return kdt_fail(KDT_ERR_IO, "%s: is %s, not a regular file; %s", path, kind_of(st.st_mode), advice);
    }
    int fl = fcntl(d, F_GETFL);
    if (fl < 0 || fcntl(d, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(d);
        return kdt_fail(KDT_ERR_IO, "%s: cannot set blocking mode: %s", path, strerror(e));
    }
    *fd = d;
    return KDT_OK;
}

kdt_status fs_open_regular(const char *path, int flags, int *fd) {
    *fd = -1;
    int oflags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    if (flags & FS_NOFOLLOW) oflags |= O_NOFOLLOW;
    int d = open(path, oflags);
    if (d < 0) {
        if (errno == ELOOP && (flags & FS_NOFOLLOW))
            return kdt_fail(KDT_ERR_IO, "%s: is a symbolic link; kdtune reads its own files only as "
                            "regular files: replace the link by the file", path);
        return kdt_fail(KDT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    return keep_if_regular(d, path, "give the path of a file", fd);
}

kdt_status fs_open_append(const char *path, int *fd) {
    *fd = -1;
    int d = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
    if (d < 0) {
        if (errno == ELOOP)
            return kdt_fail(KDT_ERR_IO, "%s: is a symbolic link; kdtune appends only to regular files "
                            "and never through a link: remove it and run again", path);
        if (errno == ENXIO) // a FIFO without a reader
            return kdt_fail(KDT_ERR_IO, "%s: is a FIFO (named pipe), not a regular file; remove it "
                            "and run again", path);
        return kdt_fail(KDT_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    }
    return keep_if_regular(d, path, "remove it and run again", fd); // a FIFO with a reader, a device
}

kdt_status fs_read_all_limited(const char *path, size_t max_bytes, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    int fd;
    kdt_status s = fs_open_regular(path, 0, &fd);
    if (s) return s;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return kdt_fail(KDT_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        close(fd);
        return kdt_fail(KDT_ERR_FORMAT, "%s: %lld bytes, more than the %zu bytes this file may hold; is "
                        "it the right file?", path, (long long)st.st_size, max_bytes);
    }
    // The size is a hint (files in /proc say 0, a file may grow): grow as needed, up to the limit.
    size_t cap = (size_t)st.st_size + 1, n = 0;
    if (cap < 4096) cap = 4096;
    if (cap > max_bytes + 1) cap = max_bytes + 1;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return kdt_fail(KDT_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) break; // read max_bytes + 1: too large
            size_t next = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            char *grown = realloc(buf, next + 1);
            if (!grown) {
                free(buf);
                close(fd);
                return kdt_fail(KDT_ERR_NOMEM, "%s: out of memory while reading", path);
            }
            buf = grown;
            cap = next;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return kdt_fail(KDT_ERR_IO, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (n > max_bytes) {
        free(buf);
        return kdt_fail(KDT_ERR_FORMAT, "%s: more than the %zu bytes this file may hold; is it the "
                        "right file?", path, max_bytes);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return KDT_OK;
}

kdt_status fs_read_all(const char *path, char **data, size_t *len) {
    return fs_read_all_limited(path, FS_READ_MAX_DEFAULT, data, len);
}

static void fsync_dir_of(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return; // best effort: some file systems refuse to open directories
    fsync(fd);
    close(fd);
}

static kdt_status write_fd(int fd, const char *tmp, const void *data, size_t len) {
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return kdt_fail(KDT_ERR_IO, "%s: write failed: %s; check the free space and permissions",
                            tmp, w < 0 ? strerror(errno) : "nothing written");
        p += w;
        left -= (size_t)w;
    }
    return KDT_OK;
}

kdt_status fs_write_atomic(const char *path, const void *data, size_t len) {
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return kdt_fail(KDT_ERR_IO, "%s: is %s; kdtune writes its files only as regular files and "
                        "never through a link: remove it and run again", path, kind_of(st.st_mode));
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return kdt_fail(KDT_ERR_IO, "%s: path too long", path);
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(tmp, flags, 0666);
    if (fd < 0 && errno == EEXIST) { // a temporary of an earlier process with our pid: stale
        unlink(tmp);
        fd = open(tmp, flags, 0666);
    }
    if (fd < 0) return kdt_fail(KDT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    kdt_status s = write_fd(fd, tmp, data, len);
    if (s) {
        close(fd);
        unlink(tmp);
        return s;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return kdt_fail(KDT_ERR_IO, "%s: cannot flush: %s", tmp, strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return kdt_fail(KDT_ERR_IO, "%s: cannot close: %s", tmp, strerror(e));
    }
    // rename replaces a link planted since the check above by the file: it never follows it.
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return kdt_fail(KDT_ERR_IO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    fsync_dir_of(path);
    return KDT_OK;
}

bool fs_is_temp_name(const char *name) {
    size_t n = strlen(name);
    size_t d = n;
    while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9') d--;
    if (d == n || d <= 5) return false; // digits, and something before ".tmp."
    return strncmp(name + d - 5, ".tmp.", 5) == 0;
}

kdt_status fs_remove_stale_temps(const char *dir, int *removed) {
    if (removed) *removed = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT) return KDT_OK;
        return kdt_fail(KDT_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return kdt_fail(KDT_ERR_IO, "%s: cannot list: %s", dir, strerror(e));
    }
    kdt_status s = KDT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!fs_is_temp_name(e->d_name)) continue;
        struct stat st;
        // fstatat without following: a link is removed as a link, its target is never touched.
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
        if (unlinkat(dfd, e->d_name, 0) != 0) {
            if (errno == ENOENT) continue;
            s = kdt_fail(KDT_ERR_IO, "%s/%s: cannot remove a stale temporary file: %s", dir,
                         e->d_name, strerror(errno));
            break;
        }
        if (removed) (*removed)++;
    }
    closedir(d);
    return s;
}

kdt_status fs_join(char *out, size_t cap, const char *dir, const char *name) {
    size_t n = strlen(dir);
    const char *sep = (n > 0 && dir[n - 1] != '/') ? "/" : "";
    if (snprintf(out, cap, "%s%s%s", dir, sep, name) >= (int)cap)
        return kdt_fail(KDT_ERR_IO, "%s/%s: path too long", dir, name);
    return KDT_OK;
}
