/*
 * http_guard: checks each HTTP request's framing before evhttp reads it
 * (see http_guard.h for why).
 *
 * Each connection's input buffer gets an evbuffer callback, which libevent
 * runs as soon as bytes arrive from the socket and before the bufferevent's
 * read callback lets evhttp parse them.  The callback takes the new bytes
 * aside (evhttp keeps only what was handed to it already), parses them as
 * HTTP/1.1 requests, and hands on only a whole request that checks out:
 * its request line and header fields as they came, except Content-Length,
 * Transfer-Encoding and Expect, then a Content-Length and the body, a
 * chunked one decoded.  So evhttp never meets anything it would refuse.
 *
 * A request that does not check out is replaced by a made-up one, "GET
 * /!refused/<token>/<reason> HTTP/1.1" with "Connection: close", which
 * the gateway's handler recognises (http_guard_refused) and answers; the
 * token is random per process, so no client can make one up.  Nothing
 * after it on the connection is read: evhttp closes it after the answer.
 * A body over the limit is read and dropped first, up to OVERSIZE_MAX
 * bytes, so that the client, still sending, reads the answer rather than a
 * connection reset; a client that sent "Expect: 100-continue" is answered
 * at once instead, before it sends the body.
 *
 * Memory per connection: a head (HEAD_MAX) and a body (the limit).
 */
#include "http_guard.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "pipeline.h"

#define HEAD_MAX (16 * 1024)           /* request line and header fields */
#define TARGET_MAX 2048                /* request-target */
#define FIELDS_MAX 100                 /* header fields */
#define LINE_MAX_CHUNK 256             /* a chunk-size line */
#define OVERSIZE_MAX (8 * 1024 * 1024) /* read and dropped before a 413 */

#define REFUSED_PREFIX "/!refused/"

/* Why a request was refused: the index travels in the made-up request. */
enum reason {
        R_REQUEST_LINE,
        R_FIELD,
        R_FOLDED,
        R_CONTENT_LENGTH,
        R_BOTH_LENGTHS,
        R_CHUNKED,
        R_TOO_LARGE,
        R_TARGET_LONG,
        R_EXPECT,
        R_HEAD_LARGE,
        R_METHOD,
        R_CODING,
        R_VERSION,
        R_COUNT
};

static struct {
        int code;
        const char *message;
} reasons[R_COUNT] = {
    [R_REQUEST_LINE] = {400, "malformed request line: want METHOD /path "
                             "HTTP/1.1"},
    [R_FIELD] = {400, "malformed header field: want Name: value"},
    [R_FOLDED] = {400, "header field continued on a second line "
                       "(obsolete line folding)"},
    [R_CONTENT_LENGTH] = {400, "Content-Length must be one whole number"},
    [R_BOTH_LENGTHS] = {400, "both Content-Length and Transfer-Encoding"},
    [R_CHUNKED] = {400, "malformed chunked body"},
    [R_TOO_LARGE] = {413, NULL}, /* set by http_guard_attach */
    [R_TARGET_LONG] = {414, "the request target is longer than 2048 bytes"},
    [R_EXPECT] = {417, "the only Expect understood is 100-continue"},
    [R_HEAD_LARGE] = {431, "the request line and header fields are larger "
                           "than 16 KiB, or more than 100 fields"},
    [R_METHOD] = {501, "method not supported"},
    [R_CODING] = {501, "the only Transfer-Encoding supported is chunked"},
    [R_VERSION] = {505, "HTTP version not supported: use HTTP/1.1"},
};

static struct {
        unsigned methods;
        size_t max_body;
        char token[24];
        char too_large[80];
        struct evbuffer *scratch;
} cfg;

typedef enum {
        G_HEAD,       /* reading a request line and header fields */
        G_BODY,       /* reading a body of Content-Length bytes */
        G_CHUNK_SIZE, /* reading a chunk-size line */
        G_CHUNK_DATA, /* reading a chunk's data */
        G_CHUNK_END,  /* reading the line break after a chunk's data */
        G_TRAILER,    /* reading the trailer fields after the last chunk */
        G_CLOSED      /* refused: the rest is dropped */
} gstate;

typedef struct guard {
        struct bufferevent *bev;
        struct evbuffer_cb_entry *ent;
        struct evbuffer *held; /* arrived, not yet parsed */
        struct evbuffer *head; /* the request to hand on, without its end */
        struct evbuffer *body; /* its body, decoded */
        gstate state;
        size_t scanned;   /* of held: lines of the head found so far */
        uint64_t left;    /* bytes of the body or the chunk still to come */
        size_t trailer;   /* bytes of trailer fields so far */
        uint64_t dropped; /* body bytes read and dropped */
        bool has_body;    /* Content-Length or chunked */
        bool no_body;     /* HEAD: a body is read, and dropped */
        bool too_large;   /* the body is over the limit: dropped */
        bool busy;        /* moving bytes itself: not new input */
} guard;

/* ---- handing on --------------------------------------------------------- */

static void reset(guard *g) {
        evbuffer_drain(g->head, evbuffer_get_length(g->head));
        evbuffer_drain(g->body, evbuffer_get_length(g->body));
        g->state = G_HEAD;
        g->scanned = 0;
        g->left = 0;
        g->trailer = 0;
        g->dropped = 0;
        g->has_body = g->no_body = g->too_large = false;
}

/* Hands evhttp the made-up request that stands for a refused one; nothing
 * after it is read. */
static void refuse(guard *g, struct evbuffer *in, enum reason why) {
        reset(g);
        evbuffer_add_printf(in,
                            "GET " REFUSED_PREFIX "%s/%d HTTP/1.1\r\n"
                            "Host: gateway\r\nConnection: close\r\n\r\n",
                            cfg.token, (int)why);
        g->state = G_CLOSED;
        evbuffer_drain(g->held, evbuffer_get_length(g->held));
}

/* The whole request has been read: hands it on, or refuses it when its
 * body was over the limit. */
static void finish(guard *g, struct evbuffer *in) {
        if (g->too_large) {
                refuse(g, in, R_TOO_LARGE);
                return;
        }
        if (g->has_body && !g->no_body)
                evbuffer_add_printf(g->head, "Content-Length: %zu\r\n",
                                    evbuffer_get_length(g->body));
        evbuffer_add(g->head, "\r\n", 2);
        evbuffer_add_buffer(in, g->head);
        evbuffer_add_buffer(in, g->body);
        reset(g);
}

/* Takes \p n bytes of body from held: kept, or dropped once the body is
 * over the limit.  False when it was refused for that. */
static bool take_body(guard *g, struct evbuffer *in, size_t n) {
        if (!g->too_large && !g->no_body &&
            evbuffer_get_length(g->body) + n > cfg.max_body) {
                g->too_large = true;
                g->dropped += evbuffer_get_length(g->body);
                evbuffer_drain(g->body, evbuffer_get_length(g->body));
        }
        if (g->too_large || g->no_body) {
                evbuffer_drain(g->held, n);
                g->dropped += n;
                if (g->dropped > OVERSIZE_MAX) {
                        refuse(g, in, R_TOO_LARGE);
                        return false;
                }
        } else {
                evbuffer_remove_buffer(g->held, g->body, n);
        }
        return true;
}

/* Answers "100 Continue" for a client that waits for it before sending its
 * body.  evhttp would send it when it reads the head; here it reads the
 * head with the body, so the guard sends it, straight to the socket and
 * only while nothing else is on its way there.  If it cannot, the client
 * sends the body after its own wait (a second, for curl). */
static void send_continue(guard *g) {
        static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (evbuffer_get_length(g->held) ||
            evbuffer_get_length(bufferevent_get_output(g->bev)))
                return;
        (void)send(bufferevent_getfd(g->bev), line, sizeof(line) - 1,
                   MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* ---- parsing ------------------------------------------------------------ */

static bool is_tchar(int c) {
        return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Visible ASCII, space and tab: what a field value may hold. */
static bool value_ok(const char *s) {
        for (; *s; s++)
                if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
                        return false;
        return true;
}

static char *trim(char *s) {
        char *end;
        while (*s == ' ' || *s == '\t')
                s++;
        end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
                *--end = '\0';
        return s;
}

static unsigned method_bit(const char *m) {
        static const struct {
                const char *name;
                unsigned bit;
        } methods[] = {
            {"GET", EVHTTP_REQ_GET},       {"POST", EVHTTP_REQ_POST},
            {"HEAD", EVHTTP_REQ_HEAD},     {"PUT", EVHTTP_REQ_PUT},
            {"DELETE", EVHTTP_REQ_DELETE}, {"OPTIONS", EVHTTP_REQ_OPTIONS},
            {"TRACE", EVHTTP_REQ_TRACE},   {"CONNECT", EVHTTP_REQ_CONNECT},
            {"PATCH", EVHTTP_REQ_PATCH},
        };
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
                if (!strcmp(m, methods[i].name))
                        return methods[i].bit;
        return 0;
}

/* The request line: "METHOD target HTTP/1.x", one space apart.  Its
 * copy goes to g->head.  Returns R_COUNT when it checks out. */
static enum reason parse_request_line(guard *g, char *line, bool *http11) {
        char *target, *version, *p;
        struct evhttp_uri *uri;
        unsigned bit;

        for (p = line; is_tchar((unsigned char)*p); p++)
                ;
        if (p == line || *p != ' ')
                return R_REQUEST_LINE;
        *p = '\0';
        target = p + 1;
        if (!(version = strchr(target, ' ')))
                return R_REQUEST_LINE;
        *version++ = '\0';
        for (p = target; *p; p++)
                if (*p <= 0x20 || *p >= 0x7f)
                        return R_REQUEST_LINE;
        if (p == target)
                return R_REQUEST_LINE;
        if (strncmp(version, "HTTP/", 5) ||
            !isdigit((unsigned char)version[5]) || version[6] != '.' ||
            !isdigit((unsigned char)version[7]) || version[8])
                return R_REQUEST_LINE;
        if (strcmp(version, "HTTP/1.1") && strcmp(version, "HTTP/1.0"))
                return R_VERSION;
        if (!(bit = method_bit(line)) || !(bit & cfg.methods))
                return R_METHOD;
        if (p - target > TARGET_MAX)
                return R_TARGET_LONG;
        /* What evhttp parses it with: what it would refuse, this refuses. */
        if (!(uri = evhttp_uri_parse_with_flags(target,
                                                EVHTTP_URI_NONCONFORMANT)))
                return R_REQUEST_LINE;
        evhttp_uri_free(uri);
        *http11 = !strcmp(version, "HTTP/1.1");
        g->no_body = bit == EVHTTP_REQ_HEAD;
        evbuffer_add_printf(g->head, "%s %s %s\r\n", line, target, version);
        return R_COUNT;
}

/* Content-Length: digits only; a value too large for the limit is taken
 * as UINT64_MAX. */
static bool parse_length(const char *v, uint64_t *out) {
        uint64_t n = 0;
        if (!*v)
                return false;
        for (; *v; v++) {
                if (!isdigit((unsigned char)*v))
                        return false;
                n = n > UINT64_MAX / 20 ? UINT64_MAX / 2 : n * 10 + (*v - '0');
        }
        *out = n;
        return true;
}

/* A whole head, \p n bytes taken from held (without its blank line).
 * Returns R_COUNT when it checks out; then g->head holds its request line
 * and fields and g->state says what comes next. */
static enum reason parse_head(guard *g, char *text, bool *expect,
                              uint64_t *length, bool *chunked) {
        char *line, *next;
        bool http11 = false, has_length = false;
        int fields = 0;
        enum reason r;

        *expect = *chunked = false;
        *length = 0;
        if ((next = strchr(text, '\n')))
                *next++ = '\0';
        line = text;
        if (*line && line[strlen(line) - 1] == '\r')
                line[strlen(line) - 1] = '\0';
        if ((r = parse_request_line(g, line, &http11)) != R_COUNT)
                return r;
        for (line = next; line && *line; line = next) {
                char *name = line, *value, *p;
                if ((next = strchr(line, '\n')))
                        *next++ = '\0';
                if (*line && line[strlen(line) - 1] == '\r')
                        line[strlen(line) - 1] = '\0';
                if (!*line)
                        break;
                if (*line == ' ' || *line == '\t')
                        return R_FOLDED;
                if (++fields > FIELDS_MAX)
                        return R_HEAD_LARGE;
                for (p = name; is_tchar((unsigned char)*p); p++)
                        ;
                if (p == name || *p != ':')
                        return R_FIELD;
                *p = '\0';
                value = trim(p + 1);
                if (!value_ok(value))
                        return R_FIELD;
                if (!strcasecmp(name, "Content-Length")) {
                        uint64_t n;
                        if (!parse_length(value, &n) ||
                            (has_length && n != *length))
                                return R_CONTENT_LENGTH;
                        has_length = true;
                        *length = n;
                } else if (!strcasecmp(name, "Transfer-Encoding")) {
                        if (strcasecmp(value, "chunked"))
                                return R_CODING;
                        if (*chunked)
                                return R_CHUNKED;
                        *chunked = true;
                } else if (!strcasecmp(name, "Expect")) {
                        if (strcasecmp(value, "100-continue"))
                                return R_EXPECT;
                        *expect = http11;
                } else {
                        evbuffer_add_printf(g->head, "%s: %s\r\n", name, value);
                }
        }
        if (has_length && *chunked)
                return R_BOTH_LENGTHS;
        g->has_body = has_length || *chunked;
        return R_COUNT;
}

/* The length of the head at the start of held, its blank line included,
 * once it is all there: 1, and *n; 0 while it is not; -1 when it is
 * larger than HEAD_MAX.  Empty lines before a request are skipped. */
static int head_length(guard *g, size_t *n) {
        struct evbuffer_ptr p, eol;
        size_t eol_len;
        for (;;) {
                if (evbuffer_ptr_set(g->held, &p, g->scanned, EVBUFFER_PTR_SET))
                        return 0;
                eol = evbuffer_search_eol(g->held, &p, &eol_len,
                                          EVBUFFER_EOL_CRLF);
                if (eol.pos < 0)
                        return evbuffer_get_length(g->held) > HEAD_MAX ? -1 : 0;
                if ((size_t)eol.pos == g->scanned) {
                        if (g->scanned == 0) { /* before the request line */
                                evbuffer_drain(g->held, eol_len);
                                continue;
                        }
                        *n = (size_t)eol.pos + eol_len;
                        return *n > HEAD_MAX ? -1 : 1;
                }
                g->scanned = (size_t)eol.pos + eol_len;
                if (g->scanned > HEAD_MAX)
                        return -1;
        }
}

/* Takes one line from held into \p out (without its end): 1; 0 while it
 * is not all there; -1 when it is longer than \p cap - 1. */
static int take_line(guard *g, char *out, size_t cap) {
        size_t eol_len;
        struct evbuffer_ptr eol =
            evbuffer_search_eol(g->held, NULL, &eol_len, EVBUFFER_EOL_CRLF);
        if (eol.pos < 0)
                return evbuffer_get_length(g->held) >= cap ? -1 : 0;
        if ((size_t)eol.pos >= cap)
                return -1;
        evbuffer_remove(g->held, out, (size_t)eol.pos);
        out[eol.pos] = '\0';
        evbuffer_drain(g->held, eol_len);
        return 1;
}

/* A chunk-size line: hex digits, then extensions, which are ignored. */
static bool parse_chunk_size(const char *s, uint64_t *out) {
        uint64_t n = 0;
        int digits = 0;
        for (; isxdigit((unsigned char)*s); s++, digits++) {
                if (digits == 15)
                        return false;
                n = n * 16 +
                    (uint64_t)(isdigit((unsigned char)*s)
                                   ? *s - '0'
                                   : tolower((unsigned char)*s) - 'a' + 10);
        }
        while (*s == ' ' || *s == '\t')
                s++;
        if (!digits || (*s && *s != ';') || !value_ok(s))
                return false;
        *out = n;
        return true;
}

/* Parses what held has, handing on or refusing requests, until it needs
 * more bytes. */
static void advance(guard *g, struct evbuffer *in) {
        char line[LINE_MAX_CHUNK];
        for (;;) {
                size_t avail = evbuffer_get_length(g->held), n;
                switch (g->state) {
                case G_CLOSED:
                        evbuffer_drain(g->held, avail);
                        return;
                case G_HEAD: {
                        bool expect, chunked;
                        uint64_t length;
                        enum reason r;
                        char *text;
                        int got = head_length(g, &n);
                        if (got < 0) {
                                refuse(g, in, R_HEAD_LARGE);
                                return;
                        }
                        if (!got)
                                return;
                        text = pipeline_xmalloc(n + 1);
                        evbuffer_remove(g->held, text, n);
                        text[n] = '\0';
                        g->scanned = 0;
                        r = memchr(text, '\0', n)
                                ? R_FIELD
                                : parse_head(g, text, &expect, &length,
                                             &chunked);
                        free(text);
                        if (r != R_COUNT) {
                                refuse(g, in, r);
                                return;
                        }
                        if (!g->has_body || (!chunked && length == 0)) {
                                finish(g, in);
                                break;
                        }
                        if (!chunked && length > cfg.max_body &&
                            (expect || length > OVERSIZE_MAX)) {
                                /* Refused before the body comes. */
                                refuse(g, in, R_TOO_LARGE);
                                return;
                        }
                        if (expect)
                                send_continue(g);
                        g->state = chunked ? G_CHUNK_SIZE : G_BODY;
                        g->left = length;
                        /* Read and dropped, then refused. */
                        g->too_large = !chunked && length > cfg.max_body;
                        break;
                }
                case G_BODY:
                case G_CHUNK_DATA:
                        n = avail < g->left ? avail : (size_t)g->left;
                        if (n && !take_body(g, in, n))
                                return;
                        g->left -= n;
                        if (g->left)
                                return;
                        if (g->state == G_BODY)
                                finish(g, in);
                        else
                                g->state = G_CHUNK_END;
                        break;
                case G_CHUNK_SIZE:
                case G_CHUNK_END:
                case G_TRAILER: {
                        int got = take_line(g, line, sizeof(line));
                        if (got < 0 && g->state == G_TRAILER) {
                                refuse(g, in, R_HEAD_LARGE);
                                return;
                        }
                        if (got < 0) {
                                refuse(g, in, R_CHUNKED);
                                return;
                        }
                        if (!got)
                                return;
                        if (g->state == G_CHUNK_END) {
                                if (*line) {
                                        refuse(g, in, R_CHUNKED);
                                        return;
                                }
                                g->state = G_CHUNK_SIZE;
                        } else if (g->state == G_CHUNK_SIZE) {
                                if (!parse_chunk_size(line, &g->left)) {
                                        refuse(g, in, R_CHUNKED);
                                        return;
                                }
                                g->state = g->left ? G_CHUNK_DATA : G_TRAILER;
                        } else if (!*line) {
                                finish(g, in); /* trailer fields dropped */
                        } else if ((g->trailer += strlen(line)) > HEAD_MAX) {
                                refuse(g, in, R_HEAD_LARGE);
                                return;
                        } else if (!strchr(line, ':') || *line == ' ' ||
                                   *line == '\t') {
                                refuse(g, in, R_FIELD);
                                return;
                        }
                        break;
                }
                }
        }
}

/* ---- a connection's input ----------------------------------------------- */

static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info,
                     void *arg) {
        guard *g = arg;
        size_t before;
        if (g->busy || !info->n_added)
                return;
        g->busy = true;
        /* The bytes before the new ones were handed on already and wait
         * for evhttp; the new ones go aside. */
        before = evbuffer_get_length(in) - info->n_added;
        evbuffer_remove_buffer(in, cfg.scratch, before);
        evbuffer_add_buffer(g->held, in);
        evbuffer_add_buffer(in, cfg.scratch);
        advance(g, in);
        g->busy = false;
}

static void guard_free(guard *g) {
        evbuffer_free(g->held);
        evbuffer_free(g->head);
        evbuffer_free(g->body);
        free(g);
}

/* evhttp lets the connection go: so does its guard. */
static void on_close(struct evhttp_connection *evcon, void *arg) {
        guard *g = arg;
        (void)evcon;
        evbuffer_remove_cb_entry(bufferevent_get_input(g->bev), g->ent);
        guard_free(g);
}

/* The first bytes of a connection: its guard is made now, when evhttp's
 * connection object is there to say when the connection ends (a
 * connection that sends nothing costs nothing). */
static void on_first_input(struct evbuffer *in,
                           const struct evbuffer_cb_info *info, void *arg) {
        struct bufferevent *bev = arg;
        void *evcon = NULL;
        guard *g;
        if (!info->n_added)
                return;
        evbuffer_remove_cb(in, on_first_input, bev);
        /* evhttp's callbacks carry its connection. */
        bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
        if (!evcon)
                return;
        g = pipeline_xcalloc(1, sizeof(*g));
        g->bev = bev;
        g->held = evbuffer_new();
        g->head = evbuffer_new();
        g->body = evbuffer_new();
        if (!g->held || !g->head || !g->body ||
            !(g->ent = evbuffer_add_cb(in, on_input, g))) {
                fprintf(stderr, "%s: out of memory\n", pipeline_prog);
                exit(1);
        }
        evhttp_connection_set_closecb(evcon, on_close, g);
        on_input(in, info, g);
}

static struct bufferevent *on_connection(struct event_base *base, void *arg) {
        struct bufferevent *bev =
            bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        (void)arg;
        if (bev)
                evbuffer_add_cb(bufferevent_get_input(bev), on_first_input,
                                bev);
        return bev;
}

/* ---- the public functions ----------------------------------------------- */

void http_guard_attach(struct evhttp *http, unsigned methods, size_t max_body) {
        cfg.methods = methods;
        cfg.max_body = max_body;
        pipeline_random_id(cfg.token, sizeof(cfg.token), "");
        if (max_body % 1024)
                snprintf(cfg.too_large, sizeof(cfg.too_large),
                         "the body is larger than %zu bytes", max_body);
        else
                snprintf(cfg.too_large, sizeof(cfg.too_large),
                         "the body is larger than %zu KiB", max_body / 1024);
        reasons[R_TOO_LARGE].message = cfg.too_large;
        if (!(cfg.scratch = evbuffer_new())) {
                fprintf(stderr, "%s: out of memory\n", pipeline_prog);
                exit(1);
        }
        /* The guard hands on bodies up to the limit; evhttp's own check
         * stays, one byte above, and is never met. */
        evhttp_set_max_body_size(http, (ev_ssize_t)max_body + 1);
        evhttp_set_allowed_methods(http, (ev_uint16_t)methods);
        evhttp_set_bevcb(http, on_connection, NULL);
}

bool http_guard_refused(struct evhttp_request *req, int *code,
                        const char **message) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
        size_t plen = strlen(REFUSED_PREFIX), tlen = strlen(cfg.token);
        char *end;
        long why;
        if (!path || strncmp(path, REFUSED_PREFIX, plen) ||
            strncmp(path + plen, cfg.token, tlen) || path[plen + tlen] != '/')
                return false;
        why = strtol(path + plen + tlen + 1, &end, 10);
        if (*end || why < 0 || why >= R_COUNT)
                return false;
        *code = reasons[why].code;
        *message = reasons[why].message;
        return true;
}
