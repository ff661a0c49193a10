/*
 * Consumer groups.  Each group of the runtime is one librdkafka consumer
 * bridged into the loop, subscribed to the topics of its routes.  On
 * assignment a partition is created for each assigned topic partition; on
 * revocation what is complete is committed at once, so the next owner
 * starts right after it, and the partition is let go.  Fetched records go
 * to the record engine (record.c), which decides when each starts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core.h"

#include <librdkafka/rdkafka_mock.h>

/* ---- partitions ---- */

static kbus_partition *part_find(kbus_group *g, const char *topic,
                                 int32_t partition) {
        for (kbus_partition *p = g->parts; p; p = p->next)
                if (p->partition == partition && !strcmp(p->topic, topic))
                        return p;
        return NULL;
}

static kbus_partition *part_add(kbus_group *g, const char *topic,
                                int32_t partition) {
        kbus_runtime *rt = g->rt;
        kbus_ordering ordering = (kbus_ordering)rt->conf->ordering;
        int max_in_flight = rt->conf->max_in_flight;
        kbus_partition *p;

        for (struct kbus_ordering_rule *r = rt->ordering_rules; r; r = r->next)
                if (!strcmp(r->topic, topic)) {
                        ordering = r->ordering;
                        if (r->max_in_flight > 0)
                                max_in_flight = r->max_in_flight;
                }
        if (g->one_at_a_time)
                ordering = KBUS_ORDER_PARTITION;
        p = kbus__partition_new(g, g->rk, g->id, topic, partition, ordering,
                                max_in_flight,
                                (uint64_t)rt->conf->max_uncommitted);
        if (p) {
                p->next = g->parts;
                g->parts = p;
        }
        return p;
}

/* Takes \p p out of the group and lets its records go. */
static void part_revoke(kbus_partition *p) {
        kbus_group *g = p->g;
        for (kbus_partition **pp = &g->parts; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        if (g->state_ops)
                g->state_ops->revoked(g->state, p);
        kbus__records_revoke(p);
}

/* ---- librdkafka's callbacks ---- */

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque) {
        kbus_group *g = opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                KBUS_LOG(KBUS_LOG_INFO, "consumer",
                         "group %s: %d partitions assigned", g->id, parts->cnt);
                g->joined = true;
                rd_kafka_assign(rk, parts);
                if (g->rt->closing)
                        rd_kafka_pause_partitions(rk, parts);
                /* After the assign, so that a partition whose state is
                 * being restored can be paused meanwhile. */
                for (int i = 0; i < parts->cnt; i++) {
                        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
                        kbus_partition *p;
                        if (part_find(g, tp->topic, tp->partition))
                                continue;
                        if (!(p = part_add(g, tp->topic, tp->partition)))
                                KBUS_LOG(KBUS_LOG_ERROR, "consumer",
                                         "out of memory on assignment");
                        else if (g->state_ops)
                                g->state_ops->assigned(g->state, p);
                }
                return;
        }
        /* Revoked or lost: store what is complete and commit it now, so the
         * next owner starts right after it, then forget the partitions.
         * Records still in handlers end without storing.  (When the
         * runtime closes, librdkafka's own close commits them, without
         * waiting forever for a broker that may be gone.) */
        bool commit = !rd_kafka_assignment_lost(rk) && !g->rt->closed;
        /* What handlers wrote first: their replies, events and table
         * changes land before the next owner starts (a table's next owner
         * restores from the changelog), and the records they end are
         * committed with the rest.  Bounded, like the commit itself. */
        if (commit && rd_kafka_outq_len(g->rt->producer) > 0)
                rd_kafka_flush(g->rt->producer, 5000);
        for (kbus_partition *p = g->parts; p; p = p->next)
                kbus__partition_flush(p);
        if (commit) {
                rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
                if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
                        KBUS_LOG(KBUS_LOG_WARN, "consumer",
                                 "group %s: commit on revoke: %s", g->id,
                                 rd_kafka_err2str(cerr));
        }
        for (int i = 0; i < parts->cnt; i++) {
                kbus_partition *p = part_find(g, parts->elems[i].topic,
                                              parts->elems[i].partition);
                if (p)
                        part_revoke(p);
        }
        KBUS_LOG(KBUS_LOG_INFO, "consumer", "group %s: %d partitions %s", g->id,
                 parts->cnt, rd_kafka_assignment_lost(rk) ? "lost" : "revoked");
        rd_kafka_assign(rk, NULL);
}

static void group_error(rd_kafka_t *rk, int err, const char *reason,
                        void *opaque) {
        KBUS_LOG(err == RD_KAFKA_RESP_ERR__FATAL ? KBUS_LOG_ERROR
                                                 : KBUS_LOG_WARN,
                 "kafka", "%s: %s", rd_kafka_name(rk), reason);
}

/* librdkafka's statistics carry each partition's committed offset: the
 * consumer lag of a partition that has had no record since this process
 * started is counted from there (ops.c), not from the partition's start. */
static const char *stat_str(json_t *obj, const char *name) {
        const char *v = json_string_value(json_object_get(obj, name));
        return v && *v ? v : "none";
}

/* A group that has not joined after a while says where librdkafka's side of
 * the join is, every 10 s: a service that never becomes ready otherwise
 * says nothing at all. */
static void join_overdue(kbus_group *g, json_t *root) {
        json_t *cg = json_object_get(root, "cgrp");
        int64_t now = kbus__now_ms();
        if (g->joined || now < g->join_warn_ms)
                return;
        if (g->join_warn_ms)
                KBUS_LOG(KBUS_LOG_WARN, "consumer",
                         "group %s: not joined yet (group state %s, join "
                         "state %s, %d rebalances, last: %s)",
                         g->id, stat_str(cg, "state"),
                         stat_str(cg, "join_state"),
                         (int)json_integer_value(
                             json_object_get(cg, "rebalance_cnt")),
                         stat_str(cg, "rebalance_reason"));
        g->join_warn_ms = now + 10000;
}

static int group_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
        kbus_group *g = opaque;
        json_t *root = json_loadb(json, len, 0, NULL);
        json_t *topics = json_object_get(root, "topics");
        join_overdue(g, root);
        for (kbus_partition *p = g->parts; p && topics; p = p->next) {
                char key[16];
                json_t *parts = json_object_get(
                    json_object_get(topics, p->topic), "partitions");
                json_t *c;
                snprintf(key, sizeof(key), "%" PRId32, p->partition);
                c = json_object_get(json_object_get(parts, key),
                                    "committed_offset");
                if (json_is_integer(c))
                        p->committed = json_integer_value(c) >= 0
                                           ? json_integer_value(c)
                                           : KBUS_COMMITTED_NONE;
        }
        json_decref(root);
        return 0; /* librdkafka frees json */
}

static void group_handle(kbus_group *g, rd_kafka_message_t *m) {
        kbus_partition *p;
        if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        KBUS_LOG(
                            KBUS_LOG_WARN, "consumer", "group %s: %s%s%s",
                            g->id, m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                            m->rkt ? ": " : "", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return;
        }
        /* Each partition holds a handle on its topic, and librdkafka puts
         * that same topic object in the records it fetches: comparing
         * pointers finds the partition without comparing names. */
        for (p = g->parts; p; p = p->next)
                if (p->rkt == m->rkt && p->partition == m->partition)
                        break;
        if (!p)
                p = part_find(g, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p) {
                /* Fetched just before a revoke: its new owner reads it. */
                rd_kafka_message_destroy(m);
                return;
        }
        kbus__records_fetched(p, m);
}

static void group_drain(void *owner) {
        kbus_group *g = owner;
        rd_kafka_message_t *m;
        int n = 0;
        while ((m = rd_kafka_consumer_poll(g->rk, 0))) {
                group_handle(g, m);
                /* Let other events run; come back without a new wake-up. */
                if (++n == 10000) {
                        event_active(g->bridge.ev, EV_READ, 0);
                        break;
                }
        }
}

/* ---- groups ---- */

static void group_free(kbus_group *g) {
        bool closed =
            g->rk &&
            kbus__consumer_close(
                g->rk, g->rt->hurry ? 0 : g->rt->conf->shutdown_grace_ms,
                g->id);
        kbus__bridge_fini(&g->bridge);
        if (g->rk)
                kbus__consumer_destroy(g->rk, closed);
        if (g->state_ops)
                g->state_ops->free(g->state);
        while (g->routes) {
                kbus_route *r = g->routes;
                g->routes = r->next;
                kbus__free(r->topic);
                kbus__free(r->handlers);
                kbus__free(r);
        }
        kbus__free(g->id);
        kbus__free(g);
}

static kbus_group *group_new(kbus_runtime *rt, const char *id) {
        char rkerr[512], err[512];
        rd_kafka_conf_t *conf = NULL;
        kbus_group *g = kbus__calloc(1, sizeof(*g));

        if (!g)
                return NULL;
        g->rt = rt;
        kbus__bridge_clear(&g->bridge);
        if (!(g->id = kbus__strdup(id)))
                goto fail;
        if (kbus__kafka_conf(&rt->site, true, &conf, err, sizeof(err))) {
                KBUS_LOG(KBUS_LOG_ERROR, "consumer", "group %s: %s", id, err);
                goto fail;
        }
        rd_kafka_conf_set(conf, "group.id", id, NULL, 0);
        {
                /* Statistics every second unless the user chose. */
                char v[32];
                size_t vlen = sizeof(v);
                if (rd_kafka_conf_get(conf, "statistics.interval.ms", v,
                                      &vlen) == RD_KAFKA_CONF_OK &&
                    !strcmp(v, "0"))
                        rd_kafka_conf_set(conf, "statistics.interval.ms",
                                          "1000", NULL, 0);
        }
        rd_kafka_conf_set_opaque(conf, g);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance);
        rd_kafka_conf_set_error_cb(conf, group_error);
        rd_kafka_conf_set_stats_cb(conf, group_stats);
        g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rkerr, sizeof(rkerr));
        if (!g->rk) {
                rd_kafka_conf_destroy(conf);
                KBUS_LOG(KBUS_LOG_ERROR, "consumer", "group %s: %s", id, rkerr);
                goto fail;
        }
        rd_kafka_poll_set_consumer(g->rk);
        if (kbus__bridge_init(&g->bridge, rt->base,
                              rd_kafka_queue_get_consumer(g->rk), group_drain,
                              g))
                goto fail;
        g->next = rt->groups;
        rt->groups = g;
        return g;
fail:
        group_free(g);
        return NULL;
}

static int group_subscribe(kbus_group *g) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(4);
        rd_kafka_resp_err_t err;
        for (kbus_route *r = g->routes; r; r = r->next)
                if (!rd_kafka_topic_partition_list_find(l, r->topic,
                                                        RD_KAFKA_PARTITION_UA))
                        rd_kafka_topic_partition_list_add(
                            l, r->topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(g->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err) {
                KBUS_LOG(KBUS_LOG_ERROR, "consumer", "group %s: subscribe: %s",
                         g->id, rd_kafka_err2str(err));
                return KBUS_INTERNAL;
        }
        g->subscribed = true;
        return 0;
}

kbus_group *kbus__group_get(kbus_runtime *rt, const char *group_id) {
        kbus_group *g;
        for (g = rt->groups; g; g = g->next)
                if (!strcmp(g->id, group_id))
                        return g;
        return group_new(rt, group_id);
}

int kbus__group_route(kbus_runtime *rt, const char *group_id, kbus_route *r) {
        kbus_group *g;
        if (rt->closing)
                return KBUS_FAILED_PRECONDITION;
        if (!(g = kbus__group_get(rt, group_id)))
                return KBUS_INTERNAL;
        for (kbus_route *o = g->routes; o; o = o->next)
                if (!strcmp(o->topic, r->topic) && (o->ev || r->ev))
                        return KBUS_ALREADY_EXISTS;
        /* Create the topic now, so a subscriber does not wait for a
         * metadata refresh to see its first record. */
        if (rt->broker)
                rd_kafka_mock_topic_create(kbus_broker_mock(rt->broker),
                                           r->topic,
                                           rt->conf->broker_partitions, 1);
        r->next = g->routes;
        g->routes = r;
        g->subscribed = false;
        return rt->started ? group_subscribe(g) : 0;
}

int kbus__groups_start(kbus_runtime *rt) {
        for (kbus_group *g = rt->groups; g; g = g->next) {
                int rc = 0;
                if (g->state_ops)
                        rc = g->state_ops->start(g->state);
                if (!rc && !g->subscribed)
                        rc = group_subscribe(g);
                if (rc)
                        return rc;
        }
        return 0;
}

void kbus__groups_stop_fetching(kbus_runtime *rt) {
        for (kbus_group *g = rt->groups; g; g = g->next)
                for (kbus_partition *p = g->parts; p; p = p->next)
                        kbus__partition_pause(p, true);
}

void kbus__groups_close(kbus_runtime *rt) {
        kbus_group *g;
        /* Records not yet in a handler, then those still in one, end
         * unstored: they are redelivered later. */
        for (g = rt->groups; g; g = g->next)
                while (g->parts)
                        part_revoke(g->parts);
        kbus__records_close(rt);
        while ((g = rt->groups)) {
                rt->groups = g->next;
                group_free(g);
        }
}

int kbus_runtime_set_ordering(kbus_runtime *rt, const char *topic,
                              kbus_ordering ordering, int max_in_flight) {
        struct kbus_ordering_rule *r;
        if (!topic || max_in_flight < 0 ||
            (ordering != KBUS_ORDER_KEY && ordering != KBUS_ORDER_PARTITION))
                return KBUS_INVALID_ARGUMENT;
        r = kbus__calloc(1, sizeof(*r));
        if (!r || !(r->topic = kbus__strdup(topic))) {
                kbus__free(r);
                return KBUS_RESOURCE_EXHAUSTED;
        }
        r->ordering = ordering;
        r->max_in_flight = max_in_flight;
        r->next = rt->ordering_rules;
        rt->ordering_rules = r;
        return 0;
}
