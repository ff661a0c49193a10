/*
 * The runtime: one event_base, one producer, a reply consumer and one
 * consumer per consumer group, all bridged into libevent (kafka.c).  This
 * file holds the lifecycle: new, start, run, shutdown (on request or on
 * SIGINT/SIGTERM: stop fetching, finish what is in flight within the grace
 * period; a second signal leaves at once) and free.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

/* Delivery reports and producer errors.  Each report served means a
 * message left the producer: a publisher waiting for room may go on. */
static void producer_drain(void *owner) {
        kbus_runtime *rt = owner;
        int served = 0, n;
        while ((n = rd_kafka_poll(rt->producer, 0)) > 0)
                served += n;
        if (served)
                kbus__room_progress(rt);
}

static void producer_error(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque) {
        KBUS_LOG(err == RD_KAFKA_RESP_ERR__FATAL ? KBUS_LOG_ERROR
                                                 : KBUS_LOG_WARN,
                 "kafka", "%s: %s", rd_kafka_name(rk), reason);
}

/* ---- lifecycle ---- */

static void maybe_finish_shutdown(kbus_runtime *rt);

/* A record or a call ended: the runtime may be done shutting down, and a
 * call's end leaves room for another. */
static void on_quiet(kbus_runtime *rt) {
        kbus__room_check(rt);
        maybe_finish_shutdown(rt);
}

int kbus_runtime_new(kbus_runtime **rtp, kbus_config **confp,
                     struct event_base *base, char *errstr, size_t errlen) {
        char rkerr[512];
        rd_kafka_conf_t *pconf = NULL;
        kbus_config *conf = *confp;
        kbus_runtime *rt;
        int rc;

        rc = kbus__config_apply_env(conf, errstr, errlen);
        if (rc)
                return rc;
        rt = kbus__calloc(1, sizeof(*rt));
        if (!rt)
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "out of memory");
        rt->conf = conf;
        rt->quiet = on_quiet;
        rt->stop = kbus_runtime_shutdown;
        kbus__bridge_clear(&rt->producer_bridge);
        kbus__bridge_clear(&rt->reply_bridge);
        rt->room.tail = &rt->room.head;
        kbus__log_min_level = conf->log_level;
        snprintf(rt->ce_source, sizeof(rt->ce_source), "/%s", conf->name);

        if (base) {
                rt->base = base;
        } else {
                rt->base = event_base_new();
                rt->own_base = true;
                if (!rt->base) {
                        rc = kbus__err(errstr, errlen, KBUS_INTERNAL,
                                       "cannot create an event_base");
                        goto fail;
                }
        }

        rc = kbus__records_init(rt);
        if (rc) {
                kbus__err(errstr, errlen, rc, "out of memory");
                goto fail;
        }

        if (!strcmp(conf->bootstrap, "embedded")) {
                rc = kbus_broker_new(&rt->broker, conf->broker_count, errstr,
                                     errlen);
                if (rc)
                        goto fail;
                rt->bootstrap = kbus__strdup(kbus_broker_bootstrap(rt->broker));
                rt->site.low_latency = conf->low_latency != 0;
        } else {
                rt->bootstrap = kbus__strdup(conf->bootstrap);
                rt->site.low_latency = conf->low_latency == 1;
        }
        rt->site.conf = conf;
        rt->site.bootstrap = rt->bootstrap;
        if (!rt->bootstrap) {
                rc = kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                               "out of memory");
                goto fail;
        }

        rc = kbus__kafka_conf(&rt->site, false, &pconf, errstr, errlen);
        if (rc)
                goto fail;
        rd_kafka_conf_set_dr_msg_cb(pconf, kbus__kafka_delivered);
        rd_kafka_conf_set_error_cb(pconf, producer_error);
        rt->producer =
            rd_kafka_new(RD_KAFKA_PRODUCER, pconf, rkerr, sizeof(rkerr));
        if (!rt->producer) {
                rd_kafka_conf_destroy(pconf);
                rc = kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                               "producer: %s", rkerr);
                goto fail;
        }
        rc = kbus__bridge_init(&rt->producer_bridge, rt->base,
                               rd_kafka_queue_get_main(rt->producer),
                               producer_drain, rt);
        if (rc) {
                kbus__err(errstr, errlen, rc, "cannot bridge the producer");
                goto fail;
        }
        rc = kbus__room_init(rt);
        if (rc) {
                kbus__err(errstr, errlen, rc, "out of memory");
                goto fail;
        }
        rc = kbus__client_init(rt, errstr, errlen);
        if (rc)
                goto fail;
        if (conf->http && (rc = kbus__ops_start(rt, errstr, errlen)))
                goto fail;

        KBUS_LOG(KBUS_LOG_INFO, "runtime",
                 "%s started: bootstrap %s%s, reply topic %s", conf->name,
                 rt->bootstrap, rt->broker ? " (embedded)" : "",
                 rt->reply_topic);
        *confp = NULL;
        *rtp = rt;
        return 0;
fail:
        rt->conf = NULL; /* still the caller's */
        kbus_runtime_free(rt);
        return rc;
}

struct event_base *kbus_runtime_event_base(kbus_runtime *rt) {
        return rt->base;
}

const char *kbus_runtime_bootstrap(const kbus_runtime *rt) {
        return rt->bootstrap;
}

struct rd_kafka_mock_cluster_s *kbus_runtime_mock(kbus_runtime *rt) {
        return rt->broker ? kbus_broker_mock(rt->broker) : NULL;
}

const char *kbus_runtime_reply_topic(const kbus_runtime *rt) {
        return rt->reply_topic;
}

uint64_t kbus_runtime_stat(const kbus_runtime *rt, kbus_stat which) {
        return which < KBUS_STAT__COUNT ? rt->stats[which] : 0;
}

int kbus_runtime_start(kbus_runtime *rt) {
        int rc;
        if (rt->started)
                return 0;
        if (rt->closing)
                return KBUS_FAILED_PRECONDITION;
        rc = kbus__client_start(rt);
        if (!rc)
                rc = kbus__groups_start(rt);
        if (!rc)
                rt->started = true;
        return rc;
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
        kbus_runtime *rt = arg;
        if (rt->closing) {
                /* What is in flight is left for redelivery; nothing more
                 * is waited for, in the loop or when the runtime is freed. */
                KBUS_LOG(KBUS_LOG_WARN, "runtime",
                         "second signal: leaving without waiting");
                rt->hurry = true;
                rt->closed = true;
                event_base_loopexit(rt->base, NULL);
                return;
        }
        KBUS_LOG(KBUS_LOG_INFO, "runtime",
                 "signal %d: shutting down (grace %" PRId64 " ms)", (int)sig,
                 rt->conf->shutdown_grace_ms);
        kbus_runtime_shutdown(rt);
}

int kbus_runtime_run(kbus_runtime *rt) {
        int rc = kbus_runtime_start(rt);
        if (rc)
                return rc;
        if (!rt->sig_int) {
                rt->sig_int = evsignal_new(rt->base, SIGINT, on_signal, rt);
                rt->sig_term = evsignal_new(rt->base, SIGTERM, on_signal, rt);
                if (!rt->sig_int || !rt->sig_term)
                        return KBUS_RESOURCE_EXHAUSTED;
                evsignal_add(rt->sig_int, NULL);
                evsignal_add(rt->sig_term, NULL);
        }
        while (!rt->closed)
                if (event_base_loop(rt->base, EVLOOP_ONCE) == -1)
                        return KBUS_INTERNAL;
        return rt->failure;
}

static void on_grace_expired(evutil_socket_t fd, short what, void *arg) {
        kbus_runtime *rt = arg;
        KBUS_LOG(KBUS_LOG_WARN, "runtime",
                 "grace period over with %zu records and %zu calls in "
                 "flight; they are redelivered or cancelled",
                 rt->records_in_flight, rt->n_waiting);
        rt->closed = true;
        event_base_loopexit(rt->base, NULL);
}

static void maybe_finish_shutdown(kbus_runtime *rt) {
        if (!rt->closing || rt->closed || rt->records_in_flight > 0 ||
            rt->n_waiting > 0)
                return;
        rt->closed = true;
        event_base_loopexit(rt->base, NULL);
}

void kbus_runtime_shutdown(kbus_runtime *rt) {
        if (rt->closing)
                return;
        rt->closing = true;
        kbus__groups_stop_fetching(rt);
        kbus__room_shutdown(rt);
        rt->grace_timer = evtimer_new(rt->base, on_grace_expired, rt);
        if (rt->grace_timer)
                kbus__timer_ms(rt->grace_timer, rt->conf->shutdown_grace_ms);
        maybe_finish_shutdown(rt);
}

int kbus_runtime_flush(kbus_runtime *rt, int timeout_ms) {
        /* rd_kafka_flush polls the producer's queue: delivery callbacks
         * run here, on the caller's thread, as they do on the loop. */
        rd_kafka_resp_err_t err;
        if (!rt->producer)
                return 0;
        err = rd_kafka_flush(rt->producer, timeout_ms);
        /* Reports were served here, not by the loop's drain. */
        kbus__room_progress(rt);
        return err ? KBUS_DEADLINE_EXCEEDED : 0;
}

void kbus_runtime_free(kbus_runtime *rt) {
        if (!rt)
                return;
        rt->closing = rt->closed = true;
        kbus__room_fini(rt); /* CANCELLED: nothing more is published */
        kbus__ops_stop(rt);
        kbus__client_cancel(rt);
        if (rt->producer) {
                /* Deliver what is queued (replies, dead letters: their
                 * reports store offsets; events; one-way requests), then
                 * give up on the rest.  Requests whose call has ended,
                 * cancelled just now included, are not waited for. */
                int64_t end =
                    kbus__now_ms() +
                    (rt->conf && !rt->hurry ? rt->conf->shutdown_grace_ms : 0);
                int left;
                while ((left = rd_kafka_outq_len(rt->producer)) >
                           (int)rt->stale_requests &&
                       kbus__now_ms() < end)
                        rd_kafka_flush(rt->producer, 100);
                if (left > (int)rt->stale_requests)
                        KBUS_LOG(KBUS_LOG_WARN, "runtime",
                                 "%d messages not delivered before shutdown",
                                 left);
                rd_kafka_purge(rt->producer, RD_KAFKA_PURGE_F_QUEUE |
                                                 RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(rt->producer, 0);
        }
        kbus__groups_close(rt);
        kbus__windows_free(rt);
        kbus__client_fini(rt);
        kbus__aggregates_fini(rt);
        kbus__replies_fini(&rt->replies);
        kbus__bridge_fini(&rt->producer_bridge);
        if (rt->producer)
                rd_kafka_destroy(rt->producer);
        if (rt->sig_int)
                event_free(rt->sig_int);
        if (rt->sig_term)
                event_free(rt->sig_term);
        if (rt->grace_timer)
                event_free(rt->grace_timer);
        while (rt->ordering_rules) {
                struct kbus_ordering_rule *r = rt->ordering_rules;
                rt->ordering_rules = r->next;
                kbus__free(r->topic);
                kbus__free(r);
        }
        kbus_broker_free(rt->broker);
        if (rt->own_base && rt->base)
                event_base_free(rt->base);
        kbus__free(rt->bootstrap);
        kbus_config_free(rt->conf);
        kbus__free(rt);
}
