// A growing string for building text documents (YAML, Markdown) before one atomic write.
#pragma once
#include <stddef.h>

typedef struct {
    char *buf; // NUL-terminated; NULL until the first append
    size_t len, cap;
} strbuf;

// Appends formatted text; aborts on out-of-memory (documents are small).
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Appends s as a double-quoted YAML/JSON-safe string.
void sb_quoted(strbuf *sb, const char *s);

// Appends a double in the round-trip form of text_format_double.
void sb_double(strbuf *sb, double x);

// Hands the buffer to the caller (never NULL) and resets sb.
char *sb_take(strbuf *sb);
