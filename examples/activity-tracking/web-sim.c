/*
 * web-sim: a simulated web front end publishing one activity.v1.PageViewed
 * event per page view, then exiting.
 *
 *   web-sim [-c FILE] [-f NAME] [-n VIEWS]
 *   web-sim [-c FILE] [-f NAME] --stdin     (lines "USER PAGE")
 *
 * Simulated views go to the pages below, chosen by a fixed pseudo-random
 * sequence so that runs are repeatable.  Several web-sim processes can run
 * at once, as a site's front ends do; the counts come out the same.
 *
 * It publishes as fast as the producer takes them: when the producer's
 * queue is full (RESOURCE_EXHAUSTED), it asks kbus_runtime_when_room() to
 * be called back and goes on from there, so a million views slow down to
 * the broker's pace instead of failing.  Once all are queued it waits for
 * their delivery, then prints a summary with the rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.kbus.h"

#define PROG "web-sim"

static const char *const pages[] = {"/", "/products", "/products/42", "/cart",
                                    "/checkout"};

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-f NAME] [-n VIEWS] [--stdin]\n"
                "Publishes activity.v1.PageViewed events, waits until "
                "they are delivered,\nthen exits: 0 when every one was.\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -f NAME     this front end's name (default \"web-1\")\n"
                "  -n VIEWS    simulated page views (default 100)\n"
                "  --stdin     publish the views read from standard input "
                "instead,\n"
                "              one \"USER PAGE\" per line\n"
                "  -h, --help  this help\n\n"
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
        long views;     /* simulated views to publish */
        unsigned seed;  /* of the next simulated view */
        char user[128]; /* the next view, not published yet */
        char page[256];
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
                unsigned seed;
                if (sim->published >= sim->views)
                        return 0;
                seed = sim->seed * 1103515245u + 12345u;
                sim->seed = seed;
                snprintf(sim->user, sizeof(sim->user), "user-%u",
                         (seed >> 16) % 20);
                snprintf(sim->page, sizeof(sim->page), "%s",
                         pages[(seed >> 8) % (sizeof(pages) / sizeof(*pages))]);
                return sim->have_next = 1;
        }
        while (fgets(line, sizeof(line), stdin)) {
                if (line[strspn(line, " \t\r\n")] == '\0')
                        continue;
                if (sscanf(line, "%127s %255s", sim->user, sim->page) != 2) {
                        fprintf(stderr, PROG ": bad line: %s", line);
                        sim->failed = 1;
                        return 0;
                }
                return sim->have_next = 1;
        }
        return 0;
}

/* Publishes views until there are no more or the producer is full; then
 * it is called again once there is room.  The first call comes from the
 * loop too. */
static void produce(kbus_status status, void *arg) {
        struct sim *sim = arg;
        if (status != KBUS_OK)
                return; /* shutting down: a signal */
        while (next_view(sim)) {
                Activity__V1__PageViewed pv = ACTIVITY__V1__PAGE_VIEWED__INIT;
                int rc;
                pv.page = sim->page;
                pv.user_id = sim->user;
                pv.frontend = (char *)sim->frontend;
                pv.time_ms = now_ms();
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
                } else if (!strcmp(argv[i], "--stdin")) {
                        sim.from_stdin = 1;
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (kbus_runtime_new_from_file(&sim.rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                return 1;
        }
        sim.start_s = mono_s();
        /* produce() starts on the first turn of the loop. */
        rc = kbus_runtime_when_room(sim.rt, produce, &sim);
        if (!rc)
                rc = kbus_runtime_run(sim.rt);
        if (rc) {
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
                sim.failed = 1;
        }
        /* Everything is queued: wait for its delivery (or final failure,
         * after the producer's message.timeout.ms). */
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
