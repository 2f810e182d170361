// Fault injection, the SQLite way: an LD_PRELOAD library that makes the Nth call of one kind
// (malloc, calloc, realloc, aligned_alloc, write, fsync, rename) fail as the system would
// (NULL with ENOMEM, -1 with ENOSPC or EIO), so that every error path of kdtune runs.
//
// Scope. Only calls made by kdtune's own code are counted: the immediate caller must lie in the
// main executable (kdtune links its libraries statically), so allocations inside jansson, libyaml,
// OpenBLAS, libgomp, zlib or libc itself are never failed: those libraries may abort on them, and
// kdtune cannot handle what it never sees. Calls made while a function named in KDT_FAULT_EXCLUDE
// is on the stack are not counted either (functions documented to abort on exhaustion, e.g. the
// growing string buffer, and start-up that parses the embedded defaults).
//
// Environment:
//   KDT_FAULT        the kind to fail: malloc, calloc, realloc, aligned_alloc, write, fsync, rename
//   KDT_FAULT_N      the counted call to fail (1 = the first); 0 or unset: count only
//   KDT_FAULT_REPORT a file that receives "kind count" lines at exit (every kind is counted)
//   KDT_FAULT_EXCLUDE comma-separated function names of the executable (its symbol table)
//   KDT_FAULT_TRACE  when set, the stack of the failed call is printed (addresses: addr2line -e)
// When the injected fault fires, "kdt_fault: failed <kind> #N" goes to stderr.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { K_MALLOC, K_CALLOC, K_REALLOC, K_ALIGNED, K_WRITE, K_FSYNC, K_RENAME, K_COUNT };
static const char *const kind_names[K_COUNT] = {"malloc", "calloc", "realloc", "aligned_alloc",
                                                "write", "fsync", "rename"};

static int fail_kind = -1;
static unsigned long fail_n;
static unsigned long counts[K_COUNT]; // updated atomically
static int ready;                     // set once the constructor is done
static __thread int busy;             // inside the shim: no counting (backtrace may allocate)

// The executable's text, and the excluded functions' address ranges.
static uintptr_t exe_lo, exe_hi, exe_bias;
enum { MAX_EXCLUDED = 32 };
static uintptr_t ex_lo[MAX_EXCLUDED], ex_hi[MAX_EXCLUDED];
static int n_excluded;

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void (*real_free)(void *);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_rename)(const char *, const char *);

// dlsym itself may call calloc before real_calloc is known: serve it from a static arena.
static char boot[1 << 14];
static size_t boot_used;
static void *boot_alloc(size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (boot_used + n > sizeof boot) return NULL;
    void *p = boot + boot_used;
    boot_used += n;
    return p;
}
static int is_boot(const void *p) { return (const char *)p >= boot && (const char *)p < boot + sizeof boot; }

static int find_exe(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    uintptr_t *bias = data;
    if (info->dlpi_name && info->dlpi_name[0]) return 0; // the main program comes first, unnamed
    *bias = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!exe_lo || lo < exe_lo) exe_lo = lo;
        if (hi > exe_hi) exe_hi = hi;
    }
    return 1;
}

// Looks the excluded names up in the executable's symbol table (static functions included).
static void load_excluded(uintptr_t bias, const char *names) {
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    const unsigned char *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED) return;
    const ElfW(Ehdr) *eh = (const void *)img;
    const ElfW(Shdr) *sh = (const void *)(img + eh->e_shoff);
    for (int s = 0; s < eh->e_shnum; s++) {
        if (sh[s].sh_type != SHT_SYMTAB) continue;
        const ElfW(Sym) *sym = (const void *)(img + sh[s].sh_offset);
        const char *str = (const char *)(img + sh[sh[s].sh_link].sh_offset);
        size_t n = sh[s].sh_size / sizeof *sym;
        for (size_t i = 0; i < n && n_excluded < MAX_EXCLUDED; i++) {
            if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC || !sym[i].st_size) continue;
            const char *name = str + sym[i].st_name;
            size_t len = strlen(name);
            for (const char *p = names; *p;) {
                const char *comma = strchr(p, ',');
                size_t k = comma ? (size_t)(comma - p) : strlen(p);
                if (k == len && strncmp(p, name, k) == 0) {
                    ex_lo[n_excluded] = bias + sym[i].st_value;
                    ex_hi[n_excluded] = ex_lo[n_excluded] + sym[i].st_size;
                    n_excluded++;
                }
                p += k + (comma ? 1 : 0);
            }
        }
    }
    munmap((void *)img, (size_t)st.st_size);
}

static void write_report(void) {
    const char *path = getenv("KDT_FAULT_REPORT");
    if (!path) return;
    busy = 1;
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (int k = 0; k < K_COUNT; k++) fprintf(f, "%s %lu\n", kind_names[k], counts[k]);
    fclose(f);
}

// Finds the real functions. Other libraries' constructors may allocate before ours runs, so every
// wrapper calls this first; while dlsym runs, allocations come from the static arena.
static volatile int resolving;
static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_free = dlsym(RTLD_NEXT, "free");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_write = dlsym(RTLD_NEXT, "write");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_rename = dlsym(RTLD_NEXT, "rename");
    void *(*m)(size_t) = dlsym(RTLD_NEXT, "malloc");
    real_malloc = m; // last: its being set means all are
    resolving = 0;
}

__attribute__((constructor)) static void fault_init(void) {
    busy = 1;
    resolve();
    uintptr_t bias = 0;
    dl_iterate_phdr(find_exe, &bias);
    exe_bias = bias;
    const char *ex = getenv("KDT_FAULT_EXCLUDE");
    if (ex && *ex) load_excluded(bias, ex);
    const char *kind = getenv("KDT_FAULT"), *n = getenv("KDT_FAULT_N");
    for (int k = 0; kind && k < K_COUNT; k++)
        if (strcmp(kind, kind_names[k]) == 0) fail_kind = k;
    fail_n = n ? strtoul(n, NULL, 10) : 0;
    void *prime[4];
    backtrace(prime, 4); // loads the unwinder now, not inside a counted call
    atexit(write_report);
    busy = 0;
    ready = 1;
}

// Counts the call (when kdtune's own code made it) and says whether to fail it.
static int should_fail(int kind, void *caller) {
    if (!ready || busy) return 0;
    uintptr_t c = (uintptr_t)caller;
    if (c < exe_lo || c >= exe_hi) return 0;
    if (n_excluded) {
        busy = 1;
        void *frames[64];
        int n = backtrace(frames, 64);
        busy = 0;
        for (int i = 0; i < n; i++)
            for (int e = 0; e < n_excluded; e++)
                if ((uintptr_t)frames[i] > ex_lo[e] && (uintptr_t)frames[i] <= ex_hi[e]) return 0;
    }
    unsigned long k = __atomic_add_fetch(&counts[kind], 1, __ATOMIC_RELAXED);
    if (kind != fail_kind || k != fail_n) return 0;
    static const char msg[] = "kdt_fault: failed ";
    char line[96];
    int len = snprintf(line, sizeof line, "%s%s #%lu\n", msg, kind_names[kind], k);
    if (real_write && len > 0) real_write(2, line, (size_t)len);
    if (getenv("KDT_FAULT_TRACE")) {
        busy = 1;
        void *frames[64];
        int n = backtrace(frames, 64);
        for (int i = 0; i < n; i++) {
            len = snprintf(line, sizeof line, "  %p (exe+0x%lx)\n", frames[i],
                           (unsigned long)((uintptr_t)frames[i] - exe_bias));
            real_write(2, line, (size_t)len);
        }
        busy = 0;
    }
    return 1;
}

void *malloc(size_t n) {
    resolve();
    if (!real_malloc) return boot_alloc(n);
    if (should_fail(K_MALLOC, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return real_malloc(n);
}

void *calloc(size_t n, size_t size) {
    resolve();
    if (!real_calloc) return boot_alloc(n * size); // the arena is zeroed
    if (should_fail(K_CALLOC, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return real_calloc(n, size);
}

void *realloc(void *p, size_t n) {
    if (is_boot(p)) { // never happens in practice; keep the bytes
        void *q = malloc(n);
        if (q) memcpy(q, p, n < sizeof boot ? n : sizeof boot);
        return q;
    }
    resolve();
    if (!real_realloc) return boot_alloc(n);
    if (should_fail(K_REALLOC, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return real_realloc(p, n);
}

void free(void *p) {
    // real_free is found with the others; until then (dlsym freeing its own scratch while it looks
    // the functions up, as ASan's start-up makes it do) a pointer is leaked, never looked up here.
    if (!p || is_boot(p) || !real_free) return;
    real_free(p);
}

void *aligned_alloc(size_t align, size_t n) {
    resolve();
    if (should_fail(K_ALIGNED, __builtin_return_address(0))) {
        errno = ENOMEM;
        return NULL;
    }
    return real_aligned_alloc(align, n);
}

ssize_t write(int fd, const void *buf, size_t n) {
    resolve();
    if (should_fail(K_WRITE, __builtin_return_address(0))) {
        errno = ENOSPC;
        return -1;
    }
    return real_write(fd, buf, n);
}

int fsync(int fd) {
    resolve();
    if (should_fail(K_FSYNC, __builtin_return_address(0))) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}

int rename(const char *from, const char *to) {
    resolve();
    if (should_fail(K_RENAME, __builtin_return_address(0))) {
        errno = EIO;
        return -1;
    }
    return real_rename(from, to);
}
