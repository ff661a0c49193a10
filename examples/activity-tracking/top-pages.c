/*
 * top-pages: ranks the pages of each minute.  Reads the per-minute counts
 * page-counter publishes (activity.v1.PageViewsPerMinute, keyed by
 * minute), keeps each minute's ten most viewed pages in its table
 * "TopPages", and whenever a minute's ranking changes publishes it
 * (activity.v1.TopPages) and prints
 * "TOP TIME 1./products/3=412 2./=398 ...".
 *
 *   top-pages [-c FILE]
 *
 * A page's count for a minute is final when it comes (page-counter emits
 * it once the minute has closed), so ten entries per minute are enough:
 * a page outside them can never climb back in.  A count that comes twice
 * (page-counter restarted before its offset was committed) changes
 * nothing.  Several top-pages in one group split the minutes between them.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "activity.kbus.h"

#define PROG "top-pages"
#define TOP 10

static void usage(FILE *out) {
        fprintf(out, "usage: " PROG " [-c FILE]\n"
                     "Ranks the pages of each minute from "
                     "activity.v1.PageViewsPerMinute; publishes\nand prints "
                     "each minute's top ten when it changes, until SIGINT or "
                     "SIGTERM.\nPrints \"ready\" once its partitions are "
                     "restored.\n\n"
                     "  -c FILE     kbus configuration file (libconfig "
                     "format)\n"
                     "  -h, --help  this help\n\n"
                     "Environment: KBUS_BOOTSTRAP (broker list), "
                     "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

/* Whether \p a ranks before \p b: more views, then the page's name. */
static bool before(const char *a_page, uint64_t a_views, const char *b_page,
                   uint64_t b_views) {
        return a_views != b_views ? a_views > b_views
                                  : strcmp(a_page, b_page) < 0;
}

static void on_minute(kbus_call *call,
                      const Activity__V1__PageViewsPerMinute *m, void *arg) {
        Activity__V1__TopPages next = ACTIVITY__V1__TOP_PAGES__INIT;
        Activity__V1__PageCount slots[TOP + 1], *ranked[TOP + 1];
        const Activity__V1__TopPages *cur = NULL;
        size_t n = 0;
        char line[2048], when[32];
        time_t s = (time_t)(m->minute_ms / 1000);
        struct tm tm;
        int rc, len;

        rc = activity_v1_top_pages_get(call, NULL, 0, &cur);
        if (rc && rc != KBUS_NOT_FOUND) {
                kbus_call_fail(call, rc, "reading the minute's ranking");
                return;
        }
        /* The ranking so far without this page, then the page in its
         * place; the eleventh falls off. */
        for (size_t i = 0; cur && i < cur->n_pages; i++)
                if (strcmp(cur->pages[i]->page, m->page)) {
                        slots[n] = *cur->pages[i];
                        ranked[n] = &slots[n];
                        n++;
                }
        activity__v1__page_count__init(&slots[n]);
        slots[n].page = m->page;
        slots[n].views = m->views;
        ranked[n] = &slots[n];
        for (size_t i = n++;
             i > 0 && before(ranked[i]->page, ranked[i]->views,
                             ranked[i - 1]->page, ranked[i - 1]->views);
             i--) {
                Activity__V1__PageCount *t = ranked[i];
                ranked[i] = ranked[i - 1];
                ranked[i - 1] = t;
        }
        if (n > TOP)
                n = TOP;
        next.minute_ms = m->minute_ms;
        next.n_pages = n;
        next.pages = ranked;
        /* A repeat, or a page that does not make the ten: nothing new. */
        if (cur && cur->n_pages == n) {
                bool same = true;
                for (size_t i = 0; i < n && same; i++)
                        same = !strcmp(cur->pages[i]->page, ranked[i]->page) &&
                               cur->pages[i]->views == ranked[i]->views;
                if (same) {
                        kbus_call_ack(call);
                        return;
                }
        }
        if ((rc = activity_v1_top_pages_put(call, NULL, 0, &next)) ||
            (rc = activity_v1_top_pages_publish_from(call, &next))) {
                kbus_call_fail(call, rc, "ranking a minute");
                return;
        }
        gmtime_r(&s, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%MZ", &tm);
        len = snprintf(line, sizeof(line), "TOP %s", when);
        for (size_t i = 0; i < n && len > 0 && (size_t)len < sizeof(line); i++)
                len += snprintf(line + len, sizeof(line) - len, " %zu.%s=%llu",
                                i + 1, ranked[i]->page,
                                (unsigned long long)ranked[i]->views);
        printf("%s\n", line);
        kbus_call_ack(call);
}

static void tick(evutil_socket_t fd, short what, void *arg) {
        static bool said;
        if (!said && kbus_runtime_ready(arg)) {
                printf("ready\n");
                said = true;
        }
        fflush(stdout);
}

int main(int argc, char **argv) {
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
        rc = activity_v1_top_pages_attach(rt, NULL);
        if (!rc)
                rc = activity_v1_page_views_per_minute_subscribe(
                    rt, NULL, on_minute, NULL);
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
