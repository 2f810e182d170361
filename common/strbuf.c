// Growing strings.
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

static void sb_reserve(strbuf *sb, size_t extra) {
    if (sb->buf && sb->len + extra < sb->cap) return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap <= sb->len + extra) cap *= 2;
    char *grown = realloc(sb->buf, cap);
    if (!grown) {
        fputs("kdtune: out of memory\n", stderr);
        abort();
    }
    if (!sb->buf) grown[0] = '\0';
    sb->buf = grown;
    sb->cap = cap;
}

void sb_printf(strbuf *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_reserve(sb, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void sb_quoted(strbuf *sb, const char *s) {
    sb_printf(sb, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') sb_printf(sb, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) sb_printf(sb, "\\x%02x", (unsigned char)*s);
        else sb_printf(sb, "%c", *s);
    }
    sb_printf(sb, "\"");
}

void sb_double(strbuf *sb, double x) {
    char num[64];
    text_format_double(num, sizeof num, x);
    sb_printf(sb, "%s", num);
}

char *sb_take(strbuf *sb) {
    sb_reserve(sb, 1);
    char *out = sb->buf;
    memset(sb, 0, sizeof *sb);
    return out;
}
