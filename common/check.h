// Always-on checks for programmer errors. assert() vanishes in Release builds (NDEBUG), and
// kdtune ships Release builds; KDT_ASSERT stays, so a broken invariant (an index past a fixed-size
// buffer, a count that cannot be negative) stops the program with its place instead of corrupting
// memory or a result. Errors a user can cause are kdt_status values, never KDT_ASSERT.
#pragma once
#include <stdio.h>
#include <stdlib.h>

#define KDT_ASSERT(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "kdtune: internal error at %s:%d (%s): check failed: %s\n", __FILE__, \
                    __LINE__, __func__, #cond);                                                   \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

// Formats into a fixed-size buffer and checks that nothing was cut off.
#define KDT_SNPRINTF(buf, cap, ...)                                                               \
    do {                                                                                          \
        int kdt_n_ = snprintf((buf), (cap), __VA_ARGS__);                                         \
        KDT_ASSERT(kdt_n_ >= 0 && (size_t)kdt_n_ < (size_t)(cap));                                \
    } while (0)
