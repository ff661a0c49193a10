/*
 * `kbus call`: call any method of a kbus service with JSON, as grpcurl
 * does for gRPC.
 *
 *   kbus call -d DESCRIPTOR_SET [OPTIONS] METHOD [JSON | @FILE | -]
 *
 * The descriptor set (protoc --descriptor_set_out --include_imports)
 * gives the method's topic, input and output types and options
 * (libkbus's JSON pool); the request is read by the proto3 JSON mapping
 * and the reply printed the same way.
 *
 * The tool speaks the kbus/1 wire format (docs/WIRE.md) with librdkafka
 * directly, as any foreign client would, rather than through a runtime:
 * it needs headers and keys of its own choosing (-H, --key) that the
 * runtime's call API does not take.  Its reply topic is read by assign()
 * from the end it had before the first request, so replies to earlier
 * calls on a shared --reply-topic are never taken for ours.
 *
 * With -n COUNT, the call is repeated with up to -C IN_FLIGHT pending at
 * once, and a latency summary is printed instead of the replies.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "kbus/json.h"
#include "wire.h" /* header names only */

struct call_opts {
        struct cli_kafka k;
        const char *desc_path;
        const char *method;
        const char *json;
        const char *key;
        const char *reply_topic;
        const char **headers; /* "name=value" */
        size_t n_headers;
        long timeout_ms; /* 0: the method's, else 5000 */
        long count, in_flight;
        bool oneway, compact;
};

struct pending {
        uint8_t corr[KBUS_CORRELATION_LEN];
        int64_t sent_us, deadline_us;
        bool active;
};

struct run {
        const struct call_opts *o;
        const kbus_method_desc *m;
        rd_kafka_t *producer, *consumer;
        struct pending *slots;
        double *latencies_ms;
        long sent, done, ok, failed, timed_out;
        long by_status[17];
        int last_status;
        char last_message[512];
        int rc;
        bool oneway;
};

static void call_usage(FILE *fp) {
        fprintf(fp,
                "Usage: kbus call -d DESCRIPTOR_SET [OPTIONS] METHOD [JSON | "
                "@FILE | -]\n"
                "\n"
                "Calls METHOD (/pkg.Service/Method or pkg.Service.Method) "
                "with the request\n"
                "given as proto3 JSON (default: read from standard input) "
                "and prints the reply\n"
                "as JSON.  A non-OK reply prints 'STATUS: message' on "
                "standard error and exits 1.\n"
                "DESCRIPTOR_SET is what protoc --descriptor_set_out=FILE "
                "--include_imports writes.\n"
                "\n"
                "  -d, --descriptors FILE  the descriptor set (required)\n"
                "  -t, --timeout MS        deadline (default: the method's, "
                "else 5000)\n"
                "  -k, --key KEY           record key (default: the "
                "method's key field)\n"
                "  -H, --header NAME=VALUE an extra header; repeatable\n"
                "      --oneway            send without waiting for a reply "
                "(one-way methods\n"
                "                          always are)\n"
                "  -n, --count N           make the call N times and print a "
                "latency summary\n"
                "  -C, --in-flight N       with -n: calls pending at once "
                "(default 1)\n"
                "      --reply-topic T     read replies on T, partition 0 "
                "(default: the -c file's\n"
                "                          reply_topic, else a new "
                "kbus-cli.replies.<random>)\n"
                "      --compact           print the reply on one "
                "line\n" CLI_KAFKA_HELP "  -h, --help              this help\n"
                "\n"
                "Exit status: 0 OK; 1 the call failed (a status, a timeout, "
                "not delivered);\n"
                "2 a usage error (unknown method, bad JSON, bad option).\n");
}

static int64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void random_bytes(void *buf, size_t n) {
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t got = getrandom(p, n, 0);
                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        /* Never expected on Linux >= 3.17; stay unique
                         * enough for correlation ids. */
                        for (size_t i = 0; i < n; i++)
                                p[i] = (uint8_t)rand();
                        return;
                }
                p += got;
                n -= (size_t)got;
        }
}

static char *read_all(FILE *fp) {
        size_t n = 0, cap = 4096;
        char *buf = malloc(cap), *nb;
        size_t got;

        while (buf && (got = fread(buf + n, 1, cap - n - 1, fp)) > 0) {
                n += got;
                if (cap - n - 1 == 0) {
                        if (!(nb = realloc(buf, cap * 2))) {
                                free(buf);
                                return NULL;
                        }
                        buf = nb;
                        cap *= 2;
                }
        }
        if (buf)
                buf[n] = '\0';
        return buf;
}

/* The request's JSON: the argument, @FILE, or standard input. */
static char *request_text(const char *arg) {
        FILE *fp;
        char *s;

        if (arg && strcmp(arg, "-") && arg[0] != '@')
                return strdup(arg);
        if (!arg || !strcmp(arg, "-"))
                return read_all(stdin);
        if (!(fp = fopen(arg + 1, "r"))) {
                fprintf(stderr, "kbus call: %s: %s\n", arg + 1,
                        strerror(errno));
                return NULL;
        }
        s = read_all(fp);
        fclose(fp);
        return s;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
        struct run *r = opaque;
        struct pending *p = m->_private;

        (void)rk;
        if (!p || !p->active)
                return;
        if (m->err) {
                r->failed++;
                r->by_status[KBUS_UNAVAILABLE]++;
                r->last_status = KBUS_UNAVAILABLE;
                snprintf(r->last_message, sizeof(r->last_message),
                         "request not delivered to %s: %s",
                         rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                p->active = false;
                r->done++;
        } else if (r->oneway) {
                double ms = (double)(now_us() - p->sent_us) / 1000.0;
                r->latencies_ms[r->ok++] = ms;
                r->by_status[0]++;
                p->active = false;
                r->done++;
        }
}

static void producer_setup(rd_kafka_conf_t *conf, void *arg) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, arg);
}

/* Makes sure partition 0 of the reply topic exists (auto-creating it,
 * as a reply topic is on first use) and assigns it from its end. */
static int open_reply_topic(struct run *r, const char *topic) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->producer, topic, NULL);
        rd_kafka_topic_partition_list_t *l;
        const rd_kafka_metadata_t *md = NULL;
        int64_t lo = 0, hi = 0, until = now_us() + 15000000;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

        for (;;) {
                err = rd_kafka_metadata(r->producer, 0, rkt, &md, 5000);
                if (!err && md->topic_cnt == 1 && !md->topics[0].err &&
                    md->topics[0].partition_cnt > 0 &&
                    md->topics[0].partitions[0].leader >= 0) {
                        rd_kafka_metadata_destroy(md);
                        break;
                }
                if (!err)
                        err = md->topic_cnt ? md->topics[0].err
                                            : RD_KAFKA_RESP_ERR_UNKNOWN;
                if (md)
                        rd_kafka_metadata_destroy(md);
                md = NULL;
                if (now_us() > until) {
                        rd_kafka_topic_destroy(rkt);
                        fprintf(stderr,
                                "kbus call: reply topic %s is not available: "
                                "%s (does the cluster auto-create topics? "
                                "else create it, or name one with "
                                "--reply-topic)\n",
                                topic, rd_kafka_err2str(err));
                        return -1;
                }
                rd_kafka_poll(r->producer, 200);
        }
        rd_kafka_topic_destroy(rkt);
        err = rd_kafka_query_watermark_offsets(r->consumer, topic, 0, &lo, &hi,
                                               10000);
        if (err) {
                fprintf(stderr, "kbus call: reply topic %s: %s\n", topic,
                        rd_kafka_err2str(err));
                return -1;
        }
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, 0)->offset = hi;
        err = rd_kafka_assign(r->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err) {
                fprintf(stderr, "kbus call: assign %s: %s\n", topic,
                        rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

static int send_one(struct run *r, struct pending *p, const char *topic,
                    const char *reply_topic, const void *key, size_t key_len,
                    const void *value, size_t len, int64_t timeout_ms) {
        const struct call_opts *o = r->o;
        rd_kafka_headers_t *h = rd_kafka_headers_new(8 + o->n_headers);
        uint8_t part[4] = {0, 0, 0, 0}, ids[24];
        char deadline[24], tp[KBUS_TRACEPARENT_LEN + 1];
        static const char hex[] = "0123456789abcdef";
        rd_kafka_resp_err_t err;
        size_t i;

        random_bytes(p->corr, sizeof(p->corr));
        random_bytes(ids, sizeof(ids));
        /* 00-<trace id>-<span id>-01 */
        memcpy(tp, "00-", 3);
        for (i = 0; i < 16; i++) {
                tp[3 + 2 * i] = hex[ids[i] >> 4];
                tp[4 + 2 * i] = hex[ids[i] & 15];
        }
        tp[35] = '-';
        for (i = 0; i < 8; i++) {
                tp[36 + 2 * i] = hex[ids[16 + i] >> 4];
                tp[37 + 2 * i] = hex[ids[16 + i] & 15];
        }
        memcpy(tp + 52, "-01", 4);
        p->sent_us = now_us();
        p->deadline_us = p->sent_us + timeout_ms * 1000;
        snprintf(deadline, sizeof(deadline), "%" PRId64, p->deadline_us / 1000);
        rd_kafka_header_add(h, KBUS_H_METHOD, -1, r->m->path, -1);
        rd_kafka_header_add(h, KBUS_H_CORRELATION, -1, p->corr,
                            sizeof(p->corr));
        if (!r->oneway) {
                rd_kafka_header_add(h, KBUS_H_REPLY_TOPIC, -1, reply_topic, -1);
                rd_kafka_header_add(h, KBUS_H_REPLY_PARTITION, -1, part, 4);
        }
        rd_kafka_header_add(h, KBUS_H_DEADLINE, -1, deadline, -1);
        rd_kafka_header_add(h, KBUS_H_TRACEPARENT, -1, tp, -1);
        rd_kafka_header_add(h, KBUS_H_CONTENT_TYPE, -1, KBUS_CONTENT_TYPE, -1);
        for (i = 0; i < o->n_headers; i++) {
                const char *eq = strchr(o->headers[i], '=');
                rd_kafka_header_add(h, o->headers[i],
                                    (ssize_t)(eq - o->headers[i]), eq + 1, -1);
        }
        p->active = true;
        err = rd_kafka_producev(
            r->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
        if (err) {
                rd_kafka_headers_destroy(h);
                p->active = false;
                fprintf(stderr, "kbus call: cannot send to %s: %s\n", topic,
                        rd_kafka_err2str(err));
                return -1;
        }
        r->sent++;
        return 0;
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

/* A record on the reply topic: ours if its correlation id is pending. */
static void on_reply(struct run *r, const rd_kafka_message_t *m) {
        const void *corr, *v;
        size_t n, corr_len;
        struct pending *p = NULL;
        char status_text[24] = "";
        int status = KBUS_UNKNOWN;
        double ms;

        corr = header(m, KBUS_H_CORRELATION, &corr_len);
        if (!corr || corr_len != KBUS_CORRELATION_LEN)
                return;
        for (long i = 0; i < r->o->in_flight; i++)
                if (r->slots[i].active &&
                    !memcmp(r->slots[i].corr, corr, corr_len)) {
                        p = &r->slots[i];
                        break;
                }
        if (!p)
                return; /* someone else's, or a duplicate */
        p->active = false;
        r->done++;
        ms = (double)(now_us() - p->sent_us) / 1000.0;
        if ((v = header(m, KBUS_H_STATUS, &n)) && n < sizeof(status_text)) {
                char *end;
                memcpy(status_text, v, n);
                status_text[n] = '\0';
                status = (int)strtol(status_text, &end, 10);
                if (*end || !n || status < 0 || status > 16)
                        status = KBUS_UNKNOWN;
        }
        r->by_status[status]++;
        if (status != KBUS_OK) {
                r->failed++;
                r->last_status = status;
                if ((v = header(m, KBUS_H_STATUS_MESSAGE, &n)))
                        snprintf(r->last_message, sizeof(r->last_message),
                                 "%.*s", (int)n, (const char *)v);
                else
                        snprintf(r->last_message, sizeof(r->last_message), "%s",
                                 kbus_strerror(status));
                return;
        }
        r->latencies_ms[r->ok++] = ms;
        if (r->o->count == 1) {
                char *json = NULL, err[512];
                if (kbus_json_from_protobuf(r->m->output, m->payload, m->len,
                                            r->o->compact ? 0
                                                          : KBUS_JSON_INDENT,
                                            &json, err, sizeof(err))) {
                        fprintf(stderr, "kbus call: the reply: %s\n", err);
                        r->rc = 1;
                        return;
                }
                printf("%s\n", json);
                kbus_json_free(json);
        }
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double q) {
        long i;
        if (n == 0)
                return 0;
        i = (long)ceil(q * (double)n) - 1;
        return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int run_calls(const struct call_opts *o, const kbus_method_desc *m,
                     const kbus_service_desc *svc, const void *value,
                     size_t len, const void *key, size_t key_len) {
        struct run r = {0};
        char reply_topic[300];
        const char *cfg_reply;
        int64_t timeout_ms = o->timeout_ms   ? o->timeout_ms
                             : m->timeout_ms ? m->timeout_ms
                                             : 5000;
        int64_t t0, t1;
        uint8_t rnd[8];
        int rc = 1;

        r.o = o;
        r.m = m;
        r.oneway = o->oneway || (m->flags & KBUS_METHOD_ONE_WAY);
        r.slots = calloc((size_t)o->in_flight, sizeof(*r.slots));
        r.latencies_ms = calloc((size_t)o->count, sizeof(*r.latencies_ms));
        if (!r.slots || !r.latencies_ms) {
                fprintf(stderr, "kbus call: out of memory\n");
                goto out;
        }
        cfg_reply = kbus_config_get(o->k.conf, "reply_topic");
        if (o->reply_topic) {
                snprintf(reply_topic, sizeof(reply_topic), "%s",
                         o->reply_topic);
        } else if (cfg_reply) {
                snprintf(reply_topic, sizeof(reply_topic), "%s", cfg_reply);
        } else {
                random_bytes(rnd, sizeof(rnd));
                snprintf(reply_topic, sizeof(reply_topic),
                         "kbus-cli.replies.%02x%02x%02x%02x%02x%02x%02x%02x",
                         rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
                         rnd[7]);
        }
        if (!(r.producer =
                  cli_kafka_new((struct cli_kafka *)&o->k, RD_KAFKA_PRODUCER,
                                NULL, producer_setup, &r)))
                goto out;
        if (!r.oneway) {
                /* No group is joined: the group id only names the client. */
                const char *extra[] = {"group.id", reply_topic, NULL};
                if (!(r.consumer = cli_kafka_new((struct cli_kafka *)&o->k,
                                                 RD_KAFKA_CONSUMER, extra, NULL,
                                                 NULL)) ||
                    open_reply_topic(&r, reply_topic))
                        goto out;
        }

        /* Learn the request topic's partitions now: a producer otherwise
         * asks at its next metadata refresh, a second after the first
         * send. */
        {
                rd_kafka_topic_t *rkt =
                    rd_kafka_topic_new(r.producer, svc->topic, NULL);
                const rd_kafka_metadata_t *md = NULL;
                if (!rd_kafka_metadata(r.producer, 0, rkt, &md, 5000))
                        rd_kafka_metadata_destroy(md);
                rd_kafka_topic_destroy(rkt);
        }
        t0 = now_us();
        while (r.done < o->count) {
                int64_t now = now_us();

                for (long i = 0; i < o->in_flight && r.sent < o->count; i++)
                        if (!r.slots[i].active &&
                            send_one(&r, &r.slots[i], svc->topic, reply_topic,
                                     key, key_len, value, len, timeout_ms))
                                goto out;
                for (long i = 0; i < o->in_flight; i++)
                        if (r.slots[i].active && now > r.slots[i].deadline_us) {
                                r.slots[i].active = false;
                                r.done++;
                                r.timed_out++;
                                r.failed++;
                                r.by_status[KBUS_DEADLINE_EXCEEDED]++;
                                r.last_status = KBUS_DEADLINE_EXCEEDED;
                                snprintf(r.last_message, sizeof(r.last_message),
                                         "no reply within %" PRId64
                                         " ms (is a server of %s running?)",
                                         timeout_ms, svc->name);
                        }
                rd_kafka_poll(r.producer, r.consumer ? 0 : 5);
                if (r.consumer) {
                        rd_kafka_message_t *msg =
                            rd_kafka_consumer_poll(r.consumer, 5);
                        if (msg) {
                                if (!msg->err)
                                        on_reply(&r, msg);
                                else
                                        fprintf(stderr,
                                                "kbus call: reply topic: %s\n",
                                                rd_kafka_message_errstr(msg));
                                rd_kafka_message_destroy(msg);
                        }
                }
        }
        t1 = now_us();

        if (o->count > 1) {
                double secs = (double)(t1 - t0) / 1e6;
                qsort(r.latencies_ms, (size_t)r.ok, sizeof(double), cmp_double);
                printf("calls=%ld ok=%ld failed=%ld timed_out=%ld "
                       "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f calls_per_s=%.1f\n",
                       o->count, r.ok, r.failed, r.timed_out,
                       percentile(r.latencies_ms, r.ok, 0.50),
                       percentile(r.latencies_ms, r.ok, 0.99),
                       r.ok ? r.latencies_ms[r.ok - 1] : 0.0,
                       secs > 0 ? (double)o->count / secs : 0.0);
                for (int s = 1; s <= 16; s++)
                        if (r.by_status[s])
                                printf("status %s: %ld\n", kbus_status_name(s),
                                       r.by_status[s]);
        }
        if (r.failed) {
                fprintf(stderr, "%s: %s\n", kbus_status_name(r.last_status),
                        r.last_message);
                rc = 1;
        } else {
                rc = r.rc;
        }
out:
        if (r.producer) {
                rd_kafka_flush(r.producer, 5000);
                rd_kafka_destroy(r.producer);
        }
        if (r.consumer) {
                rd_kafka_consumer_close(r.consumer);
                rd_kafka_destroy(r.consumer);
        }
        free(r.slots);
        free(r.latencies_ms);
        return rc;
}

static int parse_long(const char *flag, const char *s, long min, long max,
                      long *out) {
        char *end;
        errno = 0;
        *out = strtol(s, &end, 10);
        if (!*s || *end || errno || *out < min || *out > max) {
                fprintf(stderr,
                        "kbus call: %s: '%s' is not an integer from %ld to "
                        "%ld\n",
                        flag, s, min, max);
                return -1;
        }
        return 0;
}

/* The services and methods a descriptor set offers, for a bad name. */
static void list_methods(const kbus_json_pool *pool) {
        size_t n = kbus_json_pool_service_count(pool);

        if (!n) {
                fprintf(stderr, "  (the descriptor set has no services)\n");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const kbus_service_desc *svc = kbus_json_pool_service(pool, i);
                for (size_t j = 0; j < svc->n_methods; j++)
                        fprintf(stderr, "  %s\n", svc->methods[j].path);
        }
}

int kbus_tool_call(int argc, char **argv) {
        static const struct option longopts[] = {
            {"descriptors", required_argument, NULL, 'd'},
            {"timeout", required_argument, NULL, 't'},
            {"key", required_argument, NULL, 'k'},
            {"header", required_argument, NULL, 'H'},
            {"oneway", no_argument, NULL, 'O'},
            {"count", required_argument, NULL, 'n'},
            {"in-flight", required_argument, NULL, 'C'},
            {"reply-topic", required_argument, NULL, 'R'},
            {"compact", no_argument, NULL, 'P'},
            {"help", no_argument, NULL, 'h'},
            CLI_KAFKA_LONGOPTS,
            {NULL, 0, NULL, 0},
        };
        struct call_opts o = {0};
        kbus_json_pool *pool = NULL;
        const kbus_method_desc *m;
        const kbus_service_desc *svc;
        ProtobufCMessage *req = NULL;
        char err[1024], keybuf[32], *text = NULL;
        const void *key = NULL;
        uint8_t *value = NULL;
        size_t len, key_len = 0;
        int c, r, rc = EXIT_USAGE;

        o.count = 1;
        o.in_flight = 1;
        if (cli_kafka_init(&o.k, "call", argc))
                return 1;
        o.headers = calloc((size_t)argc + 1, sizeof(*o.headers));
        if (!o.headers) {
                cli_kafka_fini(&o.k);
                return 1;
        }
        opterr = 0;
        optind = 1;
        while (
            (c = getopt_long(argc, argv, ":d:t:k:H:n:C:h" CLI_KAFKA_SHORTOPTS,
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
                case 'k':
                        o.key = optarg;
                        break;
                case 'R':
                        o.reply_topic = optarg;
                        break;
                case 'O':
                        o.oneway = true;
                        break;
                case 'P':
                        o.compact = true;
                        break;
                case 't':
                        if (parse_long("--timeout", optarg, 1, 86400000,
                                       &o.timeout_ms))
                                goto out;
                        break;
                case 'n':
                        if (parse_long("--count", optarg, 1, 100000000,
                                       &o.count))
                                goto out;
                        break;
                case 'C':
                        if (parse_long("--in-flight", optarg, 1, 10000,
                                       &o.in_flight))
                                goto out;
                        break;
                case 'H':
                        if (!strchr(optarg, '=') || optarg[0] == '=') {
                                fprintf(stderr,
                                        "kbus call: -H wants NAME=VALUE, got "
                                        "'%s'\n",
                                        optarg);
                                goto out;
                        }
                        o.headers[o.n_headers++] = optarg;
                        break;
                case 'h':
                        call_usage(stdout);
                        rc = 0;
                        goto out;
                default:
                        cli_bad_option("call", argv, c);
                        goto out;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "kbus call: which method? (kbus call "
                                "--help)\n");
                goto out;
        }
        o.method = argv[optind++];
        if (optind < argc)
                o.json = argv[optind++];
        if (optind < argc) {
                fprintf(stderr,
                        "kbus call: unexpected argument '%s' (quote "
                        "the JSON)\n",
                        argv[optind]);
                goto out;
        }
        if (o.in_flight > o.count)
                o.in_flight = o.count;
        if (!o.desc_path) {
                fprintf(stderr, "kbus call: -d DESCRIPTOR_SET is required "
                                "(protoc --descriptor_set_out=FILE "
                                "--include_imports ...)\n");
                goto out;
        }
        if (kbus_json_pool_load(&pool, o.desc_path, err, sizeof(err))) {
                fprintf(stderr, "kbus call: %s\n", err);
                goto out;
        }
        if (!(m = kbus_json_pool_method(pool, o.method, &svc))) {
                fprintf(stderr, "kbus call: no method '%s' in %s; it has:\n",
                        o.method, o.desc_path);
                list_methods(pool);
                goto out;
        }
        if (!(text = request_text(o.json)))
                goto out;
        if (kbus_json_decode(m->input, text, strlen(text), 0, &req, err,
                             sizeof(err))) {
                fprintf(stderr, "kbus call: request (%s): %s\n", m->input->name,
                        err);
                goto out;
        }
        len = protobuf_c_message_get_packed_size(req);
        if (!(value = malloc(len ? len : 1))) {
                rc = 1;
                goto out;
        }
        protobuf_c_message_pack(req, value);
        if (o.key) {
                key = o.key;
                key_len = strlen(o.key);
        } else {
                key = kbus_record_key(req, m->key_field, &key_len, keybuf);
        }
        if ((rc = cli_kafka_ready(&o.k)))
                goto out;
        rc = run_calls(&o, m, svc, value, len, key, key_len);
out:
        kbus_json_message_free(req);
        free(value);
        free(text);
        free(o.headers);
        kbus_json_pool_free(pool);
        cli_kafka_fini(&o.k);
        return rc;
}
