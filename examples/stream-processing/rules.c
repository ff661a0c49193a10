/*
 * rules: the pipeline's second stage.  Subscribes to
 * iot.v1.EnrichedReading and publishes an iot.v1.Alert when a device's
 * temperature has been above THRESHOLD for COUNT readings in a row; the
 * rule fires once per such run and arms again when a reading is at or
 * below the threshold.
 *
 *   rules [-c FILE] [-t THRESHOLD] [-n COUNT]
 *
 * The rule needs per-device state (the length of the current hot run).
 * That state is correct only if each device's readings arrive in order
 * and one at a time, which kbus guarantees for records of one key (the
 * device id) in one consumer group.  Running several rules processes in
 * one group shares the devices out among them, each device to one.  The
 * state lives in memory, so a restarted rules process starts every run at
 * zero.
 *
 * An alert is published as part of handling the reading that fired it:
 * the reading is acknowledged only once the alert is delivered, and if it
 * is not, the runtime retries the reading, which publishes the alert
 * again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot.kbus.h"
#include "stream.h"
#include "table.h"

#define PROG "rules"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-t THRESHOLD] [-n COUNT]\n"
                "Publishes iot.v1.Alert when a device reads above THRESHOLD "
                "(default 40) for\nCOUNT (default 3) readings in a row; "
                "prints each alert on stdout.  Runs until\nSIGINT or "
                "SIGTERM.\n\n"
                "  -c FILE       kbus configuration file (libconfig format)\n"
                "  -t THRESHOLD  degrees Celsius\n"
                "  -n COUNT      consecutive readings, at least 1\n"
                "  -h, --help    this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

struct device {
        uint32_t hot; /* readings above the threshold in a row */
        uint64_t last_seq;
        uint64_t alert_seq; /* the reading that fired the last alert */
};

struct rules {
        double threshold;
        uint32_t count;
        char rule[96];
        table *devices; /* id -> struct device */
};

static struct device *device_get(struct rules *rs, const char *id) {
        struct device *d = table_get(rs->devices, id);
        if (!d && (d = calloc(1, sizeof(*d))))
                table_put(rs->devices, id, d);
        return d;
}

/* The alert reading \p r fires, as part of handling it. */
static int publish_alert(kbus_call *call, struct rules *rs,
                         const Iot__V1__EnrichedReading *r) {
        Iot__V1__Alert a = IOT__V1__ALERT__INIT;
        a.device_id = r->device_id;
        a.site = r->site;
        a.seq = r->seq;
        a.temperature = r->temperature;
        a.consecutive = rs->count;
        a.rule = rs->rule;
        return iot_v1_alert_publish_from(call, &a);
}

static void on_reading(kbus_call *call, const Iot__V1__EnrichedReading *r,
                       void *arg) {
        struct rules *rs = arg;
        struct device *d = device_get(rs, r->device_id);
        int rc;

        if (!d) {
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        /* A reading seen before (retried, or redelivered after a
         * rebalance) must not count twice towards a run.  If it fired an
         * alert, that alert may not have been delivered: publish it
         * again. */
        if (r->seq != 0 && r->seq <= d->last_seq) {
                rc = r->seq == d->alert_seq ? publish_alert(call, rs, r) : 0;
                if (rc)
                        kbus_call_fail(call, (kbus_status)rc,
                                       "cannot publish Alert");
                else
                        kbus_call_ack(call);
                return;
        }
        if (r->temperature <= rs->threshold) {
                d->hot = 0;
        } else if (++d->hot == rs->count) {
                rc = publish_alert(call, rs, r);
                if (rc) {
                        /* Retried later (RESOURCE_EXHAUSTED is retriable),
                         * so undo this reading's effect on the run. */
                        d->hot--;
                        kbus_call_fail(call, (kbus_status)rc,
                                       "cannot publish Alert");
                        return;
                }
                d->alert_seq = r->seq;
                printf("ALERT %s site=%s seq=%" PRIu64 " temperature=%.1f\n",
                       r->device_id, r->site, r->seq, r->temperature);
                fflush(stdout);
        }
        d->last_seq = r->seq;
        kbus_call_ack(call);
}

int main(int argc, char **argv) {
        static struct rules rs = {.threshold = 40, .count = 3};
        const char *file = NULL;
        char err[512];
        kbus_runtime *rt;
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
                        rs.threshold =
                            stream_parse_number(PROG, "-t", argv[++i], -1e9);
                } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
                        rs.count = (uint32_t)stream_parse_number(PROG, "-n",
                                                                 argv[++i], 1);
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        snprintf(rs.rule, sizeof(rs.rule),
                 "temperature > %g for %" PRIu32 " readings", rs.threshold,
                 rs.count);
        if (kbus_runtime_new_from_file(&rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                return 1;
        }
        rs.devices = table_new();
        rc = iot_v1_enriched_reading_subscribe(rt, NULL, on_reading, &rs);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        kbus_runtime_free(rt);
        table_free(rs.devices, free);
        return rc ? 1 : 0;
}
