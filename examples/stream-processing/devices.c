/*
 * devices: registers devices at their sites.  Publishes one
 * iot.v1.DeviceRegistration per line "DEVICE SITE" of a file (or of
 * standard input), waits for their delivery, and exits.
 *
 *   devices [-c FILE] [REGISTRATIONS]
 *
 * A site of "-" unregisters the device (its site becomes "unassigned").
 * The whole file is read and checked before anything is published: a bad
 * line stops it with the file's name and the line's number, and nothing
 * goes out, so a half-applied inventory never reaches the topic.  A device
 * named twice is registered twice, in order: the later line wins, as on
 * the compacted topic.
 *
 * Registrations are an inventory's business, not a sensor's: they change
 * seldom, from another system than the one that sends readings, so they
 * have a program of their own rather than an option of sensor-sim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iot.kbus.h"

#define PROG "devices"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [REGISTRATIONS]\n"
                "Publishes an iot.v1.DeviceRegistration for each line "
                "\"DEVICE SITE\" of\nREGISTRATIONS (default: standard "
                "input); a SITE of \"-\" unregisters the device.\nBlank "
                "lines and lines starting with '#' are skipped.  Checks "
                "every line first:\na bad one stops it, naming the file and "
                "line, before anything is published.\nWaits for delivery; "
                "exits 0 when every registration was delivered.\n\n"
                "  -c FILE     kbus configuration file (libconfig format)\n"
                "  -h, --help  this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

struct registration {
        char device[128];
        char site[128];
};

struct devices {
        kbus_runtime *rt;
        struct registration *regs;
        size_t n, next;
        int failed;
};

/* Reads every line of \p in (named \p name in messages) into \p d;
 * -1 on a bad line or an error, reported. */
static int read_all(struct devices *d, FILE *in, const char *name) {
        char line[512], extra;
        size_t cap = 0;
        int lineno = 0;

        while (fgets(line, sizeof(line), in)) {
                struct registration *r;
                lineno++;
                if (!strchr(line, '\n') && !feof(in)) {
                        fprintf(stderr, PROG ": %s:%d: line too long\n", name,
                                lineno);
                        return -1;
                }
                if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
                        continue;
                if (d->n == cap) {
                        size_t more = cap ? 2 * cap : 64;
                        r = realloc(d->regs, more * sizeof(*r));
                        if (!r) {
                                fprintf(stderr, PROG ": out of memory\n");
                                return -1;
                        }
                        d->regs = r;
                        cap = more;
                }
                r = &d->regs[d->n];
                if (sscanf(line, "%127s %127s %c", r->device, r->site,
                           &extra) != 2) {
                        fprintf(stderr,
                                PROG ": %s:%d: expected \"DEVICE SITE\", "
                                     "got: %s%s",
                                name, lineno, line,
                                strchr(line, '\n') ? "" : "\n");
                        return -1;
                }
                if (!strcmp(r->site, "-"))
                        r->site[0] = '\0';
                d->n++;
        }
        if (ferror(in)) {
                fprintf(stderr, PROG ": %s: read error\n", name);
                return -1;
        }
        return 0;
}

/* Publishes the registrations from the next one on; when the producer is
 * full, it is called again once there is room. */
static void produce(kbus_status status, void *arg) {
        struct devices *d = arg;
        if (status != KBUS_OK)
                return; /* shutting down: a signal */
        while (d->next < d->n) {
                Iot__V1__DeviceRegistration reg =
                    IOT__V1__DEVICE_REGISTRATION__INIT;
                int rc;
                reg.device_id = d->regs[d->next].device;
                reg.site = d->regs[d->next].site;
                rc = iot_v1_device_registration_publish(d->rt, &reg);
                if (rc == KBUS_RESOURCE_EXHAUSTED &&
                    !(rc = kbus_runtime_when_room(d->rt, produce, d)))
                        return; /* the same registration, then */
                if (rc) {
                        fprintf(stderr, PROG ": cannot publish: %s\n",
                                kbus_strerror(rc));
                        d->failed = 1;
                        break;
                }
                d->next++;
        }
        kbus_runtime_shutdown(d->rt);
}

int main(int argc, char **argv) {
        struct devices d = {0};
        const char *file = NULL, *path = NULL;
        unsigned long long undelivered;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (argv[i][0] != '-' && !path) {
                        path = argv[i];
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (path) {
                FILE *in = fopen(path, "r");
                if (!in) {
                        perror(path);
                        return 1;
                }
                rc = read_all(&d, in, path);
                fclose(in);
        } else {
                rc = read_all(&d, stdin, "<stdin>");
        }
        if (rc) {
                free(d.regs);
                return 1;
        }
        if (kbus_runtime_new_from_file(&d.rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                free(d.regs);
                return 1;
        }
        /* produce() starts on the first turn of the loop. */
        rc = kbus_runtime_when_room(d.rt, produce, &d);
        if (!rc)
                rc = kbus_runtime_run(d.rt);
        if (rc) {
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
                d.failed = 1;
        }
        if (kbus_runtime_flush(d.rt, -1))
                d.failed = 1;
        undelivered = kbus_runtime_stat(d.rt, KBUS_STAT_EVENTS_UNDELIVERED);
        kbus_runtime_free(d.rt);
        fprintf(stderr, PROG ": %zu registration%s published, %llu delivered\n",
                d.next, d.next == 1 ? "" : "s",
                (unsigned long long)d.next - undelivered);
        free(d.regs);
        return d.next == d.n && !d.failed && !undelivered ? 0 : 1;
}
