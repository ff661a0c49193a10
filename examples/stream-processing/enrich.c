/*
 * enrich: the pipeline's first stage.  Subscribes to iot.v1.Reading and
 * publishes each reading again as an iot.v1.EnrichedReading carrying the
 * site of its device, and to iot.v1.DeviceRegistration, which says where
 * each device is.
 *
 *   enrich [-c FILE]
 *
 * The sites are a kbus table, "sites" (changelog "enrich.sites.changelog"),
 * one entry per device: its latest registration.  The two topics are
 * co-partitioned (same partition count, same key), so the registration of
 * a device and its readings come to the same instance, and each instance
 * holds the sites of its own partitions.  A restarted enrich, or one that
 * takes over partitions from another, restores their sites from the
 * changelog before it handles their readings: the registrations, read and
 * committed long ago, are not needed again.  A device with no registration
 * (or whose latest one has an empty site) gets the site "unassigned": a
 * reading is never dropped for want of metadata.
 *
 * Each EnrichedReading is published as part of handling its Reading, which
 * is acknowledged only once the EnrichedReading is delivered; if it is
 * not, the runtime retries the Reading, which publishes it again (with the
 * same ce_id, as after a crash: averager counts it once).  The readings of
 * a partition are handled one at a time, so they leave in the order they
 * came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot.kbus.h"

#define PROG "enrich"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE]\n"
                "Turns iot.v1.Reading into iot.v1.EnrichedReading, adding "
                "each device's site,\nas its latest "
                "iot.v1.DeviceRegistration says (\"unassigned\" when it has "
                "none),\nuntil SIGINT or SIGTERM.  Prints a line for each "
                "registration it takes in.\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

/* A registration replaces the device's entry (one with an empty site
 * removes it): the table holds what a compacted topic would keep. */
static void on_registration(kbus_call *call,
                            const Iot__V1__DeviceRegistration *reg, void *arg) {
        const Iot__V1__DeviceRegistration *cur = NULL;
        int rc = iot_v1_device_registration_get(call, NULL, 0, &cur);
        (void)arg;
        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, rc, "reading the device's site");
                return;
        }
        if (reg->site[0])
                rc = iot_v1_device_registration_put(call, NULL, 0, reg);
        else
                rc = cur ? iot_v1_device_registration_delete(call, NULL, 0) : 0;
        if (rc) {
                kbus_call_fail(call, rc, "writing the device's site");
                return;
        }
        printf("SITE %s %s (was %s)\n", reg->device_id,
               reg->site[0] ? reg->site : "-", cur ? cur->site : "-");
        fflush(stdout);
        kbus_call_ack(call);
}

static void on_reading(kbus_call *call, const Iot__V1__Reading *r, void *arg) {
        Iot__V1__EnrichedReading er = IOT__V1__ENRICHED_READING__INIT;
        const Iot__V1__DeviceRegistration *reg = NULL;
        int rc = iot_v1_device_registration_get(call, NULL, 0, &reg);
        (void)arg;
        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, rc, "reading the device's site");
                return;
        }
        er.device_id = r->device_id;
        er.seq = r->seq;
        er.temperature = r->temperature;
        er.time_ms = r->time_ms;
        er.site = reg && reg->site[0] ? reg->site : "unassigned";
        rc = iot_v1_enriched_reading_publish_from(call, &er);
        /* A full producer queue is RESOURCE_EXHAUSTED (nothing was
         * queued), which is retriable: failing the call has the runtime
         * try the reading again later, and the device's later readings
         * wait for it. */
        if (rc)
                kbus_call_fail(call, (kbus_status)rc, "cannot publish");
        else
                kbus_call_ack(call);
}

int main(int argc, char **argv) {
        const char *file = NULL;
        kbus_runtime *rt;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (kbus_runtime_new_from_file(&rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                return 1;
        }
        /* One group, two inputs, one table: the runtime checks at start
         * that the inputs have the same partition count. */
        rc = iot_v1_device_registration_attach(rt, NULL);
        if (!rc)
                rc = iot_v1_device_registration_subscribe(
                    rt, NULL, on_registration, NULL);
        if (!rc)
                rc = iot_v1_reading_subscribe(rt, NULL, on_reading, NULL);
        /* The readings of a partition leave in the order they came, all
         * devices together.  averager's windows close by the newest
         * reading of the partition: with the default (per device) order,
         * a device that sends more than the others of its partition would
         * fall behind them here, and its readings reach averager after
         * their windows closed.  The price: each reading waits for the
         * one before to be delivered (docs/WINDOWS.md, limits). */
        if (!rc)
                rc = kbus_runtime_set_ordering(rt, iot_v1_reading__event.topic,
                                               KBUS_ORDER_PARTITION, 0);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        kbus_runtime_free(rt);
        return rc ? 1 : 0;
}
