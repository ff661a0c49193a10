/*
 * Growable text buffers and allocation helpers (see buf.h).
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void) {
        fputs("protoc-gen-kbus: out of memory\n", stderr);
        exit(1);
}

void *xmalloc(size_t n) {
        void *p = malloc(n ? n : 1);

        if (p == NULL)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (p == NULL)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n) {
        p = realloc(p, n ? n : 1);
        if (p == NULL)
                oom();
        return p;
}

char *xstrdup(const char *s) {
        size_t n = strlen(s) + 1;

        return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...) {
        buf b;
        va_list ap;

        buf_init(&b);
        va_start(ap, fmt);
        buf_vprintf(&b, fmt, ap);
        va_end(ap);
        return buf_steal(&b);
}

void buf_init(buf *b) {
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
}

void buf_fini(buf *b) {
        free(b->data);
        buf_init(b);
}

/* Makes room for \p n more bytes plus the terminating NUL. */
static void buf_reserve(buf *b, size_t n) {
        size_t cap;

        if (b->len + n + 1 <= b->cap)
                return;
        cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
                cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
}

void buf_puts(buf *b, const char *s) {
        size_t n = strlen(s);

        buf_reserve(b, n);
        memcpy(b->data + b->len, s, n + 1);
        b->len += n;
}

void buf_putc(buf *b, char c) {
        buf_reserve(b, 1);
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
}

void buf_vprintf(buf *b, const char *fmt, va_list ap) {
        va_list ap2;
        int n;

        va_copy(ap2, ap);
        n = vsnprintf(NULL, 0, fmt, ap2);
        va_end(ap2);
        if (n < 0) {
                fputs("protoc-gen-kbus: bad format string\n", stderr);
                exit(1);
        }
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
}

void buf_printf(buf *b, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        buf_vprintf(b, fmt, ap);
        va_end(ap);
}

const char *buf_str(const buf *b) {
        return b->data ? b->data : "";
}

char *buf_steal(buf *b) {
        char *s = b->data ? b->data : xstrdup("");

        buf_init(b);
        return s;
}
