/*
 * sensor-sim: publishes iot.v1.Reading events for simulated devices, or
 * for readings given on standard input, then exits.
 *
 *   sensor-sim [-c FILE] [-d DEVICES] [-n ROUNDS] [-i INTERVAL_MS]
 *   sensor-sim [-c FILE] --stdin       (lines "DEVICE TEMPERATURE")
 *
 * Simulated devices are dev-1 ... dev-DEVICES; each round gives every
 * device one reading.  Their temperatures follow a saw-tooth from 20 to 53
 * degrees, 12 readings long, shifted per device, so each device spends 5
 * readings of every 12 above 40.  Readings are keyed by device and
 * numbered per device from 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "iot.kbus.h"
#include "stream.h"

#define PROG "sensor-sim"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-d DEVICES] [-n ROUNDS] "
                "[-i INTERVAL_MS] [--stdin]\n"
                "Publishes iot.v1.Reading events, then exits.\n\n"
                "  -c FILE        kbus configuration file (libconfig format)\n"
                "  -d DEVICES     simulated devices dev-1..dev-DEVICES "
                "(default 5)\n"
                "  -n ROUNDS      readings per device (default 24)\n"
                "  -i INTERVAL_MS time between rounds (default 0: all at "
                "once)\n"
                "  --stdin        publish the readings read from standard "
                "input instead,\n"
                "                 one \"DEVICE TEMPERATURE\" per line, in "
                "order\n"
                "  -h, --help     this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

/* Per-device sequence numbers, for readings from standard input. */
struct device {
        char *id;
        uint64_t seq;
};

struct sim {
        kbus_runtime *rt;
        struct event *timer;
        long devices, rounds, round;
        long interval_ms; /* 0: every round in the first tick */
        long published;
        int failed;
};

static int publish(struct sim *sim, const char *device, uint64_t seq,
                   double temperature) {
        Iot__V1__Reading r = IOT__V1__READING__INIT;
        r.device_id = (char *)device;
        r.seq = seq;
        r.temperature = temperature;
        int rc = iot_v1_reading_publish(sim->rt, &r);
        if (rc) {
                fprintf(stderr, PROG ": cannot publish: %s\n",
                        kbus_strerror(rc));
                sim->failed = 1;
                return rc;
        }
        sim->published++;
        return 0;
}

/* Publishes one round of simulated readings (all of them when there is
 * no interval); after the last, shuts down. */
static void tick(evutil_socket_t fd, short what, void *arg) {
        struct sim *sim = arg;
        char id[32];
        (void)fd;
        (void)what;

        do {
                for (long d = 1; d <= sim->devices && !sim->failed; d++) {
                        long k = sim->round;
                        snprintf(id, sizeof(id), "dev-%ld", d);
                        publish(sim, id, (uint64_t)k + 1,
                                20.0 + (double)((k + 3 * d) % 12) * 3.0);
                }
        } while (++sim->round < sim->rounds && !sim->failed &&
                 sim->interval_ms == 0);
        if (sim->round >= sim->rounds || sim->failed) {
                event_del(sim->timer);
                kbus_runtime_shutdown(sim->rt);
        }
}

static int publish_stdin(struct sim *sim) {
        struct device *devs = NULL;
        size_t n_devs = 0;
        char line[256], id[128];
        double t;
        int rc = 0;

        while (!rc && fgets(line, sizeof(line), stdin)) {
                size_t i;
                if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
                        continue;
                if (sscanf(line, "%127s %lf", id, &t) != 2) {
                        fprintf(stderr, PROG ": bad line: %s", line);
                        rc = 1;
                        break;
                }
                for (i = 0; i < n_devs && strcmp(devs[i].id, id); i++)
                        ;
                if (i == n_devs) {
                        struct device *more =
                            realloc(devs, (n_devs + 1) * sizeof(*devs));
                        if (!more || !(more[n_devs].id = strdup(id))) {
                                devs = more ? more : devs;
                                rc = 1;
                                break;
                        }
                        devs = more;
                        devs[n_devs++].seq = 0;
                }
                rc = publish(sim, id, ++devs[i].seq, t);
        }
        for (size_t i = 0; i < n_devs; i++)
                free(devs[i].id);
        free(devs);
        return rc;
}

int main(int argc, char **argv) {
        struct sim sim = {.devices = 5, .rounds = 24};
        const char *file = NULL;
        char err[512];
        int from_stdin = 0, rc = 0;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
                        file = argv[++i];
                } else if (!strcmp(argv[i], "-d") && i + 1 < argc) {
                        sim.devices =
                            (long)stream_parse_number(PROG, "-d", argv[++i], 1);
                } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
                        sim.rounds =
                            (long)stream_parse_number(PROG, "-n", argv[++i], 1);
                } else if (!strcmp(argv[i], "-i") && i + 1 < argc) {
                        sim.interval_ms =
                            (long)stream_parse_number(PROG, "-i", argv[++i], 0);
                } else if (!strcmp(argv[i], "--stdin")) {
                        from_stdin = 1;
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
        if (from_stdin) {
                /* Everything is queued at once; kbus_runtime_free() flushes
                 * the producer, so nothing is lost by not dispatching. */
                rc = publish_stdin(&sim);
        } else {
                struct timeval tv = {sim.interval_ms / 1000,
                                     sim.interval_ms % 1000 * 1000};
                sim.timer = event_new(kbus_runtime_event_base(sim.rt), -1,
                                      EV_PERSIST, tick, &sim);
                if (!sim.timer || event_add(sim.timer, &tv)) {
                        fprintf(stderr, PROG ": cannot start the timer\n");
                        rc = 1;
                } else {
                        rc = kbus_runtime_run(sim.rt);
                        if (rc)
                                fprintf(stderr, PROG ": %s\n",
                                        kbus_strerror(rc));
                }
                if (sim.timer)
                        event_free(sim.timer);
        }
        kbus_runtime_free(sim.rt);
        fprintf(stderr, PROG ": %ld readings published\n", sim.published);
        return rc || sim.failed ? 1 : 0;
}
