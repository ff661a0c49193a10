/*
 * rules: the pipeline's last stage.  Subscribes to iot.v1.AverageReading
 * and publishes an iot.v1.Alert when a device's average temperature has
 * been above THRESHOLD in COUNT consecutive windows; the rule fires once
 * per such run and arms again after a window at or below the threshold
 * (or a window missing: a device that did not read).
 *
 *   rules [-c FILE] [-t THRESHOLD] [-n COUNT] [-v]
 *
 * The rule needs per-device state (the current hot run), kept in the kbus
 * table "RuleState" (changelog "rules.RuleState.changelog"), so a restarted
 * rules carries on where it stopped.  Each device's averages arrive in
 * order, one at a time, since kbus hands a consumer group the records of
 * one key (the device) that way.  An average that comes again (averager
 * sends an average twice when it crashed before noting it sent it) is
 * recognised by its window and changes nothing.
 *
 * An alert is published as part of handling the average that fired it,
 * with the table change: both are written, or neither.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iot.kbus.h"
#include "stream.h"

#define PROG "rules"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-t THRESHOLD] [-n COUNT] [-v]\n"
                "Publishes iot.v1.Alert when a device's average reads above "
                "THRESHOLD\n(default 40) in COUNT (default 3) consecutive "
                "windows; prints each alert on\nstdout.  Runs until SIGINT "
                "or SIGTERM.\n\n"
                "  -c FILE       kbus configuration file (libconfig format)\n"
                "  -t THRESHOLD  degrees Celsius\n"
                "  -n COUNT      consecutive windows, at least 1\n"
                "  -v            print every average, as it is counted\n"
                "  -h, --help    this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

struct rules {
        double threshold;
        uint32_t count;
        bool verbose;
        char rule[96];
};

static const char *fmt_time(int64_t ms, char buf[32]) {
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf;
}

/* The alert average \p a fires, as part of handling it. */
static int publish_alert(kbus_call *call, struct rules *rs,
                         const Iot__V1__AverageReading *a) {
        Iot__V1__Alert alert = IOT__V1__ALERT__INIT;
        alert.device_id = a->device_id;
        alert.site = a->site;
        alert.window_start_ms = a->window_start_ms;
        alert.average = a->average;
        alert.consecutive = rs->count;
        alert.rule = rs->rule;
        return iot_v1_alert_publish_from(call, &alert);
}

static void on_average(kbus_call *call, const Iot__V1__AverageReading *a,
                       void *arg) {
        struct rules *rs = arg;
        Iot__V1__RuleState next = IOT__V1__RULE_STATE__INIT;
        const Iot__V1__RuleState *cur = NULL;
        int64_t size = a->window_end_ms - a->window_start_ms;
        char when[32];
        int rc;

        rc = iot_v1_rule_state_get(call, NULL, 0, &cur);
        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, rc, "reading the device's state");
                return;
        }
        /* An average seen before changes nothing.  If it fired an alert,
         * that alert went out with the state change that noted the
         * window: the table's outbox sends it once the change is written. */
        if (cur && a->window_start_ms <= cur->last_window_ms) {
                kbus_call_ack(call);
                return;
        }
        if (cur)
                next = *cur;
        /* A run goes on only through the next window. */
        if (!cur || a->window_start_ms != cur->last_window_ms + size)
                next.hot = 0;
        next.hot = a->average > rs->threshold ? next.hot + 1 : 0;
        next.last_window_ms = a->window_start_ms;
        fmt_time(a->window_start_ms, when);
        if (rs->verbose)
                printf("AVERAGE %s %s %.2f hot=%" PRIu32 "\n", a->device_id,
                       when, a->average, next.hot);
        if (next.hot == rs->count) {
                if ((rc = publish_alert(call, rs, a))) {
                        kbus_call_fail(call, rc, "cannot publish Alert");
                        return;
                }
                printf("ALERT %s site=%s window=%s average=%.2f\n",
                       a->device_id, a->site, when, a->average);
        }
        fflush(stdout);
        if ((rc = iot_v1_rule_state_put(call, NULL, 0, &next))) {
                kbus_call_fail(call, rc, "writing the device's state");
                return;
        }
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
                } else if (!strcmp(argv[i], "-v")) {
                        rs.verbose = true;
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        snprintf(rs.rule, sizeof(rs.rule),
                 "average > %g for %" PRIu32 " windows", rs.threshold,
                 rs.count);
        if (kbus_runtime_new_from_file(&rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                return 1;
        }
        rc = iot_v1_rule_state_attach(rt, NULL);
        if (!rc)
                rc =
                    iot_v1_average_reading_subscribe(rt, NULL, on_average, &rs);
        if (!rc)
                rc = kbus_runtime_run(rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        kbus_runtime_free(rt);
        return rc ? 1 : 0;
}
