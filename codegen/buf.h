/*
 * Growable text buffers and allocation helpers for protoc-gen-kbus.
 *
 * The plugin is a short-lived filter: running out of memory is not worth
 * recovering from, so the x*() helpers print a message and exit, which
 * protoc reports as a plugin failure.
 */
#ifndef KBUS_CODEGEN_BUF_H
#define KBUS_CODEGEN_BUF_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define KBUS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define KBUS_PRINTF(f, a)
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/** @brief A freshly allocated string, formatted like printf(). */
char *xasprintf(const char *fmt, ...) KBUS_PRINTF(1, 2);

/** A NUL-terminated string that grows as text is appended. */
typedef struct buf {
        char *data; /**< always NUL-terminated once anything was added */
        size_t len;
        size_t cap;
} buf;

void buf_init(buf *b);
void buf_fini(buf *b);
void buf_puts(buf *b, const char *s);
void buf_putc(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) KBUS_PRINTF(2, 3);
void buf_vprintf(buf *b, const char *fmt, va_list ap);
/** @brief The text so far ("" when empty); valid until the next append. */
const char *buf_str(const buf *b);
/** @brief Hands the text to the caller (free() it) and empties \p b. */
char *buf_steal(buf *b);

#endif /* KBUS_CODEGEN_BUF_H */
