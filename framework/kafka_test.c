/*
 * librdkafka as kbus uses it (framework/kafka.c): the configuration every
 * client gets (kbus's defaults, overridden by the user's properties, a bad
 * property named in the error), and produce on the embedded broker with
 * each delivery report reaching the kbus_dr it was produced with, through
 * the loop bridge.  And the embedded broker's connections send without
 * Nagle's delay.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kafka.h"

static kbus_broker *broker;

static int setup(void **state) {
        char err[256];
        return kbus_broker_new(&broker, 1, err, sizeof(err));
}

static int teardown(void **state) {
        kbus_broker_free(broker);
        return 0;
}

static const char *get(rd_kafka_conf_t *conf, const char *name) {
        static char v[256];
        size_t n = sizeof(v);
        assert_int_equal(rd_kafka_conf_get(conf, name, v, &n),
                         RD_KAFKA_CONF_OK);
        return v;
}

static void test_defaults_then_user_properties(void **state) {
        kbus_config *c;
        kbus_kafka_site site = {0};
        rd_kafka_conf_t *conf;
        char err[256];

        assert_int_equal(kbus_config_new(&c), 0);
        assert_int_equal(
            kbus__props_set(&c->kafka, "socket.nagle.disable", "false"), 0);
        assert_int_equal(kbus__props_set(&c->producer, "linger.ms", "7"), 0);
        site.conf = c;
        site.bootstrap = "127.0.0.1:1";
        site.low_latency = true;

        assert_int_equal(
            kbus__kafka_conf(&site, false, &conf, err, sizeof(err)), 0);
        assert_string_equal(get(conf, "enable.idempotence"), "true");
        assert_string_equal(get(conf, "max.in.flight.requests.per.connection"),
                            "1");
        assert_string_equal(get(conf, "socket.nagle.disable"), "false");
        assert_string_equal(get(conf, "linger.ms"), "7"); /* over low latency */
        assert_string_equal(get(conf, "bootstrap.servers"), "127.0.0.1:1");
        rd_kafka_conf_destroy(conf);

        assert_int_equal(kbus__kafka_conf(&site, true, &conf, err, sizeof(err)),
                         0);
        assert_string_equal(get(conf, "enable.auto.offset.store"), "false");
        assert_string_equal(get(conf, "fetch.wait.max.ms"), "5");
        assert_string_equal(get(conf, "socket.nagle.disable"), "false");
        rd_kafka_conf_destroy(conf);
        kbus_config_free(c);
}

static void test_bad_property_is_named(void **state) {
        kbus_config *c;
        kbus_kafka_site site = {0};
        rd_kafka_conf_t *conf = NULL;
        char err[256];

        assert_int_equal(kbus_config_new(&c), 0);
        assert_int_equal(
            kbus__props_set(&c->consumer, "fetch.wait.max.ms", "soon"), 0);
        site.conf = c;
        site.bootstrap = "127.0.0.1:1";
        assert_int_equal(kbus__kafka_conf(&site, true, &conf, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_null(conf);
        assert_non_null(
            strstr(err, "consumer property fetch.wait.max.ms=soon"));
        /* The producer does not get consumer properties. */
        assert_int_equal(
            kbus__kafka_conf(&site, false, &conf, err, sizeof(err)), 0);
        rd_kafka_conf_destroy(conf);
        kbus_config_free(c);
}

struct report {
        kbus_dr dr;
        int calls;
        rd_kafka_resp_err_t err;
};

static int reports_due;

static void delivered(kbus_dr *dr, const rd_kafka_message_t *m) {
        struct report *r = (struct report *)dr;
        r->calls++;
        r->err = m->err;
        reports_due--;
}

static void drain(void *owner) {
        while (rd_kafka_poll(owner, 0) > 0)
                ;
}

static void test_reports_reach_their_producer(void **state) {
        kbus_config *c;
        kbus_kafka_site site = {0};
        rd_kafka_conf_t *conf;
        struct event_base *base = event_base_new();
        kbus_bridge bridge;
        struct report r[200];
        char err[256], big[2000] = {0};
        rd_kafka_t *rk;
        time_t end;

        assert_int_equal(kbus_config_new(&c), 0);
        assert_int_equal(
            kbus__props_set(&c->producer, "message.max.bytes", "1200"), 0);
        site.conf = c;
        site.bootstrap = kbus_broker_bootstrap(broker);
        site.low_latency = true;
        assert_int_equal(
            kbus__kafka_conf(&site, false, &conf, err, sizeof(err)), 0);
        rd_kafka_conf_set_dr_msg_cb(conf, kbus__kafka_delivered);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        assert_non_null(rk);
        kbus__bridge_clear(&bridge);
        assert_int_equal(kbus__bridge_init(&bridge, base,
                                           rd_kafka_queue_get_main(rk), drain,
                                           rk),
                         0);
        for (int i = 0; i < 200; i++) {
                char *v = strdup("value");
                r[i] = (struct report){.dr.delivered = delivered};
                assert_int_equal(
                    kbus__kafka_produce(rk, "kafka.test", RD_KAFKA_PARTITION_UA,
                                        "k", 1, v, 5, rd_kafka_headers_new(1),
                                        &r[i].dr),
                    0);
                reports_due++;
        }
        /* Too large: refused at once, the value and headers freed here. */
        {
                void *v = malloc(sizeof(big));
                memcpy(v, big, sizeof(big));
                assert_int_equal(
                    kbus__kafka_produce(rk, "kafka.test", RD_KAFKA_PARTITION_UA,
                                        NULL, 0, v, sizeof(big),
                                        rd_kafka_headers_new(1), NULL),
                    KBUS_OUT_OF_RANGE);
        }
        /* Only the loop, woken by the bridge, delivers the reports. */
        end = time(NULL) + 30;
        while (reports_due > 0 && time(NULL) < end) {
                struct timeval tick = {0, 50000};
                event_base_loopexit(base, &tick);
                event_base_dispatch(base);
        }
        assert_int_equal(reports_due, 0);
        for (int i = 0; i < 200; i++) {
                assert_int_equal(r[i].calls, 1);
                assert_int_equal(r[i].err, 0);
        }
        kbus__bridge_fini(&bridge);
        rd_kafka_destroy(rk);
        event_base_free(base);
        kbus_config_free(c);
}

/* The broker's end of the connection \p c made to it (accepted by the
 * mock cluster's thread, so it may take a moment), or -1. */
static int accepted_end(int c) {
        struct sockaddr_in mine, peer;
        socklen_t len = sizeof(mine);
        assert_int_equal(getsockname(c, (struct sockaddr *)&mine, &len), 0);
        for (int tries = 0; tries < 500; tries++) {
                DIR *d = opendir("/proc/self/fd");
                struct dirent *de;
                assert_non_null(d);
                while ((de = readdir(d))) {
                        int fd = atoi(de->d_name);
                        len = sizeof(peer);
                        if (fd != c &&
                            !getpeername(fd, (struct sockaddr *)&peer, &len) &&
                            peer.sin_family == AF_INET &&
                            peer.sin_port == mine.sin_port &&
                            peer.sin_addr.s_addr == mine.sin_addr.s_addr) {
                                closedir(d);
                                return fd;
                        }
                }
                closedir(d);
                usleep(10000);
        }
        return -1;
}

/* Connects to the embedded broker and says whether its end of the
 * connection has TCP_NODELAY. */
static int broker_end_no_delay(void) {
        const char *bs = kbus_broker_bootstrap(broker);
        struct sockaddr_in sin = {.sin_family = AF_INET};
        int c = socket(AF_INET, SOCK_STREAM, 0), fd, on = 0;
        socklen_t len = sizeof(on);
        assert_true(c >= 0);
        sin.sin_port = htons((uint16_t)atoi(strchr(bs, ':') + 1));
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
        fd = accepted_end(c);
        assert_true(fd >= 0);
        assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len),
                         0);
        close(c);
        return on;
}

/* Without it, a response written before the client acknowledged the one
 * before waits out the client's delayed acknowledgement (40 ms). */
static void test_embedded_broker_sends_without_delay(void **state) {
        assert_true(broker_end_no_delay());
        /* And after the brokers were taken down and brought up again
         * (kbus broker's SIGUSR1 and SIGUSR2, the fault tests). */
        assert_int_equal(kbus_broker_set_up(broker, -1, false), 0);
        assert_int_equal(kbus_broker_set_up(broker, -1, true), 0);
        assert_true(broker_end_no_delay());
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults_then_user_properties),
            cmocka_unit_test(test_bad_property_is_named),
            cmocka_unit_test(test_reports_reach_their_producer),
            cmocka_unit_test(test_embedded_broker_sends_without_delay),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
