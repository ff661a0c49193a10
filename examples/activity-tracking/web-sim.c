/*
 * web-sim: a simulated web front end publishing one activity.v1.PageViewed
 * event per page view, then exiting.
 *
 *   web-sim [-c FILE] [-f NAME] [-n VIEWS] [-r PER_SECOND]
 *           [-m PER_MINUTE [-s START_MS] [-j JITTER_MS]]
 *   web-sim [-c FILE] [-f NAME] --stdin     (lines "USER PAGE [TIME_MS]")
 *
 * Simulated views go to the 25 pages below, the first ones more often,
 * chosen by a fixed pseudo-random sequence so that runs are repeatable.
 * Several web-sim processes can run at once, as a site's front ends do.
 *
 * Each view carries its event time: by default the time it is published;
 * with -m, a simulated clock that starts at START_MS (default: now) and
 * moves PER_MINUTE views to the minute, so a few seconds of publishing
 * cover many minutes of event time, and each view is moved back by up to
 * JITTER_MS at random, as views reach a front end out of order.
 *
 * It publishes as fast as the producer takes them (or PER_SECOND views a
 * second, paced by a timer on the loop): when the producer's
 * queue is full (RESOURCE_EXHAUSTED), it asks kbus_runtime_when_room() to
 * be called back and goes on from there, so a million views slow down to
 * the broker's pace instead of failing.  Once all are queued it waits for
 * their delivery, then prints a summary with the rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "activity.kbus.h"

#define PROG "web-sim"

static const char *const pages[] = {"/",
                                    "/products",
                                    "/products/1",
                                    "/products/2",
                                    "/products/3",
                                    "/products/4",
                                    "/products/5",
                                    "/products/6",
                                    "/products/7",
                                    "/products/8",
                                    "/products/9",
                                    "/products/10",
                                    "/products/11",
                                    "/products/12",
                                    "/products/13",
                                    "/products/14",
                                    "/products/15",
                                    "/products/16",
                                    "/products/17",
                                    "/products/18",
                                    "/products/19",
                                    "/products/20",
                                    "/cart",
                                    "/checkout",
                                    "/about"};
#define N_PAGES (sizeof(pages) / sizeof(*pages))

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG
                " [-c FILE] [-f NAME] [-n VIEWS] [-r PER_SECOND] "
                "[-m PER_MINUTE\n               [-s START_MS] [-j JITTER_MS]] "
                "[--stdin]\n"
                "Publishes activity.v1.PageViewed events, waits until "
                "they are delivered,\nthen exits: 0 when every one was.\n\n"
                "  -c FILE       kbus configuration file (libconfig format)\n"
                "  -f NAME       this front end's name (default \"web-1\")\n"
                "  -n VIEWS      simulated page views (default 100)\n"
                "  -r PER_SECOND publish at most PER_SECOND views a second "
                "(default: as\n"
                "                fast as the producer takes them)\n"
                "  -m PER_MINUTE views get the times of a simulated clock "
                "moving\n"
                "                PER_MINUTE views to the minute (default: the "
                "time of\n"
                "                publishing)\n"
                "  -s START_MS   the simulated clock's start, Unix epoch "
                "milliseconds\n"
                "                (default: now)\n"
                "  -j JITTER_MS  move each simulated time back by up to "
                "JITTER_MS, at\n"
                "                random (default 0)\n"
                "  --stdin       publish the views read from standard input "
                "instead,\n"
                "                one \"USER PAGE [TIME_MS]\" per line\n"
                "  -h, --help    this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define PROGRESS_EVERY 100000

struct sim {
        kbus_runtime *rt;
        const char *frontend;
        int from_stdin;
        long views;         /* simulated views to publish */
        unsigned seed;      /* of the next simulated view */
        long per_minute;    /* simulated clock: views per minute, 0: none */
        int64_t start_ms;   /* the simulated clock's start */
        long jitter_ms;     /* simulated times move back by up to this */
        long rate;          /* views a second at most; 0: no limit */
        struct event *pace; /* with a rate: goes on when more are due */
        char user[128];     /* the next view, not published yet */
        char page[256];
        int64_t time_ms; /* its time; 0: when it is published */
        int have_next;
        long published, waits;
        int failed, done;
        double start_s;
};

/* Fills in the next view from the simulation or standard input; 0 at the
 * end (or on a bad line: sim->failed). */
static int next_view(struct sim *sim) {
        char line[512];
        if (sim->have_next)
                return 1;
        if (!sim->from_stdin) {
                unsigned seed, a, b;
                if (sim->published >= sim->views)
                        return 0;
                seed = sim->seed * 1103515245u + 12345u;
                sim->seed = seed;
                snprintf(sim->user, sizeof(sim->user), "user-%u",
                         (seed >> 16) % 20);
                /* The smaller of two draws: the first pages are the most
                 * viewed, as on a real site. */
                a = (seed >> 8) % N_PAGES;
                b = (seed >> 20) % N_PAGES;
                snprintf(sim->page, sizeof(sim->page), "%s",
                         pages[a < b ? a : b]);
                sim->time_ms = 0;
                if (sim->per_minute > 0) {
                        sim->time_ms = sim->start_ms + (int64_t)sim->published *
                                                           60000 /
                                                           sim->per_minute;
                        if (sim->jitter_ms > 0)
                                sim->time_ms -=
                                    (seed >> 4) % (sim->jitter_ms + 1);
                }
                return sim->have_next = 1;
        }
        while (fgets(line, sizeof(line), stdin)) {
                long long t = 0;
                int n;
                if (line[strspn(line, " \t\r\n")] == '\0')
                        continue;
                n = sscanf(line, "%127s %255s %lld", sim->user, sim->page, &t);
                if (n < 2 || (n == 3 && t <= 0)) {
                        fprintf(stderr, PROG ": bad line: %s", line);
                        sim->failed = 1;
                        return 0;
                }
                sim->time_ms = t;
                return sim->have_next = 1;
        }
        return 0;
}

/* Publishes views until there are no more, the producer is full or, with
 * a rate, none is due yet; then it is called again once there is room, or
 * from the pace timer.  The first call comes from the loop too. */
static void produce(kbus_status status, void *arg) {
        struct sim *sim = arg;
        if (status != KBUS_OK)
                return; /* shutting down: a signal */
        while (next_view(sim)) {
                Activity__V1__PageViewed pv = ACTIVITY__V1__PAGE_VIEWED__INIT;
                struct timeval ten_ms = {0, 10000};
                int rc;
                if (sim->rate > 0 &&
                    sim->published >=
                        (long)((mono_s() - sim->start_s) * sim->rate)) {
                        evtimer_add(sim->pace, &ten_ms);
                        return; /* the view is kept for then */
                }
                pv.page = sim->page;
                pv.user_id = sim->user;
                pv.frontend = (char *)sim->frontend;
                pv.time_ms = sim->time_ms ? sim->time_ms : now_ms();
                rc = activity_v1_page_viewed_publish(sim->rt, &pv);
                if (rc == KBUS_RESOURCE_EXHAUSTED &&
                    !(rc = kbus_runtime_when_room(sim->rt, produce, sim))) {
                        sim->waits++;
                        return; /* the view is kept for then */
                }
                if (rc) {
                        fprintf(stderr, PROG ": cannot publish: %s\n",
                                kbus_strerror(rc));
                        sim->failed = 1;
                        break;
                }
                sim->have_next = 0;
                if (++sim->published % PROGRESS_EVERY == 0)
                        fprintf(stderr, PROG ": %ld published (%.0f/s)\n",
                                sim->published,
                                (double)sim->published /
                                    (mono_s() - sim->start_s));
        }
        sim->done = !sim->failed;
        kbus_runtime_shutdown(sim->rt);
}

static void on_pace(evutil_socket_t fd, short what, void *arg) {
        produce(KBUS_OK, arg);
}

int main(int argc, char **argv) {
        struct sim sim = {.frontend = "web-1", .views = 100, .seed = 1};
        const char *file = NULL;
        unsigned long long undelivered;
        double secs;
        int rc = 0;
        char err[512];

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-f") && i + 1 < argc) {
                        sim.frontend = argv[++i];
                } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
                        sim.views = atol(argv[++i]);
                        if (sim.views <= 0) {
                                fprintf(stderr, PROG ": -n needs a positive "
                                                     "number\n");
                                return 2;
                        }
                } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
                        sim.rate = atol(argv[++i]);
                        if (sim.rate <= 0) {
                                fprintf(stderr, PROG ": -r needs a positive "
                                                     "number\n");
                                return 2;
                        }
                } else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
                        sim.per_minute = atol(argv[++i]);
                        if (sim.per_minute <= 0) {
                                fprintf(stderr, PROG ": -m needs a positive "
                                                     "number\n");
                                return 2;
                        }
                } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
                        sim.start_ms = atoll(argv[++i]);
                        if (sim.start_ms <= 0) {
                                fprintf(stderr, PROG ": -s needs a time in "
                                                     "Unix epoch "
                                                     "milliseconds\n");
                                return 2;
                        }
                } else if (!strcmp(argv[i], "-j") && i + 1 < argc) {
                        sim.jitter_ms = atol(argv[++i]);
                        if (sim.jitter_ms < 0) {
                                fprintf(stderr, PROG ": -j needs a number "
                                                     ">= 0\n");
                                return 2;
                        }
                } else if (!strcmp(argv[i], "--stdin")) {
                        sim.from_stdin = 1;
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (!sim.start_ms)
                sim.start_ms = now_ms();
        if (kbus_runtime_new_from_file(&sim.rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                return 1;
        }
        sim.start_s = mono_s();
        sim.pace = evtimer_new(kbus_runtime_event_base(sim.rt), on_pace, &sim);
        /* produce() starts on the first turn of the loop. */
        rc = sim.pace ? kbus_runtime_when_room(sim.rt, produce, &sim)
                      : KBUS_RESOURCE_EXHAUSTED;
        if (!rc)
                rc = kbus_runtime_run(sim.rt);
        if (rc) {
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
                sim.failed = 1;
        }
        /* Everything is queued: wait for its delivery (or final failure,
         * after the producer's message.timeout.ms). */
        if (sim.pace)
                event_free(sim.pace);
        if (kbus_runtime_flush(sim.rt, -1))
                sim.failed = 1;
        secs = mono_s() - sim.start_s;
        undelivered = kbus_runtime_stat(sim.rt, KBUS_STAT_EVENTS_UNDELIVERED);
        kbus_runtime_free(sim.rt);
        if (!sim.done && !sim.failed)
                fprintf(stderr, PROG ": interrupted\n");
        fprintf(stderr,
                PROG ": %ld page views published, %llu delivered, in %.2f s "
                     "(%.0f/s; waited for room %ld times)\n",
                sim.published, (unsigned long long)sim.published - undelivered,
                secs, secs > 0 ? (double)sim.published / secs : 0.0, sim.waits);
        return sim.done && !sim.failed && !undelivered ? 0 : 1;
}
