/*
 * The embedded broker: librdkafka's mock cluster, a real Kafka-protocol
 * server on loopback held in memory.  It needs an rd_kafka_t to live in;
 * that handle does nothing else.  Its limits are in docs/BROKER.md.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kbus_int.h"

struct kbus_broker {
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mock;
};

/* True if \p port is one of "host:port,host:port,...". */
static bool bootstrap_port(const char *bootstraps, unsigned port) {
        for (const char *p = bootstraps; p && *p;) {
                const char *colon = strchr(p, ':');
                if (!colon)
                        return false;
                if (strtoul(colon + 1, NULL, 10) == port)
                        return true;
                p = strchr(colon, ',');
                p = p ? p + 1 : NULL;
        }
        return false;
}

/* Makes the mock cluster's listening sockets send without Nagle's delay,
 * and so every connection they accept (Linux copies TCP_NODELAY to it).
 * librdkafka 2.0.2 leaves Nagle on there: a response written while the
 * client had not yet acknowledged the one before waited for the client's
 * delayed acknowledgement, 40 ms, a few times a minute (kbus-bench saw a
 * restore of 50,000 records take 65-95 ms instead of 25, one round in four,
 * on both of its sides).  librdkafka offers no hook for the mock's sockets,
 * so they are found among the process's descriptors by their ports. */
static void listeners_no_delay(const char *bootstraps) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        if (!d)
                return; /* it still works, with the delays */
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name), listening = 0, one = 1;
                socklen_t len = sizeof(listening);
                struct sockaddr_in sin;
                socklen_t sin_len = sizeof(sin);
                if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
                    fd == dirfd(d) ||
                    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
                               &len) ||
                    !listening ||
                    getsockname(fd, (struct sockaddr *)&sin, &sin_len) ||
                    sin.sin_family != AF_INET ||
                    !bootstrap_port(bootstraps, ntohs(sin.sin_port)))
                        continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        closedir(d);
}

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
        listeners_no_delay(rd_kafka_mock_cluster_bootstraps(br->mock));
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

int kbus_broker_set_up(kbus_broker *br, int32_t broker_id, int up) {
        rd_kafka_resp_err_t err =
            up ? rd_kafka_mock_broker_set_up(br->mock, broker_id)
               : rd_kafka_mock_broker_set_down(br->mock, broker_id);
        if (err)
                return KBUS_INVALID_ARGUMENT;
        /* A broker brought up listens on a new socket. */
        if (up)
                listeners_no_delay(rd_kafka_mock_cluster_bootstraps(br->mock));
        return 0;
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
