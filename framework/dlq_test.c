/*
 * Dead letters (framework/dlq.c), on the embedded broker: a dead letter
 * keeps the record's key, value and headers and adds where it came from
 * and why; one too large for the producer goes without its value; one that
 * cannot be written is given up, once, when its owner says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dlq.h"
#include "wire.h"

#include <librdkafka/rdkafka_mock.h>

static kbus_broker *broker;
static rd_kafka_t *producer;
static struct event_base *base;
static kbus_bridge bridge;
static rd_kafka_t *consumer;

static void drain(void *owner) {
        while (rd_kafka_poll(owner, 0) > 0)
                ;
}

static int setup(void **state) {
        char err[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (kbus_broker_new(&broker, 1, err, sizeof(err)))
                return -1;
        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(broker), NULL, 0);
        rd_kafka_conf_set(conf, "message.max.bytes", "3000", NULL, 0);
        rd_kafka_conf_set(conf, "linger.ms", "1", NULL, 0);
        /* A dead letter that cannot be written fails within the test. */
        rd_kafka_conf_set(conf, "message.timeout.ms", "2000", NULL, 0);
        rd_kafka_conf_set_dr_msg_cb(conf, kbus__kafka_delivered);
        producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers",
                          kbus_broker_bootstrap(broker), NULL, 0);
        rd_kafka_conf_set(conf, "group.id", "dlq-test", NULL, 0);
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", NULL, 0);
        consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        base = event_base_new();
        kbus__bridge_clear(&bridge);
        return !producer || !consumer ||
               kbus__bridge_init(&bridge, base,
                                 rd_kafka_queue_get_main(producer), drain,
                                 producer);
}

static int teardown(void **state) {
        kbus__bridge_fini(&bridge);
        rd_kafka_destroy(producer);
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
        event_base_free(base);
        kbus_broker_free(broker);
        return 0;
}

/* The first record of \p topic, as a consumer gets it.  The consumer
 * outlives every message it gave: librdkafka's destroy waits for them. */
static rd_kafka_message_t *first(const char *topic) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_message_t *m = NULL;
        time_t end = time(NULL) + 30;

        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, 0)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        assert_int_equal(rd_kafka_assign(consumer, l), 0);
        rd_kafka_topic_partition_list_destroy(l);
        while (!m && time(NULL) < end) {
                m = rd_kafka_consumer_poll(consumer, 100);
                if (m && m->err) {
                        rd_kafka_message_destroy(m);
                        m = NULL;
                }
        }
        assert_non_null(m);
        rd_kafka_assign(consumer, NULL);
        return m;
}

/* Writes a record with a key, \p value_len bytes and a header of its own
 * to \p topic, and returns it as a consumer gets it. */
static rd_kafka_message_t *record(const char *topic, size_t value_len) {
        char *value = malloc(value_len);
        memset(value, 'v', value_len);
        rd_kafka_mock_topic_create(kbus_broker_mock(broker), topic, 1, 1);
        assert_int_equal(
            rd_kafka_producev(
                producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("the-key", 7),
                RD_KAFKA_V_VALUE(value, value_len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                RD_KAFKA_V_HEADER("app-header", "kept", -1), RD_KAFKA_V_END),
            0);
        assert_int_equal(rd_kafka_flush(producer, 10000), 0);
        return first(topic);
}

/* Runs the loop for a moment. */
static void tick(void) {
        struct timeval t = {0, 50000};
        event_base_loopexit(base, &t);
        event_base_dispatch(base);
}

struct owner {
        kbus_dead_letter dl;
        int done_calls;
        bool written;
        bool keep_trying;
};

static void done(kbus_dead_letter *dl, bool written) {
        struct owner *o = (struct owner *)dl;
        o->done_calls++;
        o->written = written;
}

static bool keep_trying(kbus_dead_letter *dl) {
        return ((struct owner *)dl)->keep_trying;
}

static void send_and_wait(struct owner *o, const rd_kafka_message_t *m,
                          const char *reason) {
        time_t end = time(NULL) + 30;
        o->dl.producer = producer;
        o->dl.base = base;
        o->dl.msg = m;
        o->dl.group = "the-group";
        o->dl.suffix = ".DLT";
        o->dl.attempts = 3;
        o->dl.error_class = "kbus.HandlerError";
        o->dl.done = done;
        o->dl.keep_trying = keep_trying;
        kbus__dead_letter_send(&o->dl, reason);
        while (!o->done_calls && time(NULL) < end)
                tick();
        assert_int_equal(o->done_calls, 1);
}

static const void *header(rd_kafka_message_t *m, const char *name,
                          size_t *len) {
        rd_kafka_headers_t *h;
        const void *v = NULL;
        if (rd_kafka_message_headers(m, &h) ||
            rd_kafka_header_get_last(h, name, &v, len))
                return NULL;
        return v;
}

static uint64_t be(const void *p, size_t n) {
        const uint8_t *b = p;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
                v = v << 8 | b[i];
        return v;
}

static void test_headers_and_original_kept(void **state) {
        rd_kafka_message_t *src = record("dlq.kept", 100), *dead;
        struct owner o = {.keep_trying = true};
        const void *v;
        size_t n;

        send_and_wait(&o, src, "UNAVAILABLE: down (attempt 3)");
        assert_true(o.written);
        dead = first("dlq.kept.DLT");
        assert_int_equal(dead->key_len, 7);
        assert_memory_equal(dead->key, "the-key", 7);
        assert_int_equal(dead->len, 100);
        assert_non_null(v = header(dead, "app-header", &n));
        assert_memory_equal(v, "kept", 4);
        assert_non_null(v = header(dead, KBUS_H_DLT_TOPIC, &n));
        assert_memory_equal(v, "dlq.kept", n);
        assert_non_null(v = header(dead, KBUS_H_DLT_PARTITION, &n));
        assert_int_equal(n, 4);
        assert_int_equal(be(v, 4), 0);
        assert_non_null(v = header(dead, KBUS_H_DLT_OFFSET, &n));
        assert_int_equal(n, 8);
        assert_int_equal(be(v, 8), (uint64_t)src->offset);
        assert_non_null(v = header(dead, KBUS_H_DLT_TIMESTAMP, &n));
        assert_int_equal(n, 8);
        assert_non_null(v = header(dead, KBUS_H_DLT_GROUP, &n));
        assert_memory_equal(v, "the-group", n);
        assert_non_null(v = header(dead, KBUS_H_DLT_FQCN, &n));
        assert_memory_equal(v, "kbus.HandlerError", n);
        assert_non_null(v = header(dead, KBUS_H_DLT_MESSAGE, &n));
        assert_memory_equal(v, "UNAVAILABLE: down (attempt 3)", n);
        assert_non_null(v = header(dead, KBUS_H_ATTEMPTS, &n));
        assert_memory_equal(v, "3", n);
        assert_null(header(dead, KBUS_H_DLT_VALUE_DROPPED, &n));
        kbus__dead_letter_fini(&o.dl);
        rd_kafka_message_destroy(dead);
        rd_kafka_message_destroy(src);
}

static void test_too_large_goes_without_value(void **state) {
        /* Written by a producer allowed more; too large for ours. */
        rd_kafka_message_t *src = record("dlq.large", 2900), *dead;
        struct owner o = {.keep_trying = true};
        const void *v;
        size_t n;

        send_and_wait(&o, src, "too big");
        assert_true(o.written);
        dead = first("dlq.large.DLT");
        assert_int_equal(dead->len, 0);
        assert_non_null(v = header(dead, KBUS_H_DLT_VALUE_DROPPED, &n));
        assert_memory_equal(v, "2900", n);
        kbus__dead_letter_fini(&o.dl);
        rd_kafka_message_destroy(dead);
        rd_kafka_message_destroy(src);
}

static void test_given_up_once_when_told(void **state) {
        rd_kafka_message_t *src = record("dlq.down", 10);
        rd_kafka_mock_cluster_t *mock = kbus_broker_mock(broker);
        struct owner o = {.keep_trying = true};
        time_t end = time(NULL) + 30;

        /* Every produce to the dead-letter topic fails for a while. */
        rd_kafka_mock_topic_create(mock, "dlq.down.DLT", 1, 1);
        rd_kafka_mock_topic_set_error(
            mock, "dlq.down.DLT", RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        o.dl.producer = producer;
        o.dl.base = base;
        o.dl.msg = src;
        o.dl.group = "g";
        o.dl.suffix = ".DLT";
        o.dl.attempts = 1;
        o.dl.error_class = "kbus.DecodeError";
        o.dl.done = done;
        o.dl.keep_trying = keep_trying;
        kbus__dead_letter_send(&o.dl, "bad");
        /* It keeps trying while told to, and tells nobody. */
        while (!o.dl.timer && time(NULL) < end)
                tick();
        assert_non_null(o.dl.timer);
        assert_int_equal(o.done_calls, 0);
        o.keep_trying = false;
        while (!o.done_calls && time(NULL) < end)
                tick();
        assert_int_equal(o.done_calls, 1);
        assert_false(o.written);
        rd_kafka_mock_topic_set_error(mock, "dlq.down.DLT",
                                      RD_KAFKA_RESP_ERR_NO_ERROR);
        kbus__dead_letter_fini(&o.dl);
        rd_kafka_message_destroy(src);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_headers_and_original_kept),
            cmocka_unit_test(test_too_large_goes_without_value),
            cmocka_unit_test(test_given_up_once_when_told),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
