/*
 * `kbus tail`: print the records of topics as JSON lines, every header
 * decoded by its documented type and the value decoded when its type is
 * known.
 *
 *   kbus tail [-d DESCRIPTOR_SET] [-o WHERE] [-n N] [-f] [filters] TOPIC...
 *
 * It reads with assign(), joins no consumer group and commits nothing, so
 * looking never disturbs the services or moves anyone's offsets.
 *
 * A value's type comes from, in order: --type; the kbus-method header of a
 * request (the method's input type); ce_type of an event; for a reply, the
 * request with the same kafka_correlationId seen earlier in this run (the
 * method's output type).  Dead letters keep their original headers, so
 * they decode the same way.  A reply read before its request (when a
 * reply topic and a request topic are read from the past together) waits
 * until the history is read, then is printed, decoded if its request came.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "kbus/json.h"
#include "wire.h" /* header names only */

struct tail_opts {
        struct cli_kafka k;
        const char *desc_path;
        const char *where;     /* -o */
        const char *type;      /* --type */
        const char *key;       /* --key */
        const char **hfilters; /* "name=value" or "name" */
        size_t n_hfilters;
        long max;
        bool follow;
};

/* Requests seen: correlation id -> the method, for their replies. */
struct corr {
        struct corr *next;
        uint8_t id[KBUS_CORRELATION_LEN];
        const kbus_method_desc *m;
};

#define CORR_BUCKETS 4096

struct held {
        struct held *next;
        rd_kafka_message_t *m;
};

struct tail {
        const struct tail_opts *o;
        kbus_json_pool *pool;
        const ProtobufCMessageDescriptor *forced;
        struct corr *corrs[CORR_BUCKETS];
        struct held *held, **held_tail;
        rd_kafka_topic_partition_list_t *parts;
        int64_t *ends; /* high watermark of each of parts at the start */
        int64_t *next; /* next offset to read of each */
        long printed;
        bool caught_up;
};

static void tail_usage(FILE *fp) {
        fprintf(fp,
                "Usage: kbus tail [-d DESCRIPTOR_SET] [-o WHERE] [-n N] [-f] "
                "[FILTERS] TOPIC...\n"
                "\n"
                "Prints the records of TOPICs as JSON lines: topic, "
                "partition, offset,\n"
                "timestamp (ms), key, headers (kbus/1, CloudEvents and "
                "kafka_dlt-* ones decoded\n"
                "by their documented types) and the value: as JSON when its "
                "type is known from\n"
                "the descriptor set (by kbus-method, ce_type, or a reply's "
                "correlation with a\n"
                "request read before), else as base64.  Joins no consumer "
                "group, commits nothing.\n"
                "\n"
                "  -d, --descriptors FILE  descriptor set to decode values "
                "with\n"
                "  -o, --offset WHERE      beginning (default), end, an "
                "OFFSET in each partition,\n"
                "                          or -DURATION back from now "
                "(-90s, -15m, -2h, -1d)\n"
                "  -n, --max N             stop after N records\n"
                "  -f, --follow            keep waiting for new records "
                "(default: stop at the\n"
                "                          end the topics had at the "
                "start)\n"
                "      --type NAME         decode every value as message "
                "NAME\n"
                "  -k, --key KEY           only records with this key\n"
                "  -H, --header NAME[=VALUE]\n"
                "                          only records with this header "
                "(and value); repeatable\n" CLI_KAFKA_HELP
                "  -h, --help              this help\n");
}

static const void *header(const rd_kafka_message_t *m, const char *name,
                          size_t *size) {
        rd_kafka_headers_t *h;
        const void *v;

        if (rd_kafka_message_headers(m, &h) ||
            rd_kafka_header_get_last(h, name, &v, size))
                return NULL;
        return v;
}

static size_t corr_hash(const uint8_t *id) {
        size_t h = 0;
        for (int i = 0; i < KBUS_CORRELATION_LEN; i++)
                h = h * 31 + id[i];
        return h % CORR_BUCKETS;
}

static void corr_add(struct tail *t, const uint8_t *id,
                     const kbus_method_desc *m) {
        struct corr *c = malloc(sizeof(*c));
        size_t b = corr_hash(id);

        if (!c)
                return; /* only decoding suffers */
        memcpy(c->id, id, KBUS_CORRELATION_LEN);
        c->m = m;
        c->next = t->corrs[b];
        t->corrs[b] = c;
}

static const kbus_method_desc *corr_find(const struct tail *t,
                                         const uint8_t *id) {
        for (struct corr *c = t->corrs[corr_hash(id)]; c; c = c->next)
                if (!memcmp(c->id, id, KBUS_CORRELATION_LEN))
                        return c->m;
        return NULL;
}

static bool is_text(const void *v, size_t n) {
        json_t *j = json_stringn(v, n); /* NULL unless valid UTF-8 */
        const unsigned char *s = v;

        if (!j)
                return false;
        json_decref(j);
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n')
                        return false;
        return true;
}

static json_t *base64_json(const void *v, size_t n) {
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                                  "rstuvwxyz0123456789+/";
        const unsigned char *d = v;
        char *s = malloc(4 * ((n + 2) / 3) + 1), *o = s;
        json_t *j;

        if (!s)
                return json_null();
        for (size_t i = 0; i < n; i += 3) {
                uint32_t x = (uint32_t)d[i] << 16;
                if (i + 1 < n)
                        x |= (uint32_t)d[i + 1] << 8;
                if (i + 2 < n)
                        x |= d[i + 2];
                *o++ = tab[x >> 18 & 63];
                *o++ = tab[x >> 12 & 63];
                *o++ = i + 1 < n ? tab[x >> 6 & 63] : '=';
                *o++ = i + 2 < n ? tab[x & 63] : '=';
        }
        *o = '\0';
        j = json_string(s);
        free(s);
        return j;
}

/* Text as a string, anything else as {"base64": "..."}. */
static json_t *bytes_json(const void *v, size_t n) {
        json_t *o;

        if (is_text(v, n))
                return json_stringn(v, n);
        o = json_object();
        json_object_set_new(o, "base64", base64_json(v, n));
        return o;
}

static int64_t be_signed(const uint8_t *b, size_t n) {
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++)
                x = x << 8 | b[i];
        if (n == 4)
                return (int32_t)(uint32_t)x;
        return (int64_t)x;
}

static bool decimal(const void *v, size_t n, int64_t *out) {
        const char *s = v;
        int64_t x = 0;

        if (n == 0 || n > 18)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                x = x * 10 + (s[i] - '0');
        }
        *out = x;
        return true;
}

/* One header's value by the type docs/WIRE.md gives its name; a value not
 * in its documented encoding is shown as bytes. */
static json_t *header_json(const char *name, const void *v, size_t n) {
        static const char *const int32_be[] = {KBUS_H_REPLY_PARTITION,
                                               KBUS_H_DLT_PARTITION};
        static const char *const int64_be[] = {KBUS_H_DLT_OFFSET,
                                               KBUS_H_DLT_TIMESTAMP};
        static const char *const decimals[] = {KBUS_H_DEADLINE, KBUS_H_STATUS,
                                               KBUS_H_ATTEMPTS};
        static const char hex[] = "0123456789abcdef";
        int64_t x;

        if (!v)
                return json_null();
        for (size_t i = 0; i < 2; i++) {
                if (!strcmp(name, int32_be[i]) && n == 4)
                        return json_integer(be_signed(v, 4));
                if (!strcmp(name, int64_be[i]) && n == 8)
                        return json_integer(be_signed(v, 8));
        }
        for (size_t i = 0; i < 3; i++)
                if (!strcmp(name, decimals[i]) && decimal(v, n, &x))
                        return json_integer(x);
        if (!strcmp(name, KBUS_H_CORRELATION)) {
                /* opaque bytes: hex, as logs show ids */
                char *s = malloc(2 * n + 1);
                json_t *j;
                if (!s)
                        return json_null();
                for (size_t i = 0; i < n; i++) {
                        s[2 * i] = hex[((const uint8_t *)v)[i] >> 4];
                        s[2 * i + 1] = hex[((const uint8_t *)v)[i] & 15];
                }
                s[2 * n] = '\0';
                j = json_string(s);
                free(s);
                return j;
        }
        return bytes_json(v, n);
}

static json_t *headers_json(const rd_kafka_message_t *m) {
        json_t *o = json_object();
        rd_kafka_headers_t *h;
        const char *name;
        const void *v;
        size_t n;

        if (rd_kafka_message_headers(m, &h))
                return o;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &n); i++) {
                json_t *val = header_json(name, v, n), *prev;
                /* A repeated name (a dead letter replayed and dead-lettered
                 * again) becomes an array, in order. */
                if ((prev = json_object_get(o, name))) {
                        if (!json_is_array(prev)) {
                                json_t *a = json_array();
                                json_array_append(a, prev);
                                json_object_set_new(o, name, a);
                                prev = a;
                        }
                        json_array_append_new(prev, val);
                } else {
                        json_object_set_new(o, name, val);
                }
        }
        return o;
}

/* The value's type, or NULL; *replyp says whether the record is a reply. */
static const ProtobufCMessageDescriptor *
value_type(struct tail *t, const rd_kafka_message_t *m, bool *replyp) {
        const void *v, *corr;
        size_t n, corr_len;
        char name[512];

        *replyp = false;
        corr = header(m, KBUS_H_CORRELATION, &corr_len);
        if (corr_len != KBUS_CORRELATION_LEN)
                corr = NULL;
        if ((v = header(m, KBUS_H_METHOD, &n)) && n < sizeof(name)) {
                const kbus_method_desc *md;
                memcpy(name, v, n);
                name[n] = '\0';
                md = kbus_json_pool_method(t->pool, name, NULL);
                if (md && corr && header(m, KBUS_H_REPLY_TOPIC, &n))
                        corr_add(t, corr, md);
                if (t->forced)
                        return t->forced;
                return md ? md->input : NULL;
        }
        if (header(m, KBUS_H_STATUS, &n)) {
                const kbus_method_desc *md = corr ? corr_find(t, corr) : NULL;
                *replyp = true;
                if (t->forced)
                        return t->forced;
                return md ? md->output : NULL;
        }
        if (t->forced)
                return t->forced;
        if ((v = header(m, KBUS_H_CE_TYPE, &n)) && n < sizeof(name)) {
                memcpy(name, v, n);
                name[n] = '\0';
                return kbus_json_pool_message(t->pool, name);
        }
        return NULL;
}

static bool matches(const struct tail_opts *o, const rd_kafka_message_t *m) {
        if (o->key && (!m->key || m->key_len != strlen(o->key) ||
                       memcmp(m->key, o->key, m->key_len)))
                return false;
        for (size_t i = 0; i < o->n_hfilters; i++) {
                const char *f = o->hfilters[i], *eq = strchr(f, '=');
                char name[256];
                const void *v;
                size_t n;

                snprintf(name, sizeof(name), "%.*s",
                         (int)(eq ? (size_t)(eq - f) : strlen(f)), f);
                if (!(v = header(m, name, &n)))
                        return false;
                if (eq && (n != strlen(eq + 1) || memcmp(v, eq + 1, n)))
                        return false;
        }
        return true;
}

static void print_record(struct tail *t, const rd_kafka_message_t *m,
                         const ProtobufCMessageDescriptor *type) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        json_t *o = json_object();
        char *line, *value = NULL, err[512];
        const void *v;
        size_t n;

        json_object_set_new(o, "topic",
                            json_string(rd_kafka_topic_name(m->rkt)));
        json_object_set_new(o, "partition", json_integer(m->partition));
        json_object_set_new(o, "offset", json_integer(m->offset));
        json_object_set_new(o, "timestamp",
                            ts >= 0 ? json_integer(ts) : json_null());
        if (!m->key)
                json_object_set_new(o, "key", json_null());
        else if (is_text(m->key, m->key_len))
                json_object_set_new(o, "key", json_stringn(m->key, m->key_len));
        else
                json_object_set_new(o, "key_base64",
                                    base64_json(m->key, m->key_len));
        json_object_set_new(o, "headers", headers_json(m));
        if ((v = header(m, KBUS_H_STATUS, &n))) {
                int64_t st;
                if (decimal(v, n, &st) && st <= 16)
                        json_object_set_new(
                            o, "status",
                            json_string(kbus_status_name((int)st)));
        }
        if (type) {
                json_object_set_new(o, "type", json_string(type->name));
                if (kbus_json_from_protobuf(type, m->payload, m->len, 0, &value,
                                            err, sizeof(err))) {
                        json_object_set_new(o, "value_error", json_string(err));
                        value = NULL;
                }
        }
        if (!value)
                json_object_set_new(o, "value_base64",
                                    m->payload ? base64_json(m->payload, m->len)
                                               : json_null());
        line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (!line)
                return;
        /* The value is spliced in as the mapping wrote it: jansson would
         * print its numbers differently (kbus/json.h). */
        if (value) {
                line[strlen(line) - 1] = '\0';
                printf("%s,\"value\":%s}\n", line, value);
        } else {
                printf("%s\n", line);
        }
        fflush(stdout);
        free(line);
        kbus_json_free(value);
        t->printed++;
}

/* Takes a record: prints it, or holds a reply whose request may still
 * come; false once -n is reached. */
static bool take(struct tail *t, rd_kafka_message_t *m) {
        const ProtobufCMessageDescriptor *type;
        bool reply;

        if (t->o->max && t->printed >= t->o->max) {
                rd_kafka_message_destroy(m);
                return false;
        }
        type = value_type(t, m, &reply);
        if (!matches(t->o, m)) {
                rd_kafka_message_destroy(m);
                return true;
        }
        if (reply && !type && t->pool && !t->caught_up) {
                struct held *h = malloc(sizeof(*h));
                if (h) {
                        h->m = m;
                        h->next = NULL;
                        *t->held_tail = h;
                        t->held_tail = &h->next;
                        return true;
                }
        }
        print_record(t, m, type);
        rd_kafka_message_destroy(m);
        return !(t->o->max && t->printed >= t->o->max);
}

static void release_held(struct tail *t) {
        struct held *h = t->held, *next;

        t->caught_up = true;
        for (; h; h = next) {
                bool reply;
                const ProtobufCMessageDescriptor *type;
                next = h->next;
                if (!t->o->max || t->printed < t->o->max) {
                        type = value_type(t, h->m, &reply);
                        print_record(t, h->m, type);
                }
                rd_kafka_message_destroy(h->m);
                free(h);
        }
        t->held = NULL;
        t->held_tail = &t->held;
}

/* "-90s", "-15m", "-2h", "-1d", "-500ms": milliseconds back, or -1. */
static int64_t parse_ago(const char *s) {
        char *end;
        double v;

        if (s[0] != '-')
                return -1;
        errno = 0;
        v = strtod(s + 1, &end);
        if (end == s + 1 || errno || v < 0)
                return -1;
        if (!strcmp(end, "ms"))
                return (int64_t)v;
        if (!strcmp(end, "s"))
                return (int64_t)(v * 1000);
        if (!strcmp(end, "m"))
                return (int64_t)(v * 60000);
        if (!strcmp(end, "h"))
                return (int64_t)(v * 3600000);
        if (!strcmp(end, "d"))
                return (int64_t)(v * 86400000);
        return -1;
}

/* Assigns every partition of the topics at -o's position. */
static int assign(struct tail *t, rd_kafka_t *rk, char **topics, int n) {
        const struct tail_opts *o = t->o;
        int64_t ago = -1, at = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_resp_err_t err;
        int count = 0;

        if (!o->where || !strcmp(o->where, "beginning")) {
                at = RD_KAFKA_OFFSET_BEGINNING;
        } else if (!strcmp(o->where, "end")) {
                at = RD_KAFKA_OFFSET_END;
        } else if ((ago = parse_ago(o->where)) < 0) {
                char *end;
                errno = 0;
                at = strtoll(o->where, &end, 10);
                if (!*o->where || *end || errno || at < 0) {
                        fprintf(stderr,
                                "kbus tail: -o: '%s' is not beginning, end, "
                                "an offset or -DURATION (-15m)\n",
                                o->where);
                        return EXIT_USAGE;
                }
        }
        /* All topics at once: asking for one by name would create it on
         * brokers that auto-create (the embedded one ignores a client's
         * allow.auto.create.topics=false), and looking must not create. */
        const rd_kafka_metadata_t *md = NULL;
        if ((err = rd_kafka_metadata(rk, 1, NULL, &md, 10000))) {
                fprintf(stderr, "kbus tail: metadata: %s\n",
                        rd_kafka_err2str(err));
                return 1;
        }
        t->parts = rd_kafka_topic_partition_list_new(16);
        for (int i = 0; i < n; i++) {
                const rd_kafka_metadata_topic_t *mt = NULL;
                for (int j = 0; j < md->topic_cnt; j++)
                        if (!strcmp(md->topics[j].topic, topics[i]))
                                mt = &md->topics[j];
                if (!mt || mt->err || mt->partition_cnt == 0) {
                        fprintf(
                            stderr, "kbus tail: topic %s: %s\n", topics[i],
                            rd_kafka_err2str(
                                mt && mt->err
                                    ? mt->err
                                    : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
                        rd_kafka_metadata_destroy(md);
                        return 1;
                }
                for (int p = 0; p < mt->partition_cnt; p++)
                        rd_kafka_topic_partition_list_add(t->parts, topics[i],
                                                          mt->partitions[p].id)
                            ->offset = at;
        }
        rd_kafka_metadata_destroy(md);
        count = t->parts->cnt;
        t->ends = calloc((size_t)count, sizeof(*t->ends));
        t->next = calloc((size_t)count, sizeof(*t->next));
        if (!t->ends || !t->next)
                return 1;
        for (int i = 0; i < count; i++) {
                rd_kafka_topic_partition_t *tp = &t->parts->elems[i];
                int64_t lo, hi;
                err = rd_kafka_query_watermark_offsets(
                    rk, tp->topic, tp->partition, &lo, &hi, 10000);
                if (err) {
                        fprintf(stderr, "kbus tail: %s [%d]: %s\n", tp->topic,
                                tp->partition, rd_kafka_err2str(err));
                        return 1;
                }
                t->ends[i] = hi;
                if (at == RD_KAFKA_OFFSET_BEGINNING)
                        t->next[i] = lo;
                else if (at == RD_KAFKA_OFFSET_END)
                        t->next[i] = hi;
                else if (ago < 0) /* an offset: within the partition */
                        t->next[i] = tp->offset = at < lo   ? lo
                                                  : at > hi ? hi
                                                            : at;
                if (ago >= 0) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        tp->offset = (int64_t)ts.tv_sec * 1000 +
                                     ts.tv_nsec / 1000000 - ago;
                }
        }
        if (ago >= 0) {
                err = rd_kafka_offsets_for_times(rk, t->parts, 10000);
                if (err) {
                        fprintf(stderr, "kbus tail: offsets for %s: %s\n",
                                o->where, rd_kafka_err2str(err));
                        return 1;
                }
                for (int i = 0; i < count; i++) {
                        rd_kafka_topic_partition_t *tp = &t->parts->elems[i];
                        /* none that late: start at the end */
                        if (tp->offset < 0)
                                tp->offset = t->ends[i];
                        t->next[i] = tp->offset;
                }
        }
        if ((err = rd_kafka_assign(rk, t->parts))) {
                fprintf(stderr, "kbus tail: assign: %s\n",
                        rd_kafka_err2str(err));
                return 1;
        }
        return 0;
}

static bool at_end(const struct tail *t) {
        for (int i = 0; i < t->parts->cnt; i++)
                if (t->next[i] < t->ends[i])
                        return false;
        return true;
}

static volatile sig_atomic_t stopping;
static void on_signal(int sig) {
        (void)sig;
        stopping = 1;
}

static int run_tail(struct tail *t, char **topics, int n) {
        const char *extra[] = {"group.id", "kbus-tail", NULL};
        rd_kafka_t *rk;
        int rc, idle = 0;

        rk = cli_kafka_new((struct cli_kafka *)&t->o->k, RD_KAFKA_CONSUMER,
                           extra, NULL, NULL);
        if (!rk)
                return 1;
        if ((rc = assign(t, rk, topics, n)))
                goto out;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        while (!stopping) {
                rd_kafka_message_t *m;

                if (!t->caught_up && at_end(t)) {
                        release_held(t);
                        if (!t->o->follow)
                                break;
                }
                if (t->o->max && t->printed >= t->o->max)
                        break;
                if (!(m = rd_kafka_consumer_poll(rk, 200))) {
                        /* The end offsets may lie behind records that are
                         * never delivered (transaction markers, records
                         * aged out): 5 s of silence also mean the end. */
                        if (!t->caught_up && ++idle >= 25) {
                                release_held(t);
                                if (!t->o->follow)
                                        break;
                        }
                        continue;
                }
                idle = 0;
                if (m->err) {
                        fprintf(stderr, "kbus tail: %s\n",
                                rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                for (int i = 0; i < t->parts->cnt; i++)
                        if (t->parts->elems[i].partition == m->partition &&
                            !strcmp(t->parts->elems[i].topic,
                                    rd_kafka_topic_name(m->rkt)))
                                t->next[i] = m->offset + 1;
                if (!take(t, m))
                        break;
        }
        release_held(t);
        rc = 0;
out:
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}

int kbus_tool_tail(int argc, char **argv) {
        static const struct option longopts[] = {
            {"descriptors", required_argument, NULL, 'd'},
            {"offset", required_argument, NULL, 'o'},
            {"max", required_argument, NULL, 'n'},
            {"follow", no_argument, NULL, 'f'},
            {"type", required_argument, NULL, 'T'},
            {"key", required_argument, NULL, 'k'},
            {"header", required_argument, NULL, 'H'},
            {"help", no_argument, NULL, 'h'},
            CLI_KAFKA_LONGOPTS,
            {NULL, 0, NULL, 0},
        };
        struct tail_opts o = {0};
        struct tail t = {0};
        char err[1024], *end;
        int c, r, rc = EXIT_USAGE;

        t.held_tail = &t.held;
        if (cli_kafka_init(&o.k, "tail", argc))
                return 1;
        if (!(o.hfilters = calloc((size_t)argc + 1, sizeof(*o.hfilters)))) {
                cli_kafka_fini(&o.k);
                return 1;
        }
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, ":d:o:n:fk:H:h" CLI_KAFKA_SHORTOPTS,
                                longopts, NULL)) != -1) {
                if ((r = cli_kafka_opt(&o.k, c, optarg))) {
                        if (r < 0)
                                goto out;
                        continue;
                }
                switch (c) {
                case 'd':
                        o.desc_path = optarg;
                        break;
                case 'o':
                        o.where = optarg;
                        break;
                case 'f':
                        o.follow = true;
                        break;
                case 'T':
                        o.type = optarg;
                        break;
                case 'k':
                        o.key = optarg;
                        break;
                case 'H':
                        o.hfilters[o.n_hfilters++] = optarg;
                        break;
                case 'n':
                        errno = 0;
                        o.max = strtol(optarg, &end, 10);
                        if (!*optarg || *end || errno || o.max <= 0) {
                                fprintf(stderr,
                                        "kbus tail: --max: '%s' is "
                                        "not a positive integer\n",
                                        optarg);
                                goto out;
                        }
                        break;
                case 'h':
                        tail_usage(stdout);
                        rc = 0;
                        goto out;
                default:
                        cli_bad_option("tail", argv, c);
                        goto out;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "kbus tail: which topics? (kbus tail "
                                "--help)\n");
                goto out;
        }
        if (o.type && !o.desc_path) {
                fprintf(stderr, "kbus tail: --type needs -d "
                                "DESCRIPTOR_SET\n");
                goto out;
        }
        if (o.desc_path &&
            kbus_json_pool_load(&t.pool, o.desc_path, err, sizeof(err))) {
                fprintf(stderr, "kbus tail: %s\n", err);
                goto out;
        }
        if (o.type && !(t.forced = kbus_json_pool_message(t.pool, o.type))) {
                fprintf(stderr, "kbus tail: --type: no message %s in %s\n",
                        o.type, o.desc_path);
                goto out;
        }
        if ((rc = cli_kafka_ready(&o.k)))
                goto out;
        t.o = &o;
        rc = run_tail(&t, argv + optind, argc - optind);
out:
        for (size_t b = 0; b < CORR_BUCKETS; b++)
                for (struct corr *cr = t.corrs[b], *next; cr; cr = next) {
                        next = cr->next;
                        free(cr);
                }
        if (t.parts)
                rd_kafka_topic_partition_list_destroy(t.parts);
        free(t.ends);
        free(t.next);
        free(o.hfilters);
        kbus_json_pool_free(t.pool);
        cli_kafka_fini(&o.k);
        return rc;
}
