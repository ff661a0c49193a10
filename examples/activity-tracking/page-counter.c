/*
 * page-counter: counts activity.v1.PageViewed events per page and minute
 * of event time (the view's time_ms), in a kbus window, and publishes an
 * activity.v1.PageViewsPerMinute for each page and minute once the minute
 * has closed (and prints "MINUTE TIME PAGE VIEWS").
 *
 *   page-counter [-c FILE] [-g GRACE_MS]
 *
 * Views are keyed by page, so when several page-counter processes share
 * the consumer group each page is counted by one of them.  The counts live
 * in the window's table (changelog "page-counter.views_per_minute.changelog"):
 * a page-counter that crashes, or whose pages move to another one, loses
 * nothing, and no view is counted twice.
 *
 * A minute closes, in one partition of the views, once a view of that
 * partition is GRACE_MS past the minute's end (default 10 s): views may
 * come out of order by that much.  A view later than that is dead-lettered
 * (to activity.v1.PageViewed.DLT) and counted in window_late on /metrics.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "activity.kbus.h"

#define PROG "page-counter"

static void usage(FILE *out) {
        fprintf(out, "usage: " PROG " [-c FILE] [-g GRACE_MS]\n"
                     "Counts activity.v1.PageViewed per page and minute of "
                     "event time; publishes\nand prints each minute's count "
                     "once the minute has closed, until SIGINT or\nSIGTERM. "
                     "Prints \"ready\" once its partitions are restored.\n\n"
                     "  -c FILE      kbus configuration file (libconfig "
                     "format)\n"
                     "  -g GRACE_MS  how long a minute waits for late views "
                     "(default 10000)\n"
                     "  -h, --help   this help\n\n"
                     "Environment: KBUS_BOOTSTRAP (broker list), "
                     "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

/* The window's aggregate: one more view. */
static int add_view(ProtobufCMessage *value, const ProtobufCMessage *input,
                    void *arg) {
        ((Activity__V1__ViewCount *)value)->views++;
        return 0;
}

/* A closed minute of one page: its count goes out with the call. */
static int emit_minute(kbus_call *call, const void *key, size_t len,
                       int64_t start_ms, int64_t end_ms,
                       const ProtobufCMessage *value, uint32_t revision,
                       void *arg) {
        Activity__V1__PageViewsPerMinute out =
            ACTIVITY__V1__PAGE_VIEWS_PER_MINUTE__INIT;
        const Activity__V1__ViewCount *v =
            (const Activity__V1__ViewCount *)value;
        char page[512], when[32];
        time_t s = (time_t)(start_ms / 1000);
        struct tm tm;

        snprintf(page, sizeof(page), "%.*s", (int)len, (const char *)key);
        out.minute_ms = start_ms;
        out.page = page;
        out.views = v->views;
        gmtime_r(&s, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%MZ", &tm);
        printf("MINUTE %s %s %llu\n", when, page, (unsigned long long)v->views);
        return activity_v1_page_views_per_minute_publish_from(call, &out);
}

static kbus_window *views_per_minute;

static void on_view(kbus_call *call, const Activity__V1__PageViewed *pv,
                    void *arg) {
        int rc = kbus_window_add(call, views_per_minute, &pv->base, NULL);
        if (rc) {
                /* OUT_OF_RANGE, a view too late for its minute, is not
                 * retried: it is dead-lettered. */
                kbus_call_fail(call, rc,
                               rc == KBUS_OUT_OF_RANGE
                                   ? "late: the view's minute has closed"
                                   : "counting a page view");
                return;
        }
        kbus_call_ack(call);
}

/* Says "ready" once, when the group has joined and its partitions are
 * restored; flushes what was printed. */
static void tick(evutil_socket_t fd, short what, void *arg) {
        static bool said;
        if (!said && kbus_runtime_ready(arg)) {
                printf("ready\n");
                said = true;
        }
        fflush(stdout);
}

int main(int argc, char **argv) {
        kbus_window_desc window = {
            .name = "views_per_minute",
            .value = &activity__v1__view_count__descriptor,
            .size_ms = 60000,
            .grace_ms = 10000,
            .time_field = "time_ms",
            .late = KBUS_WINDOW_LATE_DEAD_LETTER,
            .add = add_view,
            .emit = emit_minute,
        };
        const char *file = NULL;
        struct timeval every = {0, 200000};
        struct event *timer = NULL;
        kbus_runtime *rt;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-g") && i + 1 < argc) {
                        char *end;
                        window.grace_ms = strtoll(argv[++i], &end, 10);
                        if (*end || window.grace_ms < 0) {
                                fprintf(stderr, PROG ": -g needs a number "
                                                     ">= 0\n");
                                return 2;
                        }
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
        rc = kbus_window_attach(rt, &window, NULL, &views_per_minute);
        if (!rc)
                rc = activity_v1_page_viewed_subscribe(rt, NULL, on_view, NULL);
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
        fflush(stdout);
        return rc ? 1 : 0;
}
