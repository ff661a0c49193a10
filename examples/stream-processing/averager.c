/*
 * averager: the pipeline's third stage.  Subscribes to
 * iot.v1.EnrichedReading and averages each device's temperatures over
 * windows of measurement time (the reading's time_ms), 10 s long by
 * default, in a kbus window; once a window has closed it publishes one
 * iot.v1.AverageReading for each device that read in it.
 *
 *   averager [-c FILE] [-w WINDOW_MS] [-g GRACE_MS]
 *
 * A window closes, in one partition of the readings, once a reading of
 * that partition is GRACE_MS (default 5 s) past its end.  The sums live in
 * the window's table (changelog "averager.averages.changelog"), so an
 * averager that crashes, or whose devices move to another one, loses
 * nothing and counts no reading twice: the averages come out the same as
 * in a run without the crash, some perhaps twice (identical).  A reading
 * later than the grace period is dead-lettered, to
 * iot.v1.EnrichedReading.DLT, and counted in window_late on /metrics.
 *
 * Before a reading reaches the window, its number (seq) and time are
 * checked against the last reading of its device counted, kept in the
 * table "LastReading":
 * - measured no later than that one: a repeat (the device sent it again,
 *   or enrich did after a crash, with the same ce_id), not counted again.
 *   By time, not number: after a restart, enrich may send again a reading
 *   from before it, numbered higher than the readings since;
 * - measured later but numbered no later: the device restarted and
 *   numbers its readings from 1 again.  That is said once, on stdout and
 *   as an iot.v1.DeviceRestarted event, and the reading is counted;
 * - otherwise a new reading, counted.
 * The check and the window's sums are changes of the same call, so they
 * are applied together, once, whatever crashes.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "iot.kbus.h"
#include "stream.h"

#define PROG "averager"

static void usage(FILE *out) {
        fprintf(out, "usage: " PROG " [-c FILE] [-w WINDOW_MS] [-g GRACE_MS]\n"
                     "Averages each device's iot.v1.EnrichedReading over "
                     "windows of measurement\ntime; publishes an "
                     "iot.v1.AverageReading per device and window once the "
                     "window\nhas closed, until SIGINT or SIGTERM.  Counts a "
                     "repeated reading once; says\nwhen a device restarts "
                     "(iot.v1.DeviceRestarted, and a RESTART line).\nPrints "
                     "\"ready\" once its partitions are restored.\n\n"
                     "  -c FILE       kbus configuration file (libconfig "
                     "format)\n"
                     "  -w WINDOW_MS  window length (default 10000)\n"
                     "  -g GRACE_MS   how long a window waits for late "
                     "readings (default 5000)\n"
                     "  -h, --help    this help\n\n"
                     "Environment: KBUS_BOOTSTRAP (broker list), "
                     "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

/* The window's aggregate: a sum and a count; the site of the device's
 * last reading, which points into the input until it is packed. */
static int add_reading(ProtobufCMessage *value, const ProtobufCMessage *input,
                       void *arg) {
        Iot__V1__ReadingSum *sum = (Iot__V1__ReadingSum *)value;
        const Iot__V1__EnrichedReading *r =
            (const Iot__V1__EnrichedReading *)input;
        sum->sum += r->temperature;
        sum->count++;
        sum->site = r->site;
        return 0;
}

static int emit_average(kbus_call *call, const void *key, size_t len,
                        int64_t start_ms, int64_t end_ms,
                        const ProtobufCMessage *value, uint32_t revision,
                        void *arg) {
        const Iot__V1__ReadingSum *sum = (const Iot__V1__ReadingSum *)value;
        Iot__V1__AverageReading avg = IOT__V1__AVERAGE_READING__INIT;
        char device[256];

        snprintf(device, sizeof(device), "%.*s", (int)len, (const char *)key);
        avg.device_id = device;
        avg.site = sum->site;
        avg.window_start_ms = start_ms;
        avg.window_end_ms = end_ms;
        avg.readings = sum->count;
        avg.average = sum->count ? sum->sum / (double)sum->count : 0;
        return iot_v1_average_reading_publish_from(call, &avg);
}

static kbus_window *averages;

/* Says that \p r's device restarted, as part of handling \p r. */
static int publish_restart(kbus_call *call, const Iot__V1__EnrichedReading *r,
                           const Iot__V1__LastReading *last,
                           uint32_t restarts) {
        Iot__V1__DeviceRestarted ev = IOT__V1__DEVICE_RESTARTED__INIT;
        ev.device_id = r->device_id;
        ev.site = r->site;
        ev.last_seq = last->seq;
        ev.seq = r->seq;
        ev.time_ms = r->time_ms;
        ev.restarts = restarts;
        return iot_v1_device_restarted_publish_from(call, &ev);
}

static void on_reading(kbus_call *call, const Iot__V1__EnrichedReading *r,
                       void *arg) {
        Iot__V1__LastReading next = IOT__V1__LAST_READING__INIT;
        const Iot__V1__LastReading *last = NULL;
        bool restarted = false;
        int rc;

        (void)arg;
        /* Readings without a number cannot be told apart: each counts. */
        if (r->seq != 0) {
                rc = iot_v1_last_reading_get(call, NULL, 0, &last);
                if (rc && rc != KBUS_NOT_FOUND) {
                        kbus_call_fail(call, rc, "reading the last reading");
                        return;
                }
                if (last)
                        next = *last;
                if (last && r->time_ms <= last->time_ms) {
                        next.repeats++;
                        kbus_log(KBUS_LOG_DEBUG,
                                 "%s: reading %" PRIu64 " again, not counted "
                                 "(%" PRIu64 " repeats)",
                                 r->device_id, r->seq, next.repeats);
                        rc = iot_v1_last_reading_put(call, NULL, 0, &next);
                        if (rc)
                                kbus_call_fail(call, rc,
                                               "writing the last reading");
                        else
                                kbus_call_ack(call);
                        return;
                }
                restarted = last && r->seq <= last->seq;
        }
        rc = kbus_window_add(call, averages, &r->base, NULL);
        if (rc) {
                /* OUT_OF_RANGE, a reading too late for its window, is not
                 * retried: it is dead-lettered. */
                kbus_call_fail(call, rc,
                               rc == KBUS_OUT_OF_RANGE
                                   ? "late: the reading's window has closed"
                                   : "averaging a reading");
                return;
        }
        if (r->seq != 0) {
                if (restarted)
                        next.restarts++;
                next.seq = r->seq;
                next.time_ms = r->time_ms;
                if ((rc = iot_v1_last_reading_put(call, NULL, 0, &next)) ||
                    (restarted &&
                     (rc = publish_restart(call, r, last, next.restarts)))) {
                        kbus_call_fail(call, rc, "noting the reading");
                        return;
                }
        }
        if (restarted) {
                printf("RESTART %s reading %" PRIu64 " after reading %" PRIu64
                       " (restart %" PRIu32 ")\n",
                       r->device_id, r->seq, last->seq, next.restarts);
                fflush(stdout);
        }
        kbus_call_ack(call);
}

static void tick(evutil_socket_t fd, short what, void *arg) {
        static bool said;
        if (!said && kbus_runtime_ready(arg)) {
                printf("ready\n");
                fflush(stdout);
                said = true;
        }
}

int main(int argc, char **argv) {
        kbus_window_desc window = {
            .name = "averages",
            .value = &iot__v1__reading_sum__descriptor,
            .size_ms = 10000,
            .grace_ms = 5000,
            .time_field = "time_ms",
            .late = KBUS_WINDOW_LATE_DEAD_LETTER,
            .add = add_reading,
            .emit = emit_average,
        };
        const char *file = NULL;
        struct timeval every = {0, 200000};
        struct event *timer;
        kbus_runtime *rt;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-w") && i + 1 < argc) {
                        window.size_ms = (int64_t)stream_parse_number(
                            PROG, "-w", argv[++i], 1);
                } else if (!strcmp(argv[i], "-g") && i + 1 < argc) {
                        window.grace_ms = (int64_t)stream_parse_number(
                            PROG, "-g", argv[++i], 0);
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
        rc = kbus_window_attach(rt, &window, NULL, &averages);
        if (!rc)
                rc = iot_v1_last_reading_attach(rt, NULL);
        if (!rc)
                rc = iot_v1_enriched_reading_subscribe(rt, NULL, on_reading,
                                                       NULL);
        timer =
            event_new(kbus_runtime_event_base(rt), -1, EV_PERSIST, tick, rt);
        if (!rc && (!timer || event_add(timer, &every)))
                rc = KBUS_INTERNAL;
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        if (timer)
                event_free(timer);
        kbus_runtime_free(rt);
        return rc ? 1 : 0;
}
