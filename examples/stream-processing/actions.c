/*
 * actions: the pipeline's last stage.  Subscribes to iot.v1.Alert and
 * acknowledges each alert once: it opens a ticket for it (here, a line on
 * stdout) and publishes an iot.v1.AlertAcknowledged.
 *
 *   actions [-c FILE]
 *
 * An alert can come more than once: rules sends an alert again, with the
 * same ce_id, when it crashed before noting it sent it, and an operator
 * may replay the topic.  So actions keeps, per device, the window of the
 * last alert it acknowledged in its table "acknowledged" (changelog
 * "actions.acknowledged.changelog").  A device's alerts come in order of
 * their windows (one key, one partition, one at a time), so an alert whose
 * window is not after that one was acknowledged already, whatever its
 * ce_id: it is noted with a REPEAT line and acknowledged no more.  The
 * table change and the AlertAcknowledged are one call's outcome, so a
 * crash can send an acknowledgement again (the same event, same ce_id)
 * but never make a second one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iot.kbus.h"

#define PROG "actions"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE]\n"
                "Acknowledges each iot.v1.Alert once: publishes an "
                "iot.v1.AlertAcknowledged\nwith a ticket and prints "
                "\"ACK DEVICE ...\"; an alert acknowledged before\n(the "
                "same device and window, sent again) prints \"REPEAT DEVICE "
                "...\" only.\nRuns until SIGINT or SIGTERM.\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

static const char *fmt_time(int64_t ms, char buf[32]) {
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

static void on_alert(kbus_call *call, const Iot__V1__Alert *a, void *arg) {
        Iot__V1__AlertAcknowledged ack = IOT__V1__ALERT_ACKNOWLEDGED__INIT;
        Iot__V1__Acknowledged next = IOT__V1__ACKNOWLEDGED__INIT;
        const Iot__V1__Acknowledged *cur = NULL;
        char when[32], ticket[300];
        int rc;

        (void)arg;
        rc = iot_v1_acknowledged_get(call, NULL, 0, &cur);
        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, rc, "reading the device's alerts");
                return;
        }
        fmt_time(a->window_start_ms, when);
        if (cur && a->window_start_ms <= cur->last_window_ms) {
                printf("REPEAT %s window=%s: acknowledged already (%s/%" PRIu32
                       " is the latest)\n",
                       a->device_id, when, a->device_id, cur->alerts);
                fflush(stdout);
                kbus_call_ack(call);
                return;
        }
        next.last_window_ms = a->window_start_ms;
        next.alerts = (cur ? cur->alerts : 0) + 1;
        snprintf(ticket, sizeof(ticket), "%s/%" PRIu32, a->device_id,
                 next.alerts);
        ack.device_id = a->device_id;
        ack.window_start_ms = a->window_start_ms;
        ack.site = a->site;
        ack.average = a->average;
        ack.ticket = ticket;
        if ((rc = iot_v1_acknowledged_put(call, NULL, 0, &next)) ||
            (rc = iot_v1_alert_acknowledged_publish_from(call, &ack))) {
                kbus_call_fail(call, rc, "acknowledging the alert");
                return;
        }
        printf("ACK %s site=%s window=%s average=%.2f ticket=%s\n",
               a->device_id, a->site, when, a->average, ticket);
        fflush(stdout);
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
        rc = iot_v1_acknowledged_attach(rt, NULL);
        if (!rc)
                rc = iot_v1_alert_subscribe(rt, NULL, on_alert, NULL);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        kbus_runtime_free(rt);
        return rc ? 1 : 0;
}
