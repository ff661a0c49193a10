/*
 * Printing generated code (see emit.h).
 *
 * The generated code follows kbus's own style (8-space indents, return
 * type on its own line in definitions, 80 columns where names allow) so
 * that users reading it see the same code as in the library.  Requests
 * and replies are passed to libkbus as `(const ProtobufCMessage *)msg`:
 * the base is the first member of every protobuf-c message, and the cast,
 * unlike `&msg->base`, also works when (pb_c_msg).base_field_name renames
 * it.
 */
#include "emit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 80
#define INDENT "        "

/* ------------------------------------------------------------------ */
/* Text helpers                                                        */
/* ------------------------------------------------------------------ */

/* Appends \p s as a C string literal.  Topics and field names are plain
 * ASCII after validation, but escape anyway; '?' is escaped because
 * -std=c11 turns on trigraphs. */
static void put_cstring(buf *b, const char *s) {
        if (s == NULL) {
                buf_puts(b, "NULL");
                return;
        }
        buf_putc(b, '"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\' || *p == '?')
                        buf_printf(b, "\\%c", *p);
                else if (*p < 0x20 || *p >= 0x7f)
                        buf_printf(b, "\\%03o", *p);
                else
                        buf_putc(b, (char)*p);
        }
        buf_putc(b, '"');
}

/* The shortest decimal form of \p d that reads back as \p d, always with
 * a '.' or exponent so that C reads a double. */
static void put_double(buf *b, double d) {
        char s[64];

        for (int prec = 1; prec <= 17; prec++) {
                snprintf(s, sizeof s, "%.*g", prec, d);
                if (strtod(s, NULL) == d)
                        break;
        }
        buf_puts(b, s);
        if (strpbrk(s, ".e") == NULL)
                buf_puts(b, ".0");
}

/* Appends comment text \p p[0..n), trimmed of trailing blanks and one
 * leading space, so that no comment terminator or trigraph survives. */
static void put_sanitized(buf *b, const char *p, size_t n) {
        while (n > 0 &&
               (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
                n--;
        if (n > 0 && p[0] == ' ') {
                p++;
                n--;
        }
        for (size_t i = 0; i < n; i++) {
                char next = i + 1 < n ? p[i + 1] : '\0';

                buf_putc(b, p[i]);
                if ((p[i] == '*' && next == '/') ||
                    (p[i] == '/' && next == '*') ||
                    (p[i] == '?' && next == '?'))
                        buf_putc(b, ' ');
        }
}

/* One line of a block comment. */
static void put_comment_line(buf *b, const char *indent, const char *p,
                             size_t n) {
        size_t before;

        buf_printf(b, "%s * ", indent);
        before = b->len;
        put_sanitized(b, p, n);
        if (b->len == before) /* blank line: no trailing space */
                b->data[--b->len] = '\0';
        buf_putc(b, '\n');
}

static void put_comment_text(buf *b, const char *indent, const char *text) {
        while (*text) {
                size_t n = strcspn(text, "\n");

                put_comment_line(b, indent, text, n);
                text += n;
                if (*text == '\n')
                        text++;
        }
}

/*
 * A doxygen comment: \p brief, then the .proto's own comment \p user (may
 * be NULL), then \p details (may be NULL), separated by blank lines.
 * \p brief and \p details are ours: already wrapped, '\n'-separated.
 */
static void put_doc(buf *b, const char *indent, const char *brief,
                    const char *user, const char *details) {
        buf_printf(b, "%s/**\n", indent);
        buf_printf(b, "%s * @brief ", indent);
        /* brief may continue over lines. */
        for (const char *p = brief; *p; p++) {
                buf_putc(b, *p);
                if (*p == '\n')
                        buf_printf(b, "%s *        ", indent);
        }
        buf_putc(b, '\n');
        if (user != NULL) {
                buf_printf(b, "%s *\n", indent);
                put_comment_text(b, indent, user);
        }
        if (details != NULL) {
                buf_printf(b, "%s *\n", indent);
                put_comment_text(b, indent, details);
        }
        buf_printf(b, "%s */\n", indent);
}

/* A one-line comment for a struct member: the first line of \p user, or
 * \p fallback. */
static void put_member_doc(buf *b, const char *user, const char *fallback) {
        const char *src = user != NULL ? user : fallback;

        while (*src == ' ')
                src++;
        buf_puts(b, INDENT "/** ");
        put_sanitized(b, src, strcspn(src, "\n"));
        buf_puts(b, " */\n");
}

/*
 * Prints \p lead (which ends with '('), the parameters separated by ", "
 * and wrapped under the parenthesis, then \p end.
 */
static void put_params(buf *b, const char *indent, const char *lead,
                       const char *const *params, size_t n, const char *end) {
        size_t col = strlen(indent) + strlen(lead);
        size_t align = col <= 40 ? col : strlen(indent) + 16;

        buf_puts(b, indent);
        buf_puts(b, lead);
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(params[i]);
                size_t tail = i + 1 < n ? 1 : strlen(end);

                if (i > 0) {
                        buf_putc(b, ',');
                        col++;
                        if (col + 1 + len + tail > WIDTH) {
                                buf_putc(b, '\n');
                                for (col = 0; col < align; col++)
                                        buf_putc(b, ' ');
                        } else {
                                buf_putc(b, ' ');
                                col++;
                        }
                }
                buf_puts(b, params[i]);
                col += len;
        }
        buf_puts(b, end);
}

/* The prototype of a generated function returning int. */
static void put_int_proto(buf *b, const char *fn, const char *const *params,
                          size_t n) {
        char *lead = xasprintf("int %s(", fn);

        put_params(b, "", lead, params, n, ");\n\n");
        free(lead);
}

static void put_flags(buf *b, unsigned flags) {
        static const struct {
                unsigned bit;
                const char *name;
        } names[] = {
            {MODEL_ONE_WAY, "KBUS_METHOD_ONE_WAY"},
            {MODEL_IDEMPOTENT, "KBUS_METHOD_IDEMPOTENT"},
            {MODEL_NO_DEAD_LETTER, "KBUS_NO_DEAD_LETTER"},
            {MODEL_COMPACTED, "KBUS_EVENT_COMPACTED"},
        };
        const char *sep = "";

        if (flags == 0) {
                buf_puts(b, "0");
                return;
        }
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                if (flags & names[i].bit) {
                        buf_printf(b, "%s%s", sep, names[i].name);
                        sep = " | ";
                }
        }
}

/* ".retry = {...}," when any member is set; zero means "default", which
 * the designated initializer gives for free. */
static void put_retry(buf *b, const char *indent, const mretry *r) {
        if (!r->max_attempts && !r->initial_backoff_ms && !r->max_backoff_ms &&
            r->multiplier == 0.0)
                return;
        buf_printf(b, "%s.retry = {\n", indent);
        if (r->max_attempts)
                buf_printf(b, "%s" INDENT ".max_attempts = %u,\n", indent,
                           (unsigned)r->max_attempts);
        if (r->initial_backoff_ms)
                buf_printf(b, "%s" INDENT ".initial_backoff_ms = %u,\n", indent,
                           (unsigned)r->initial_backoff_ms);
        if (r->max_backoff_ms)
                buf_printf(b, "%s" INDENT ".max_backoff_ms = %u,\n", indent,
                           (unsigned)r->max_backoff_ms);
        if (r->multiplier != 0.0) {
                buf_printf(b, "%s" INDENT ".multiplier = ", indent);
                put_double(b, r->multiplier);
                buf_puts(b, ",\n");
        }
        buf_printf(b, "%s},\n", indent);
}

static void put_banner(buf *b, const mfile *mf) {
        buf_printf(b,
                   "/* Generated from %s by protoc-gen-kbus. "
                   "DO NOT EDIT. */\n",
                   mf->name);
}

/* ------------------------------------------------------------------ */
/* Header                                                              */
/* ------------------------------------------------------------------ */

static void header_method(buf *b, const mservice *s, const mmethod *m) {
        const bool one_way = (m->flags & MODEL_ONE_WAY) != 0;
        char *brief, *details, *lead, *reply_param, *req_param, *cb_param;

        /* Client callback. */
        brief = xasprintf("Result of %s().", m->fn);
        if (one_way)
                details = xstrdup(
                    "Called exactly once, on the runtime's loop thread, "
                    "with the\n"
                    "outcome of delivering the request: the method is "
                    "one-way, so\n"
                    "@p reply is always NULL.  @p message is the error "
                    "text or NULL.");
        else
                details = xstrdup(
                    "Called exactly once, on the runtime's loop thread. "
                    " @p reply is\n"
                    "NULL unless @p status is KBUS_OK, and valid only "
                    "during the call;\n"
                    "@p message is the error text or NULL.");
        put_doc(b, "", brief, NULL, details);
        free(brief);
        free(details);
        lead = xasprintf("typedef void (*%s)(", m->cb_type);
        reply_param = xasprintf("const %s *reply", m->out->c_type);
        {
                const char *params[] = {"kbus_status status",
                                        "const char *message", reply_param,
                                        "void *arg"};

                put_params(b, "", lead, params, 4, ");\n\n");
        }
        free(lead);

        /* Client stub. */
        brief = xasprintf("Calls %s.%s%s.", s->full_name, m->name,
                          one_way ? " (one-way)" : "");
        {
                buf d;

                buf_init(&d);
                buf_printf(&d, "Sends @p req to topic \"%s\"", s->topic);
                if (m->key_field != NULL)
                        buf_printf(&d, ", keyed by its field\n%s",
                                   m->key_field);
                buf_puts(&d, ".\n");
                if (m->timeout_ms > 0)
                        buf_printf(&d,
                                   "@param opts  NULL for the defaults "
                                   "(deadline %lld ms).\n",
                                   (long long)m->timeout_ms);
                else
                        buf_puts(&d, "@param opts  NULL for the defaults.\n");
                buf_puts(&d, "@param cb    called once with the outcome");
                buf_puts(&d, one_way ? " (may be NULL).\n" : ".\n");
                buf_puts(&d, "@returns 0 if @p cb will be called; otherwise "
                             "a kbus_status, and\n"
                             "         @p cb is never called.");
                details = buf_steal(&d);
        }
        put_doc(b, "", brief, m->comment, details);
        free(brief);
        free(details);
        req_param = xasprintf("const %s *req", m->in->c_type);
        cb_param = xasprintf("%s cb", m->cb_type);
        {
                const char *params[] = {"kbus_runtime *rt", req_param,
                                        "const kbus_call_opts *opts", cb_param,
                                        "void *arg"};

                put_int_proto(b, m->fn, params, 5);
        }
        free(cb_param);

        if (m->reply_fn != NULL) {
                brief =
                    xasprintf("Completes a %s call with @p reply.", m->name);
                put_doc(b, "", brief, NULL,
                        "Typed kbus_call_reply(), so that a handler cannot "
                        "answer with the\n"
                        "wrong message type.  @p reply is packed at once; "
                        "the caller keeps it.");
                free(brief);
                {
                        const char *params[] = {"kbus_call *call", reply_param};

                        put_int_proto(b, m->reply_fn, params, 2);
                }
        }
        free(reply_param);
        free(req_param);
}

static void header_service(buf *b, const mservice *s) {
        char *brief, *details, *lead;

        buf_printf(b, "/* %s */\n\n", s->full_name);
        brief = xasprintf("The service %s.", s->full_name);
        details = xasprintf("Requests go to topic \"%s\".", s->topic);
        put_doc(b, "", brief, s->comment, details);
        free(brief);
        free(details);
        buf_printf(b, "extern const kbus_service_desc %s;\n\n", s->desc_var);

        for (size_t i = 0; i < s->n_methods; i++)
                header_method(b, s, &s->methods[i]);

        /* C has no empty structs: a service without methods gets its
         * descriptor only. */
        if (s->n_methods == 0)
                return;

        brief = xasprintf("Handlers of %s, one per method, for %s().",
                          s->full_name, s->serve_fn);
        put_doc(b, "", brief, NULL,
                "Each runs on the runtime's loop thread and must complete "
                "@p call exactly\n"
                "once, now or later: with the method's typed reply "
                "function, kbus_call_ack()\n"
                "for one-way methods, or kbus_call_fail().  A NULL member "
                "leaves the method\n"
                "unimplemented.");
        free(brief);
        buf_printf(b, "typedef struct %s {\n", s->handlers_type);
        for (size_t i = 0; i < s->n_methods; i++) {
                const mmethod *m = &s->methods[i];
                char *fallback = xasprintf("%s.%s", s->full_name, m->name);
                char *req_param = xasprintf("const %s *req", m->in->c_type);
                const char *params[] = {"kbus_call *call", req_param,
                                        "void *arg"};

                put_member_doc(b, m->comment, fallback);
                lead = xasprintf("void (*%s)(", m->member);
                put_params(b, INDENT, lead, params, 3, ");\n");
                free(lead);
                free(req_param);
                free(fallback);
        }
        buf_printf(b, "} %s;\n\n", s->handlers_type);

        brief = xasprintf("Serves %s with the handlers in @p h.", s->full_name);
        details =
            xasprintf("Its request topic \"%s\" joins the runtime's consumer "
                      "group.\n"
                      "@p h is copied; @p arg is passed to every handler.",
                      s->topic);
        put_doc(b, "", brief, NULL, details);
        free(brief);
        free(details);
        {
                char *hp = xasprintf("const %s *h", s->handlers_type);
                const char *params[] = {"kbus_runtime *rt", hp, "void *arg"};

                put_int_proto(b, s->serve_fn, params, 3);
                free(hp);
        }
}

static void header_event(buf *b, const mevent *ev) {
        const char *full = ev->msg->full_name;
        char *brief, *details, *lead, *evp;

        buf_printf(b, "/* event %s */\n\n", full);
        brief = xasprintf("The event %s.", full);
        details =
            ev->key_field != NULL
                ? xasprintf("Published to topic \"%s\", keyed by its field "
                            "%s.",
                            ev->topic, ev->key_field)
                : xasprintf("Published to topic \"%s\".", ev->topic);
        put_doc(b, "", brief, ev->comment, details);
        free(brief);
        free(details);
        buf_printf(b, "extern const kbus_event_desc %s;\n\n", ev->desc_var);

        evp = xasprintf("const %s *ev", ev->msg->c_type);
        brief = xasprintf("A subscriber of %s events.", full);
        put_doc(b, "", brief, NULL,
                "Runs on the runtime's loop thread and must complete @p "
                "call exactly once,\n"
                "now or later: kbus_call_ack(), or kbus_call_fail() to "
                "retry or dead-letter.");
        free(brief);
        lead = xasprintf("typedef void (*%s)(", ev->handler_type);
        {
                const char *params[] = {"kbus_call *call", evp, "void *arg"};

                put_params(b, "", lead, params, 3, ");\n\n");
        }
        free(lead);

        brief = xasprintf("Publishes @p ev to topic \"%s\".", ev->topic);
        put_doc(b, "", brief, NULL,
                "@returns 0 once handed to the producer; "
                "KBUS_RESOURCE_EXHAUSTED when its\n"
                "         queue is full (nothing is queued then).");
        free(brief);
        {
                const char *params[] = {"kbus_runtime *rt", evp};

                put_int_proto(b, ev->publish_fn, params, 2);
        }

        brief = xasprintf("Publishes @p ev to topic \"%s\" as part of "
                          "handling @p call.",
                          ev->topic);
        put_doc(b, "", brief, NULL,
                "The call's outcome waits until @p ev is delivered; if it "
                "cannot be,\n"
                "the call fails with KBUS_UNAVAILABLE.  See "
                "kbus_call_publish().");
        free(brief);
        {
                const char *params[] = {"kbus_call *call", evp};

                put_int_proto(b, ev->publish_from_fn, params, 2);
        }

        brief = xasprintf("Publishes @p ev to topic \"%s\"; @p cb learns "
                          "its outcome.",
                          ev->topic);
        put_doc(b, "", brief, NULL,
                "@p cb is called exactly once, with KBUS_OK once @p ev is "
                "written or an\n"
                "error once it finally is not.  See kbus_publish_confirmed().");
        free(brief);
        {
                const char *params[] = {"kbus_runtime *rt", evp,
                                        "kbus_delivery_fn cb", "void *arg"};

                put_int_proto(b, ev->publish_confirmed_fn, params, 4);
        }

        brief = xasprintf("Subscribes @p fn to %s events.", full);
        put_doc(b, "", brief, NULL,
                "@param group  consumer group; NULL for the configured one. "
                " Each group\n"
                "              receives every event once.");
        free(brief);
        {
                char *fnp = xasprintf("%s fn", ev->handler_type);
                const char *params[] = {"kbus_runtime *rt", "const char *group",
                                        fnp, "void *arg"};

                put_int_proto(b, ev->subscribe_fn, params, 4);
                free(fnp);
        }
        free(evp);
}

static void header_table(buf *b, const mtable *tb) {
        const char *full = tb->msg->full_name;
        const char *const key_params[] = {"kbus_call *call", "const void *key",
                                          "size_t len"};
        char *brief, *details, *lead, *p;

        buf_printf(b, "/* table %s */\n\n", full);
        brief = xasprintf("The table \"%s\" of %s values.", tb->name, full);
        details =
            xasprintf("Owned by one consumer group, and split into the same "
                      "partitions as the\n"
                      "topics the group reads.  Changelog topic: "
                      "\"<group>.%s.changelog\".\n"
                      "See kbus_table_desc and docs/STATE.md.",
                      tb->name);
        put_doc(b, "", brief, tb->comment, details);
        free(brief);
        free(details);
        buf_printf(b, "extern const kbus_table_desc %s;\n\n", tb->desc_var);

        brief = xasprintf("Keeps the table \"%s\" for consumer group @p "
                          "group.",
                          tb->name);
        put_doc(b, "", brief, NULL,
                "Call before kbus_runtime_start().  See "
                "kbus_table_attach().\n"
                "@param group  NULL for the runtime's group.");
        free(brief);
        {
                const char *params[] = {"kbus_runtime *rt",
                                        "const char *group"};

                put_int_proto(b, tb->attach_fn, params, 2);
        }

        brief = xasprintf("Reads the entry with @p key of the table \"%s\" "
                          "as @p call sees it.",
                          tb->name);
        put_doc(b, "", brief, NULL,
                "In the partition of @p call's record, with the call's own "
                "earlier puts\n"
                "and deletes applied.\n"
                "@param key  @p len bytes; NULL for the key of @p call's "
                "record.\n"
                "@param out  the value, owned by @p call and valid until it "
                "completes;\n"
                "             NULL unless 0 is returned.  May be NULL to "
                "test for @p key.\n"
                "@returns 0, KBUS_NOT_FOUND, or another error of "
                "kbus_table_get().\n"
                "@remark Loop thread, inside a handler, before it completes "
                "@p call.");
        free(brief);
        p = xasprintf("const %s **out", tb->msg->c_type);
        {
                const char *params[] = {key_params[0], key_params[1],
                                        key_params[2], p};

                put_int_proto(b, tb->get_fn, params, 4);
        }
        free(p);

        brief = xasprintf("Sets the entry with @p key of the table \"%s\" "
                          "to @p value.",
                          tb->name);
        details = xasprintf(
            "Part of @p call's outcome: written to the changelog once "
            "@p call\n"
            "completes successfully, dropped if it fails.  @p key as "
            "for\n"
            "%s().  See kbus_table_put().",
            tb->get_fn);
        put_doc(b, "", brief, NULL, details);
        free(brief);
        free(details);
        p = xasprintf("const %s *value", tb->msg->c_type);
        {
                const char *params[] = {key_params[0], key_params[1],
                                        key_params[2], p};

                put_int_proto(b, tb->put_fn, params, 4);
        }

        brief = xasprintf("Deletes the entry with @p key of the table "
                          "\"%s\".",
                          tb->name);
        put_doc(b, "", brief, NULL,
                "Part of @p call's outcome, like a put: a tombstone on the "
                "changelog.\n"
                "See kbus_table_delete().");
        free(brief);
        put_int_proto(b, tb->delete_fn, key_params, 3);

        brief = xasprintf("Called by %s() for each entry.", tb->scan_fn);
        put_doc(b, "", brief, NULL,
                "@p key and @p value are valid during the call only.  A "
                "non-zero return\n"
                "stops the scan, and the scan returns it.");
        free(brief);
        lead = xasprintf("typedef int (*%s)(", tb->scan_fn_type);
        {
                const char *params[] = {"const void *key", "size_t len", p,
                                        "void *arg"};

                put_params(b, "", lead, params, 4, ");\n\n");
        }
        free(lead);
        free(p);

        brief = xasprintf("Calls @p fn for each entry of the table \"%s\" "
                          "in @p call's partition.",
                          tb->name);
        put_doc(b, "", brief, NULL,
                "The partition of @p call's record, in no particular order; "
                "the call's\n"
                "own writes are not included.\n"
                "@returns 0, what @p fn returned to stop, or an error of\n"
                "         kbus_table_scan().");
        free(brief);
        p = xasprintf("%s fn", tb->scan_fn_type);
        {
                const char *params[] = {"kbus_call *call", p, "void *arg"};

                put_int_proto(b, tb->scan_fn, params, 3);
        }
        free(p);
}

/* One keyword #define, or its #undef. */
static void put_shim_one(buf *b, const char *kw, bool define) {
        if (define)
                buf_printf(b, "#define %s %s_\n", kw, kw);
        else
                buf_printf(b, "#undef %s\n", kw);
}

/* The keyword #defines (or #undefs) around protoc-c's headers. */
static void put_shim(buf *b, const mfile *mf, bool define) {
        for (size_t i = 0; i < mf->n_shim; i++)
                put_shim_one(b, mf->shim[i], define);
        if (mf->n_shim_cxx == 0)
                return;
        buf_puts(b, "#ifdef __cplusplus\n");
        for (size_t i = 0; i < mf->n_shim_cxx; i++)
                put_shim_one(b, mf->shim_cxx[i], define);
        buf_puts(b, "#endif\n");
}

void emit_header(buf *b, const mfile *mf) {
        put_banner(b, mf);
        buf_printf(b, "#ifndef %s\n#define %s\n\n", mf->guard, mf->guard);
        buf_puts(b, "#include <kbus/kbus.h>\n\n");
        if (mf->n_shim > 0 || mf->n_shim_cxx > 0)
                buf_puts(b, "/* protoc-c names a struct member after each "
                            "method, even a C keyword:\n"
                            " * hide those while its headers are read. */\n");
        put_shim(b, mf, true);
        for (size_t i = 0; i < mf->n_includes; i++)
                buf_printf(b, "#include \"%s\"\n", mf->includes[i]);
        put_shim(b, mf, false);
        buf_puts(b, "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
        if (mf->n_services == 0 && mf->n_events == 0 && mf->n_tables == 0)
                buf_printf(b,
                           "/* %s has no services and no (kbus.event) "
                           "messages. */\n\n",
                           mf->name);
        for (size_t i = 0; i < mf->n_services; i++)
                header_service(b, &mf->services[i]);
        for (size_t i = 0; i < mf->n_events; i++)
                header_event(b, &mf->events[i]);
        for (size_t i = 0; i < mf->n_tables; i++)
                header_table(b, &mf->tables[i]);
        buf_printf(b, "#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s */\n",
                   mf->guard);
}

/* ------------------------------------------------------------------ */
/* Source                                                              */
/* ------------------------------------------------------------------ */

static void source_trampolines(buf *b, const mservice *s, const mmethod *m) {
        const char *params_d[] = {"const void *handlers", "kbus_call *call",
                                  "const ProtobufCMessage *req", "void *arg"};
        const char *params_c[] = {"kbus_fn cb", "kbus_status status",
                                  "const char *message",
                                  "const ProtobufCMessage *reply", "void *arg"};
        char *lead, *cast;

        buf_puts(b, "static int\n");
        lead = xasprintf("%s(", m->dispatch_fn);
        put_params(b, "", lead, params_d, 4, ")\n");
        free(lead);
        buf_printf(b,
                   "{\n" INDENT "const %s *h = handlers;\n\n" INDENT
                   "if (h->%s == NULL)\n" INDENT INDENT "return -1;\n" INDENT
                   "h->%s(call, (const %s *)req, arg);\n" INDENT "return 0;\n"
                   "}\n\n",
                   s->handlers_type, m->member, m->member, m->in->c_type);

        buf_puts(b, "static void\n");
        lead = xasprintf("%s(", m->complete_fn);
        put_params(b, "", lead, params_c, 5, ")\n");
        free(lead);
        lead = xasprintf("((%s)cb)(", m->cb_type);
        cast = xasprintf("(const %s *)reply", m->out->c_type);
        {
                const char *args[] = {"status", "message", cast, "arg"};

                buf_puts(b, "{\n");
                put_params(b, INDENT, lead, args, 4, ");\n}\n\n");
        }
        free(lead);
        free(cast);
}

static void source_service(buf *b, const mservice *s) {
        char *lead;

        buf_printf(b, "/* %s */\n\n", s->full_name);
        for (size_t i = 0; i < s->n_methods; i++)
                source_trampolines(b, s, &s->methods[i]);

        if (s->n_methods > 0) {
                buf_printf(b, "static const kbus_method_desc %s[%zu] = {\n",
                           s->methods_var, s->n_methods);
                for (size_t i = 0; i < s->n_methods; i++) {
                        const mmethod *m = &s->methods[i];

                        buf_puts(b, INDENT "{\n" INDENT INDENT ".name = ");
                        put_cstring(b, m->name);
                        buf_puts(b, ",\n" INDENT INDENT ".path = ");
                        put_cstring(b, m->path);
                        buf_printf(b,
                                   ",\n" INDENT INDENT
                                   ".input = &%s,\n" INDENT INDENT
                                   ".output = &%s,\n" INDENT INDENT ".flags = ",
                                   m->in->c_desc, m->out->c_desc);
                        put_flags(b, m->flags);
                        buf_printf(b,
                                   ",\n" INDENT INDENT
                                   ".timeout_ms = %lld,\n" INDENT INDENT
                                   ".key_field = ",
                                   (long long)m->timeout_ms);
                        put_cstring(b, m->key_field);
                        buf_puts(b, ",\n");
                        put_retry(b, INDENT INDENT, &m->retry);
                        buf_printf(b,
                                   INDENT INDENT
                                   ".dispatch = %s,\n" INDENT INDENT
                                   ".complete = %s,\n" INDENT "},\n",
                                   m->dispatch_fn, m->complete_fn);
                }
                buf_puts(b, "};\n\n");
        }

        buf_printf(b, "const kbus_service_desc %s = {\n" INDENT ".name = ",
                   s->desc_var);
        put_cstring(b, s->full_name);
        buf_puts(b, ",\n" INDENT ".topic = ");
        put_cstring(b, s->topic);
        buf_printf(b,
                   ",\n" INDENT ".n_methods = %zu,\n" INDENT
                   ".methods = %s,\n};\n\n",
                   s->n_methods, s->n_methods > 0 ? s->methods_var : "NULL");

        for (size_t i = 0; i < s->n_methods; i++) {
                const mmethod *m = &s->methods[i];
                char *req_param = xasprintf("const %s *req", m->in->c_type);
                char *cb_param = xasprintf("%s cb", m->cb_type);
                const char *params[] = {"kbus_runtime *rt", req_param,
                                        "const kbus_call_opts *opts", cb_param,
                                        "void *arg"};

                buf_puts(b, "int\n");
                lead = xasprintf("%s(", m->fn);
                put_params(b, "", lead, params, 5, ")\n");
                free(lead);
                {
                        char *a_svc = xasprintf("&%s", s->desc_var);
                        char *a_m = xasprintf("&%s[%zu]", s->methods_var, i);
                        const char *args[] = {
                            "rt",   a_svc,
                            a_m,    "(const ProtobufCMessage *)req",
                            "opts", "(kbus_fn)cb",
                            "arg"};

                        buf_puts(b, "{\n");
                        put_params(b, INDENT, "return kbus_call_start(", args,
                                   7, ");\n}\n\n");
                        free(a_svc);
                        free(a_m);
                }
                free(req_param);
                free(cb_param);

                if (m->reply_fn != NULL) {
                        char *rp = xasprintf("const %s *reply", m->out->c_type);
                        const char *rparams[] = {"kbus_call *call", rp};

                        buf_puts(b, "int\n");
                        lead = xasprintf("%s(", m->reply_fn);
                        put_params(b, "", lead, rparams, 2, ")\n");
                        free(lead);
                        free(rp);
                        buf_puts(b, "{\n" INDENT "return kbus_call_reply(call, "
                                    "(const ProtobufCMessage *)reply);\n"
                                    "}\n\n");
                }
        }

        if (s->n_methods > 0) {
                char *hp = xasprintf("const %s *h", s->handlers_type);
                const char *params[] = {"kbus_runtime *rt", hp, "void *arg"};

                buf_puts(b, "int\n");
                lead = xasprintf("%s(", s->serve_fn);
                put_params(b, "", lead, params, 3, ")\n");
                free(lead);
                free(hp);
                {
                        char *a_svc = xasprintf("&%s", s->desc_var);
                        const char *args[] = {"rt", a_svc, "h", "sizeof *h",
                                              "arg"};

                        buf_puts(b, "{\n");
                        put_params(b, INDENT, "return kbus_serve(", args, 5,
                                   ");\n}\n\n");
                        free(a_svc);
                }
        }
}

/* A typed wrapper of a libkbus function (publish, table calls): int
 * \p name(\p params) { return \p call(\p args); }. */
static void put_publish_fn(buf *b, const char *name, const char *const *params,
                           size_t n_params, const char *call,
                           const char *const *args, size_t n_args) {
        char *lead = xasprintf("%s(", name);
        char *body = xasprintf("return %s", call);

        buf_puts(b, "int\n");
        put_params(b, "", lead, params, n_params, ")\n");
        buf_puts(b, "{\n");
        put_params(b, INDENT, body, args, n_args, ");\n}\n\n");
        free(lead);
        free(body);
}

static void source_event(buf *b, const mevent *ev) {
        const char *params_d[] = {"kbus_fn fn", "kbus_call *call",
                                  "const ProtobufCMessage *ev", "void *arg"};
        char *lead, *evp, *ev_ref;

        buf_printf(b, "/* event %s */\n\n", ev->msg->full_name);
        buf_puts(b, "static void\n");
        lead = xasprintf("%s(", ev->deliver_fn);
        put_params(b, "", lead, params_d, 4, ")\n");
        free(lead);
        lead = xasprintf("((%s)fn)(", ev->handler_type);
        evp = xasprintf("(const %s *)ev", ev->msg->c_type);
        {
                const char *args[] = {"call", evp, "arg"};

                buf_puts(b, "{\n");
                put_params(b, INDENT, lead, args, 3, ");\n}\n\n");
        }
        free(lead);
        free(evp);
        ev_ref = xasprintf("&%s", ev->desc_var);

        buf_printf(b, "const kbus_event_desc %s = {\n" INDENT ".type = ",
                   ev->desc_var);
        put_cstring(b, ev->msg->full_name);
        buf_puts(b, ",\n" INDENT ".topic = ");
        put_cstring(b, ev->topic);
        buf_puts(b, ",\n" INDENT ".key_field = ");
        put_cstring(b, ev->key_field);
        buf_printf(b, ",\n" INDENT ".message = &%s,\n" INDENT ".flags = ",
                   ev->msg->c_desc);
        put_flags(b, ev->flags);
        buf_puts(b, ",\n");
        put_retry(b, INDENT, &ev->retry);
        buf_printf(b, INDENT ".deliver = %s,\n};\n\n", ev->deliver_fn);

        evp = xasprintf("const %s *ev", ev->msg->c_type);
        {
                const char *msg = "(const ProtobufCMessage *)ev";
                const char *p_rt[] = {"kbus_runtime *rt", evp};
                const char *a_rt[] = {"rt", ev_ref, msg};
                const char *p_call[] = {"kbus_call *call", evp};
                const char *a_call[] = {"call", ev_ref, msg};
                const char *p_cb[] = {"kbus_runtime *rt", evp,
                                      "kbus_delivery_fn cb", "void *arg"};
                const char *a_cb[] = {"rt", ev_ref, msg, "cb", "arg"};

                put_publish_fn(b, ev->publish_fn, p_rt, 2, "kbus_publish(",
                               a_rt, 3);
                put_publish_fn(b, ev->publish_from_fn, p_call, 2,
                               "kbus_call_publish(", a_call, 3);
                put_publish_fn(b, ev->publish_confirmed_fn, p_cb, 4,
                               "kbus_publish_confirmed(", a_cb, 5);
        }

        buf_puts(b, "int\n");
        lead = xasprintf("%s(", ev->subscribe_fn);
        {
                char *fnp = xasprintf("%s fn", ev->handler_type);
                const char *params[] = {"kbus_runtime *rt", "const char *group",
                                        fnp, "void *arg"};

                put_params(b, "", lead, params, 4, ")\n");
                free(fnp);
        }
        free(lead);
        {
                const char *args[] = {"rt", ev_ref, "group", "(kbus_fn)fn",
                                      "arg"};

                buf_puts(b, "{\n");
                put_params(b, INDENT, "return kbus_subscribe(", args, 5,
                           ");\n}\n\n");
        }
        free(evp);
        free(ev_ref);
}

static void source_table(buf *b, const mtable *tb) {
        const char *const key_params[] = {"kbus_call *call", "const void *key",
                                          "size_t len"};
        const char *const scan_params[] = {"const void *key", "size_t len",
                                           "const ProtobufCMessage *value",
                                           "void *arg"};
        char *lead, *p, *t_ref, *cast;

        buf_printf(b, "/* table %s */\n\n", tb->msg->full_name);
        buf_printf(b, "const kbus_table_desc %s = {\n" INDENT ".name = ",
                   tb->desc_var);
        put_cstring(b, tb->name);
        buf_printf(b, ",\n" INDENT ".value = &%s,\n};\n\n", tb->msg->c_desc);
        t_ref = xasprintf("&%s", tb->desc_var);

        {
                const char *params[] = {"kbus_runtime *rt",
                                        "const char *group"};
                const char *args[] = {"rt", t_ref, "group"};

                put_publish_fn(b, tb->attach_fn, params, 2,
                               "kbus_table_attach(", args, 3);
        }

        /* get: the value comes back as a ProtobufCMessage; converting the
         * pointer itself, rather than passing &out cast to another
         * pointer-to-pointer type, keeps to C's aliasing rules. */
        p = xasprintf("const %s **out", tb->msg->c_type);
        {
                const char *params[] = {key_params[0], key_params[1],
                                        key_params[2], p};
                const char *args[] = {"call", t_ref, "key", "len", "&value"};

                buf_puts(b, "int\n");
                lead = xasprintf("%s(", tb->get_fn);
                put_params(b, "", lead, params, 4, ")\n");
                free(lead);
                buf_puts(b, "{\n" INDENT
                            "const ProtobufCMessage *value = NULL;\n");
                put_params(b, INDENT, "int rc = kbus_table_get(", args, 5,
                           ");\n\n");
                buf_printf(b,
                           INDENT "if (out != NULL)\n" INDENT INDENT
                                  "*out = rc == 0 ? (const %s *)value "
                                  ": NULL;\n" INDENT "return rc;\n"
                                  "}\n\n",
                           tb->msg->c_type);
        }
        free(p);

        p = xasprintf("const %s *value", tb->msg->c_type);
        {
                const char *params[] = {key_params[0], key_params[1],
                                        key_params[2], p};
                const char *args[] = {"call", t_ref, "key", "len",
                                      "(const ProtobufCMessage *)value"};

                put_publish_fn(b, tb->put_fn, params, 4, "kbus_table_put(",
                               args, 5);
        }
        free(p);
        {
                const char *args[] = {"call", t_ref, "key", "len"};

                put_publish_fn(b, tb->delete_fn, key_params, 3,
                               "kbus_table_delete(", args, 4);
        }

        /* scan: libkbus calls back with a ProtobufCMessage; the typed
         * callback travels in a struct on the stack to a trampoline, so
         * no function is called through a pointer of another type. */
        buf_printf(b,
                   "struct %s {\n" INDENT "%s fn;\n" INDENT "void *arg;\n"
                   "};\n\n",
                   tb->scan_ctx, tb->scan_fn_type);
        buf_puts(b, "static int\n");
        lead = xasprintf("%s(", tb->scan_entry_fn);
        put_params(b, "", lead, scan_params, 4, ")\n");
        free(lead);
        buf_printf(b, "{\n" INDENT "const struct %s *ctx = arg;\n\n",
                   tb->scan_ctx);
        cast = xasprintf("(const %s *)value", tb->msg->c_type);
        {
                const char *args[] = {"key", "len", cast, "ctx->arg"};

                put_params(b, INDENT, "return ctx->fn(", args, 4, ");\n}\n\n");
        }
        free(cast);

        buf_puts(b, "int\n");
        lead = xasprintf("%s(", tb->scan_fn);
        p = xasprintf("%s fn", tb->scan_fn_type);
        {
                const char *params[] = {"kbus_call *call", p, "void *arg"};

                put_params(b, "", lead, params, 3, ")\n");
        }
        free(p);
        free(lead);
        p = xasprintf("fn != NULL ? %s : NULL", tb->scan_entry_fn);
        {
                const char *args[] = {"call", t_ref, p, "&ctx"};

                buf_printf(b,
                           "{\n" INDENT
                           "struct %s ctx = { fn, arg };\n\n" INDENT
                           "/* A NULL fn reaches libkbus as NULL, "
                           "which refuses it. */\n",
                           tb->scan_ctx);
                put_params(b, INDENT, "return kbus_table_scan(", args, 4,
                           ");\n}\n\n");
        }
        free(p);
        free(t_ref);
}

void emit_source(buf *b, const mfile *mf) {
        put_banner(b, mf);
        buf_printf(b, "#include \"%s.kbus.h\"\n\n", mf->base);
        for (size_t i = 0; i < mf->n_services; i++)
                source_service(b, &mf->services[i]);
        for (size_t i = 0; i < mf->n_events; i++)
                source_event(b, &mf->events[i]);
        for (size_t i = 0; i < mf->n_tables; i++)
                source_table(b, &mf->tables[i]);
        /* No trailing blank line. */
        while (b->len >= 2 && b->data[b->len - 1] == '\n' &&
               b->data[b->len - 2] == '\n')
                b->data[--b->len] = '\0';
}
