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
                "Publishes activity.v1.PageViewed events, then exits.\n\n"
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

static int publish(kbus_runtime *rt, const char *frontend, const char *user,
                   const char *page) {
        Activity__V1__PageViewed pv = ACTIVITY__V1__PAGE_VIEWED__INIT;
        pv.page = (char *)page;
        pv.user_id = (char *)user;
        pv.frontend = (char *)frontend;
        pv.time_ms = now_ms();
        int rc = activity_v1_page_viewed_publish(rt, &pv);
        if (rc)
                fprintf(stderr, PROG ": cannot publish: %s\n",
                        kbus_strerror(rc));
        return rc;
}

int main(int argc, char **argv) {
        const char *file = NULL, *frontend = "web-1";
        long views = 100, published = 0;
        int from_stdin = 0, rc = 0;
        kbus_runtime *rt;
        char err[512];

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-f") && i + 1 < argc) {
                        frontend = argv[++i];
                } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
                        views = atol(argv[++i]);
                        if (views <= 0) {
                                fprintf(stderr, PROG ": -n needs a positive "
                                                     "number\n");
                                return 2;
                        }
                } else if (!strcmp(argv[i], "--stdin")) {
                        from_stdin = 1;
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
        /* Everything is queued at once: kbus_runtime_free() flushes the
         * producer, so the loop need not run. */
        if (from_stdin) {
                char line[512], user[128], page[256];
                while (!rc && fgets(line, sizeof(line), stdin)) {
                        if (line[strspn(line, " \t\r\n")] == '\0')
                                continue;
                        if (sscanf(line, "%127s %255s", user, page) != 2) {
                                fprintf(stderr, PROG ": bad line: %s", line);
                                rc = 1;
                        } else if (!(rc = publish(rt, frontend, user, page))) {
                                published++;
                        }
                }
        } else {
                unsigned seed = 1;
                char user[32];
                for (long i = 0; !rc && i < views; i++) {
                        seed = seed * 1103515245u + 12345u;
                        snprintf(user, sizeof(user), "user-%u",
                                 (seed >> 16) % 20);
                        rc = publish(rt, frontend, user,
                                     pages[(seed >> 8) %
                                           (sizeof(pages) / sizeof(*pages))]);
                        if (!rc)
                                published++;
                }
        }
        kbus_runtime_free(rt);
        fprintf(stderr, PROG ": %ld page views published\n", published);
        return rc ? 1 : 0;
}
