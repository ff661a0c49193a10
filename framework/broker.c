/*
 * The embedded broker: librdkafka's mock cluster, a real Kafka-protocol
 * server on loopback held in memory.  It needs an rd_kafka_t to live in;
 * that handle does nothing else.  Its limits are in docs/BROKER.md.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kbus_int.h"

struct kbus_broker {
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mock;
};

int kbus_broker_new(kbus_broker **brp, int n_brokers, char *errstr,
                    size_t errlen) {
        char rkerr[256];
        rd_kafka_conf_t *conf;
        kbus_broker *br;

        if (n_brokers < 1 || n_brokers > 64)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "broker count %d out of range 1..64",
                                 n_brokers);
        br = kbus__calloc(1, sizeof(*br));
        if (!br)
                return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                                 "out of memory");
        conf = rd_kafka_conf_new();
        /* The host handle never connects anywhere; keep it quiet. */
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
        br->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rkerr, sizeof(rkerr));
        if (!br->rk) {
                rd_kafka_conf_destroy(conf);
                kbus__free(br);
                return kbus__err(errstr, errlen, KBUS_INTERNAL,
                                 "embedded broker: %s", rkerr);
        }
        br->mock = rd_kafka_mock_cluster_new(br->rk, n_brokers);
        if (!br->mock) {
                rd_kafka_destroy(br->rk);
                kbus__free(br);
                return kbus__err(errstr, errlen, KBUS_UNAVAILABLE,
                                 "embedded broker: cannot listen on loopback");
        }
        *brp = br;
        return 0;
}

const char *kbus_broker_bootstrap(const kbus_broker *br) {
        return rd_kafka_mock_cluster_bootstraps(br->mock);
}

int kbus_broker_create_topic(kbus_broker *br, const char *topic,
                             int partitions) {
        rd_kafka_resp_err_t err;
        if (partitions < 1)
                return KBUS_INVALID_ARGUMENT;
        err = rd_kafka_mock_topic_create(br->mock, topic, partitions, 1);
        return err ? KBUS_INTERNAL : 0;
}

struct rd_kafka_mock_cluster_s *kbus_broker_mock(kbus_broker *br) {
        return br->mock;
}

void kbus_broker_free(kbus_broker *br) {
        if (!br)
                return;
        rd_kafka_mock_cluster_destroy(br->mock);
        rd_kafka_destroy(br->rk);
        kbus__free(br);
}
