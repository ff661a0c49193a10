/*
 * page-counter: counts activity.v1.PageViewed events per page, and every
 * flush interval publishes an activity.v1.PageViewCount (and prints a
 * "COUNT PAGE VIEWS" line) for each page whose count changed.
 *
 *   page-counter [-c FILE] [-i INTERVAL_MS]
 *
 * Views are keyed by page, so when several page-counter processes share
 * the consumer group each page is counted by exactly one of them and the
 * totals need no merging.  Publishing totals per interval rather than per
 * view keeps the output topic small whatever the traffic.  The counts live
 * in memory: a restarted counter starts again from zero for the views it
 * reads from then on.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "activity.kbus.h"
#include "table.h"

#define PROG "page-counter"

static void usage(FILE *out) {
        fprintf(out, "usage: " PROG " [-c FILE] [-i INTERVAL_MS]\n"
                     "Counts activity.v1.PageViewed per page; publishes and "
                     "prints the changed totals\nevery INTERVAL_MS (default "
                     "1000) until SIGINT or SIGTERM.\n\n"
                     "  -c FILE        kbus configuration file (libconfig "
                     "format)\n"
                     "  -i INTERVAL_MS flush interval\n"
                     "  -h, --help     this help\n\n"
                     "Environment: KBUS_BOOTSTRAP (broker list), "
                     "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

struct page {
        uint64_t views;
        bool changed;
};

struct counter {
        kbus_runtime *rt;
        table *pages; /* path -> struct page */
};

static struct page *page_get(struct counter *c, const char *path) {
        struct page *p = table_get(c->pages, path);
        if (!p && (p = calloc(1, sizeof(*p))))
                table_put(c->pages, path, p);
        return p;
}

static void on_view(kbus_call *call, const Activity__V1__PageViewed *pv,
                    void *arg) {
        struct page *p = page_get(arg, pv->page);
        if (!p) {
                kbus_call_fail(call, KBUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
        }
        p->views++;
        p->changed = true;
        kbus_call_ack(call);
}

/* Publishes and prints one page's total if it changed. */
static void flush_page(const char *path, void *value, void *arg) {
        struct counter *c = arg;
        struct page *p = value;
        Activity__V1__PageViewCount pc = ACTIVITY__V1__PAGE_VIEW_COUNT__INIT;
        if (!p->changed)
                return;
        pc.page = (char *)path;
        pc.views = p->views;
        /* A total that cannot be queued now stays marked changed and goes
         * out with the next flush. */
        if (activity_v1_page_view_count_publish(c->rt, &pc))
                return;
        p->changed = false;
        printf("COUNT %s %" PRIu64 "\n", path, p->views);
}

static void flush(evutil_socket_t fd, short what, void *arg) {
        struct counter *c = arg;
        (void)fd;
        (void)what;
        table_foreach(c->pages, flush_page, c);
        fflush(stdout);
}

int main(int argc, char **argv) {
        static struct counter c;
        const char *file = NULL;
        long interval = 1000;
        struct event *timer = NULL;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-i") && i + 1 < argc) {
                        interval = atol(argv[++i]);
                        if (interval <= 0) {
                                fprintf(stderr, PROG ": -i needs a positive "
                                                     "number\n");
                                return 2;
                        }
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (kbus_runtime_new_from_file(&c.rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                return 1;
        }
        c.pages = table_new();
        struct timeval tv = {interval / 1000, interval % 1000 * 1000};
        timer =
            event_new(kbus_runtime_event_base(c.rt), -1, EV_PERSIST, flush, &c);
        rc = timer && event_add(timer, &tv) == 0 ? 0 : KBUS_INTERNAL;
        if (!rc)
                rc = activity_v1_page_viewed_subscribe(c.rt, NULL, on_view, &c);
        if (!rc)
                rc = kbus_runtime_run(c.rt);
        if (rc)
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
        /* The last totals go out before the producer is flushed. */
        flush(-1, 0, &c);
        if (timer)
                event_free(timer);
        kbus_runtime_free(c.rt);
        table_free(c.pages, free);
        return rc ? 1 : 0;
}
