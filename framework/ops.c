/*
 * The operations endpoint: a small evhttp listener on the runtime's loop
 * serving /healthz (the loop runs), /readyz (kbus_runtime_ready: started,
 * every consumer group joined, the reply consumer opened at start fetching,
 * not shutting down) and /metrics (the runtime's
 * counters, in-flight gauges and consumer lag, in Prometheus text format).
 * Lag comes from librdkafka's cached high watermarks and our positions, so
 * a scrape never waits for the broker.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "core.h"

/* From the same list as the enum and the names, so none can be missing. */
static const char *const stat_help[KBUS_STAT__COUNT] = {
#define STAT_HELP(id, name, help) [KBUS_STAT_##id] = help,
    KBUS_STATS(STAT_HELP)
#undef STAT_HELP
};

static void reply_text(struct evhttp_request *req, int code, const char *reason,
                       struct evbuffer *body) {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Content-Type", "text/plain; version=0.0.4");
        evhttp_send_reply(req, code, reason, body);
}

int kbus_runtime_ready(const kbus_runtime *rt) {
        if (!rt->started || rt->closing)
                return 0;
        /* A reply consumer opened at start must be fetching, or the
         * first call would wait for its offset query and first fetch. */
        if (rt->reply_at_start && !rt->reply_fetching)
                return 0;
        for (const kbus_group *g = rt->groups; g; g = g->next)
                if (!g->joined ||
                    (g->state_ops && g->state_ops->restoring(g->state)))
                        return 0;
        return 1;
}

/* A label value in the text format: backslash, double quote and newline
 * escaped.  A consumer group may be any string; a quote in it would
 * otherwise end the value early and make the line unreadable. */
static const char *label_value(char *buf, size_t size, const char *s) {
        size_t at = 0;

        for (; *s && at + 3 < size; s++) {
                if (*s == '\\' || *s == '"' || *s == '\n') {
                        buf[at++] = '\\';
                        buf[at++] = *s == '\n' ? 'n' : *s;
                } else {
                        buf[at++] = *s;
                }
        }
        buf[at] = '\0';
        return buf;
}

static void metrics(kbus_runtime *rt, struct evbuffer *b) {
        /* Topic names and the application name (topic characters only)
         * need no escaping, but cost nothing to escape; a group id may be
         * long: 1 KB of it is plenty to tell groups apart. */
        char app_buf[512], group_buf[1024], topic_buf[512];
        const char *app = label_value(app_buf, sizeof(app_buf), rt->conf->name);
        for (int i = 0; i < KBUS_STAT__COUNT; i++) {
                const char *name = kbus_stat_name((kbus_stat)i);
                evbuffer_add_printf(b,
                                    "# HELP kbus_%s_total %s\n"
                                    "# TYPE kbus_%s_total counter\n"
                                    "kbus_%s_total{app=\"%s\"} %" PRIu64 "\n",
                                    name, stat_help[i], name, name, app,
                                    rt->stats[i]);
        }
        evbuffer_add_printf(b,
                            "# HELP kbus_records_in_flight Records being "
                            "handled.\n"
                            "# TYPE kbus_records_in_flight gauge\n"
                            "kbus_records_in_flight{app=\"%s\"} %zu\n"
                            "# HELP kbus_calls_waiting Client calls waiting "
                            "for a reply.\n"
                            "# TYPE kbus_calls_waiting gauge\n"
                            "kbus_calls_waiting{app=\"%s\"} %zu\n"
                            "# HELP kbus_producer_queue Messages queued in "
                            "the producer.\n"
                            "# TYPE kbus_producer_queue gauge\n"
                            "kbus_producer_queue{app=\"%s\"} %d\n",
                            app, rt->records_in_flight, app, rt->n_waiting, app,
                            rd_kafka_outq_len(rt->producer));
        evbuffer_add_printf(b, "# HELP kbus_consumer_lag Records behind the "
                               "partition's end.\n"
                               "# TYPE kbus_consumer_lag gauge\n");
        for (kbus_group *g = rt->groups; g; g = g->next) {
                const char *group =
                    label_value(group_buf, sizeof(group_buf), g->id);
                rd_kafka_topic_partition_list_t *l =
                    rd_kafka_topic_partition_list_new(4);
                int i = 0;
                for (kbus_partition *p = g->parts; p; p = p->next)
                        rd_kafka_topic_partition_list_add(l, p->topic,
                                                          p->partition);
                rd_kafka_position(g->rk, l);
                /* The list is in the order of g->parts. */
                for (kbus_partition *p = g->parts; p; p = p->next, i++) {
                        int64_t lo, hi, from = l->elems[i].offset;
                        if (rd_kafka_get_watermark_offsets(
                                g->rk, p->topic, p->partition, &lo, &hi) ||
                            hi < 0)
                                continue;
                        /* No record since this process started: count from
                         * the committed offset, once librdkafka's
                         * statistics said what it is, or from the start of
                         * the partition when the group never committed. */
                        if (from < 0)
                                from = p->committed == KBUS_COMMITTED_NONE
                                           ? (lo >= 0 ? lo : 0)
                                           : p->committed;
                        if (from < 0)
                                continue;
                        evbuffer_add_printf(
                            b,
                            "kbus_consumer_lag{app=\"%s\",group=\"%s\","
                            "topic=\"%s\",partition=\"%" PRId32 "\"} %" PRId64
                            "\n",
                            app, group,
                            label_value(topic_buf, sizeof(topic_buf), p->topic),
                            p->partition, hi > from ? hi - from : 0);
                }
                rd_kafka_topic_partition_list_destroy(l);
        }
        for (kbus_group *g = rt->groups; g; g = g->next)
                if (g->state_ops) {
                        evbuffer_add_printf(
                            b, "# HELP kbus_table_entries Entries of a table "
                               "partition held here.\n"
                               "# TYPE kbus_table_entries gauge\n"
                               "# HELP kbus_table_bytes Memory of a table "
                               "partition beyond its values' bytes.\n"
                               "# TYPE kbus_table_bytes gauge\n"
                               "# HELP kbus_table_restore_remaining Changelog "
                               "records still to read before the partition "
                               "is restored (0: restored).\n"
                               "# TYPE kbus_table_restore_remaining gauge\n");
                        break;
                }
        for (kbus_group *g = rt->groups; g; g = g->next)
                if (g->state_ops)
                        g->state_ops->metrics(g->state, b, app);
}

static void on_request(struct evhttp_request *req, void *arg) {
        kbus_runtime *rt = arg;
        const char *path =
            evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
        struct evbuffer *b = evbuffer_new();
        if (!b) {
                evhttp_send_error(req, 500, NULL);
                return;
        }
        if (!path || !strcmp(path, "/healthz")) {
                evbuffer_add_printf(b, "ok\n");
                reply_text(req, 200, "OK", b);
        } else if (!strcmp(path, "/readyz")) {
                bool ok = kbus_runtime_ready(rt);
                evbuffer_add_printf(b, ok ? "ready\n" : "not ready\n");
                reply_text(req, ok ? 200 : 503,
                           ok ? "OK" : "Service Unavailable", b);
        } else if (!strcmp(path, "/metrics")) {
                metrics(rt, b);
                reply_text(req, 200, "OK", b);
        } else {
                evbuffer_add_printf(b, "not found: try /healthz, /readyz, "
                                       "/metrics\n");
                reply_text(req, 404, "Not Found", b);
        }
        evbuffer_free(b);
}

int kbus__ops_start(kbus_runtime *rt, char *errstr, size_t errlen) {
        char host[256];
        struct evhttp_bound_socket *sock;
        int port;

        /* The configuration checked the form already (config.c), with
         * the same parser. */
        if (kbus__hostport_parse(rt->conf->http, host, sizeof(host), &port))
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "http: \"%s\" is not host:port",
                                 rt->conf->http);
        rt->http = evhttp_new(rt->base);
        if (!rt->http)
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "http: out of memory");
        evhttp_set_gencb(rt->http, on_request, rt);
        evhttp_set_allowed_methods(rt->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
        sock = evhttp_bind_socket_with_handle(rt->http, host, (uint16_t)port);
        if (!sock)
                return kbus__err(errstr, errlen, KBUS_UNAVAILABLE,
                                 "http: cannot listen on %s", rt->conf->http);
        {
                struct sockaddr_storage ss;
                socklen_t len = sizeof(ss);
                if (!getsockname(evhttp_bound_socket_get_fd(sock),
                                 (struct sockaddr *)&ss, &len))
                        rt->http_port =
                            ntohs(ss.ss_family == AF_INET6
                                      ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                      : ((struct sockaddr_in *)&ss)->sin_port);
        }
        KBUS_LOG(KBUS_LOG_INFO, "ops",
                 "serving /healthz, /readyz, /metrics on %s port %d", host,
                 rt->http_port);
        return 0;
}

void kbus__ops_stop(kbus_runtime *rt) {
        if (rt->http) {
                evhttp_free(rt->http);
                rt->http = NULL;
        }
}

int kbus_runtime_http_port(const kbus_runtime *rt) {
        return rt->http ? rt->http_port : -1;
}
