/*
 * Name mangling (see names.h).
 *
 * The protobuf-c rules were learnt from protoc-c's c_helpers and checked
 * against protoc-c 1.4.1's output: each dotted component of a full name is
 * converted on its own and the pieces are joined with "__".  For the type
 * name, a component is camel-cased by dropping each '_' and upper-casing
 * the letter after it (and the first one).  For the lower-case name, a '_'
 * goes before every upper-case letter that follows a non-upper-case
 * character, then everything is lower-cased, so runs of capitals stay
 * together (HTTPGateway -> httpgateway).
 */
#include "names.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* The full name with the package swapped for c_package, which protoc-c
 * honours when the file sets (pb_c_file).c_package. */
static char *effective_name(const char *full_name, const char *package,
                            const char *c_package) {
        size_t plen = strlen(package);

        if (c_package == NULL || strcmp(package, c_package) == 0)
                return xstrdup(full_name);
        if (plen == 0)
                return *c_package ? xasprintf("%s.%s", c_package, full_name)
                                  : xstrdup(full_name);
        /* full_name is "package.Rest". */
        if (*c_package == '\0')
                return xstrdup(full_name + plen + 1);
        return xasprintf("%s%s", c_package, full_name + plen);
}

typedef void (*piece_fn)(buf *b, const char *p, size_t n);

static char *map_pieces(const char *name, piece_fn fn) {
        buf b;
        const char *p = name;

        buf_init(&b);
        while (*p) {
                size_t n = strcspn(p, ".");

                if (n > 0) {
                        if (b.len > 0)
                                buf_puts(&b, "__");
                        fn(&b, p, n);
                }
                p += n;
                if (*p == '.')
                        p++;
        }
        return buf_steal(&b);
}

static void piece_camel(buf *b, const char *p, size_t n) {
        bool upper_next = true;

        for (size_t i = 0; i < n; i++) {
                if (p[i] == '_') {
                        upper_next = true;
                } else if (upper_next) {
                        buf_putc(b, (char)toupper((unsigned char)p[i]));
                        upper_next = false;
                } else {
                        buf_putc(b, p[i]);
                }
        }
}

static void piece_lower(buf *b, const char *p, size_t n) {
        bool was_upper = true; /* no '_' before a leading capital */

        for (size_t i = 0; i < n; i++) {
                bool is_upper = isupper((unsigned char)p[i]) != 0;

                if (is_upper && !was_upper)
                        buf_putc(b, '_');
                buf_putc(b, (char)tolower((unsigned char)p[i]));
                was_upper = is_upper;
        }
}

char *names_c_type(const char *full_name, const char *package,
                   const char *c_package) {
        char *eff = effective_name(full_name, package, c_package);
        char *s = map_pieces(eff, piece_camel);

        free(eff);
        return s;
}

char *names_c_lower(const char *full_name, const char *package,
                    const char *c_package) {
        char *eff = effective_name(full_name, package, c_package);
        char *s = map_pieces(eff, piece_lower);

        free(eff);
        return s;
}

static void snake_into(buf *b, const char *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)p[i];

                if (isupper(c) && i > 0 && b->len > 0 &&
                    b->data[b->len - 1] != '_') {
                        unsigned char prev = (unsigned char)p[i - 1];
                        unsigned char next =
                            i + 1 < n ? (unsigned char)p[i + 1] : '\0';

                        /* A word starts at a capital after a lower-case
                         * letter or digit, and at the last capital of a
                         * run followed by lower case: HTTPGateway. */
                        if (islower(prev) || isdigit(prev) ||
                            (isupper(prev) && islower(next)))
                                buf_putc(b, '_');
                }
                buf_putc(b, (char)tolower(c));
        }
}

char *names_snake(const char *camel) {
        buf b;

        buf_init(&b);
        snake_into(&b, camel, strlen(camel));
        return buf_steal(&b);
}

char *names_package_prefix(const char *package) {
        char *s = xstrdup(package);

        for (char *p = s; *p; p++)
                *p = *p == '.' ? '_' : (char)tolower((unsigned char)*p);
        return s;
}

char *names_kbus(const char *prefix, const char *rel_name) {
        buf b;
        const char *p = rel_name;

        buf_init(&b);
        buf_puts(&b, prefix);
        while (*p) {
                size_t n = strcspn(p, ".");

                if (b.len > 0)
                        buf_putc(&b, '_');
                snake_into(&b, p, n);
                p += n;
                if (*p == '.')
                        p++;
        }
        return buf_steal(&b);
}

/* Lower-case words that cannot name a struct member in a header that may
 * be compiled as C11 or C++ next to the standard headers. */
static const char *const reserved[] = {
    "alignas",      "alignof",
    "and",          "and_eq",
    "asm",          "assert",
    "auto",         "bitand",
    "bitor",        "bool",
    "break",        "case",
    "catch",        "char",
    "char16_t",     "char32_t",
    "class",        "compl",
    "complex",      "const",
    "const_cast",   "constexpr",
    "continue",     "decltype",
    "default",      "delete",
    "do",           "double",
    "dynamic_cast", "else",
    "enum",         "errno",
    "explicit",     "export",
    "extern",       "false",
    "float",        "for",
    "friend",       "goto",
    "if",           "imaginary",
    "inline",       "int",
    "long",         "mutable",
    "namespace",    "new",
    "noexcept",     "noreturn",
    "not",          "not_eq",
    "nullptr",      "offsetof",
    "operator",     "or",
    "or_eq",        "private",
    "protected",    "public",
    "register",     "reinterpret_cast",
    "restrict",     "return",
    "setjmp",       "short",
    "signed",       "sizeof",
    "static",       "static_assert",
    "static_cast",  "struct",
    "switch",       "template",
    "this",         "thread_local",
    "throw",        "true",
    "try",          "typedef",
    "typeid",       "typename",
    "union",        "unsigned",
    "using",        "va_arg",
    "va_copy",      "va_end",
    "va_start",     "virtual",
    "void",         "volatile",
    "wchar_t",      "while",
    "xor",          "xor_eq",
};

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool names_is_reserved(const char *s) {
        return bsearch(&s, reserved, sizeof reserved / sizeof reserved[0],
                       sizeof reserved[0], cmp_str) != NULL;
}

char *names_strip_proto(const char *file) {
        size_t n = strlen(file);

        if (n > 11 && strcmp(file + n - 11, ".protodevel") == 0)
                n -= 11;
        else if (n > 6 && strcmp(file + n - 6, ".proto") == 0)
                n -= 6;
        char *s = xmalloc(n + 1);
        memcpy(s, file, n);
        s[n] = '\0';
        return s;
}

char *names_guard(const char *file) {
        char *base = names_strip_proto(file);
        buf b;

        buf_init(&b);
        buf_puts(&b, "KBUS_GEN_");
        for (const char *p = base; *p; p++) {
                unsigned char c = (unsigned char)*p;

                buf_putc(&b, isalnum(c) ? (char)toupper(c) : '_');
        }
        buf_puts(&b, "_H");
        free(base);
        return buf_steal(&b);
}
