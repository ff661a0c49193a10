/*
 * sensor-sim: publishes iot.v1.Reading events for simulated devices, or
 * for readings given on standard input, then exits.
 *
 *   sensor-sim [-c FILE] [-d DEVICES] [-n ROUNDS] [-i INTERVAL_MS]
 *              [-s START_MS] [-p PERIOD_MS] [-r DEVICE:ROUND] [-x DEVICE]
 *   sensor-sim [-c FILE] --stdin   (lines "DEVICE TEMPERATURE [TIME_MS [SEQ]]")
 *
 * Simulated devices are dev-1 ... dev-DEVICES; each round gives every
 * device one reading.  Their temperatures follow a slow saw-tooth from 20
 * to 55.6 degrees, 90 readings long, shifted per device, so each device
 * spends 39 readings of every 90 above 40.  Readings are keyed by device
 * and numbered per device from 1.  Two kinds of devices real fleets have
 * can be played: one that restarts (-r: dev-DEVICE reboots before round
 * ROUND and numbers its readings from 1 again, its clock going on), and
 * one that sends every reading twice (-x: as a device does that misses
 * its acknowledgements).  Neither changes what was measured.
 *
 * Each reading carries its measurement time: round k (and a device's k-th
 * reading from standard input, unless the line gives a time and maybe a
 * number) was measured
 * at START_MS (default: now) + k * PERIOD_MS (default 1000), whenever it is
 * published: a simulated clock, so that minutes of readings go out in
 * seconds.
 *
 * It publishes as fast as the producer takes them: when the producer's
 * queue is full (RESOURCE_EXHAUSTED) it asks kbus_runtime_when_room() to be
 * called back and goes on from the same reading then, so a million
 * readings slow down to the broker's pace instead of failing, in order per
 * device.  Once all are queued it waits for their delivery, then prints a
 * summary with the rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "iot.kbus.h"
#include "stream.h"

#define PROG "sensor-sim"

static void usage(FILE *out) {
        fprintf(out,
                "usage: " PROG " [-c FILE] [-d DEVICES] [-n ROUNDS] "
                "[-i INTERVAL_MS]\n"
                "                  [-s START_MS] [-p PERIOD_MS] "
                "[-r DEVICE:ROUND] [-x DEVICE]\n"
                "                  [--stdin]\n"
                "Publishes iot.v1.Reading events, waits until they are "
                "delivered, then\nexits: 0 when every one was.\n\n"
                "  -c FILE        kbus configuration file (libconfig format)\n"
                "  -d DEVICES     simulated devices dev-1..dev-DEVICES "
                "(default 5)\n"
                "  -n ROUNDS      readings per device (default 24)\n"
                "  -i INTERVAL_MS time between rounds (default 0: all at "
                "once)\n"
                "  -s START_MS    measurement time of the first round, Unix "
                "epoch ms\n"
                "                 (default: now)\n"
                "  -p PERIOD_MS   measurement time between rounds (default "
                "1000)\n"
                "  -r DEVICE:ROUND  dev-DEVICE restarts before round ROUND "
                "(from 1): its\n"
                "                 readings are numbered from 1 again\n"
                "  -x DEVICE      dev-DEVICE sends each reading twice\n"
                "  --stdin        publish the readings read from standard "
                "input instead,\n"
                "                 one \"DEVICE TEMPERATURE [TIME_MS [SEQ]]\" "
                "per line, in order;\n"
                "                 without SEQ, numbered after the device's "
                "last line\n"
                "  -h, --help     this help\n\n"
                "Environment: KBUS_BOOTSTRAP (broker list), "
                "KBUS_LOW_LATENCY=1, KBUS_LOG_LEVEL.\n");
}

/* Per-device sequence numbers, for readings from standard input. */
struct device {
        char *id;
        uint64_t seq;
};

#define PROGRESS_EVERY 100000

struct sim {
        kbus_runtime *rt;
        struct event *timer;
        long devices, rounds;
        long interval_ms; /* 0: every round at once */
        long due;         /* rounds that may be published by now */
        int from_stdin;
        struct device *devs; /* standard input's devices */
        size_t n_devs;
        long next; /* simulated readings published: round * devices + d */
        int64_t start_ms;                 /* measurement time of round 0 */
        int64_t period_ms;                /* between rounds */
        long reboot_device, reboot_round; /* -r; 0: none */
        long twice_device;                /* -x; 0: none */
        int copy;                         /* of the next reading: 0, 1 */
        /* The next reading, not published yet. */
        char id[128];
        uint64_t seq;
        double temperature;
        int64_t time_ms;
        int have_next;
        int waiting; /* for room: the timer only lets more rounds be due */
        long published, waits;
        int failed, done;
        double start_s;
};

static double mono_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the next reading of standard input; 0 at its end (or on a bad
 * line: sim->failed). */
static int next_stdin(struct sim *sim) {
        char line[256];
        double t;
        long long when = 0;
        unsigned long long seq = 0;
        size_t i;
        int n;

        while (fgets(line, sizeof(line), stdin)) {
                if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
                        continue;
                n = sscanf(line, "%127s %lf %lld %llu", sim->id, &t, &when,
                           &seq);
                if (n < 2 || (n >= 3 && when <= 0)) {
                        fprintf(stderr, PROG ": bad line: %s", line);
                        sim->failed = 1;
                        return 0;
                }
                for (i = 0; i < sim->n_devs && strcmp(sim->devs[i].id, sim->id);
                     i++)
                        ;
                if (i == sim->n_devs) {
                        struct device *more = realloc(
                            sim->devs, (sim->n_devs + 1) * sizeof(*more));
                        if (!more ||
                            !(more[sim->n_devs].id = strdup(sim->id))) {
                                if (more)
                                        sim->devs = more;
                                fprintf(stderr, PROG ": out of memory\n");
                                sim->failed = 1;
                                return 0;
                        }
                        sim->devs = more;
                        sim->devs[sim->n_devs++].seq = 0;
                }
                /* Numbered as the line says, or after the device's last. */
                sim->seq =
                    n == 4 ? (sim->devs[i].seq = seq) : ++sim->devs[i].seq;
                sim->temperature = t;
                sim->time_ms = n >= 3
                                   ? when
                                   : sim->start_ms + (int64_t)(sim->seq - 1) *
                                                         sim->period_ms;
                return sim->have_next = 1;
        }
        return 0;
}

/* Fills in the next reading; 0 when there is none (yet: its round is not
 * due) or at the end. */
static int next_reading(struct sim *sim) {
        long k, d;
        if (sim->have_next)
                return 1;
        if (sim->from_stdin)
                return next_stdin(sim);
        if (sim->next >= sim->due * sim->devices)
                return 0;
        k = sim->next / sim->devices;
        d = sim->next % sim->devices + 1;
        snprintf(sim->id, sizeof(sim->id), "dev-%ld", d);
        sim->seq = (uint64_t)k + 1;
        if (d == sim->reboot_device && k + 1 >= sim->reboot_round)
                sim->seq = (uint64_t)(k + 1 - sim->reboot_round) + 1;
        sim->temperature = 20.0 + (double)((k + 13 * d) % 90) * 0.4;
        sim->time_ms = sim->start_ms + (int64_t)k * sim->period_ms;
        return sim->have_next = 1;
}

/* Publishes readings until none is due, the last is out, or the producer
 * is full; then it is called again once there is room.  The first call
 * comes from the loop too. */
static void produce(kbus_status status, void *arg) {
        struct sim *sim = arg;
        sim->waiting = 0;
        if (status != KBUS_OK)
                return; /* shutting down: a signal */
        while (next_reading(sim)) {
                Iot__V1__Reading r = IOT__V1__READING__INIT;
                int rc;
                r.device_id = sim->id;
                r.seq = sim->seq;
                r.temperature = sim->temperature;
                r.time_ms = sim->time_ms;
                rc = iot_v1_reading_publish(sim->rt, &r);
                if (rc == KBUS_RESOURCE_EXHAUSTED &&
                    !(rc = kbus_runtime_when_room(sim->rt, produce, sim))) {
                        sim->waits++;
                        sim->waiting = 1;
                        return; /* the reading is kept for then */
                }
                if (rc) {
                        fprintf(stderr, PROG ": cannot publish: %s\n",
                                kbus_strerror(rc));
                        sim->failed = 1;
                        break;
                }
                if (!sim->from_stdin && !sim->copy &&
                    sim->next % sim->devices + 1 == sim->twice_device) {
                        sim->copy = 1; /* the same reading once more */
                        ++sim->published;
                        continue;
                }
                sim->copy = 0;
                sim->have_next = 0;
                sim->next++;
                if (++sim->published % PROGRESS_EVERY == 0)
                        fprintf(stderr, PROG ": %ld published (%.0f/s)\n",
                                sim->published,
                                (double)sim->published /
                                    (mono_s() - sim->start_s));
        }
        if (!sim->failed && !sim->from_stdin &&
            sim->next < sim->rounds * sim->devices)
                return; /* the timer makes the next round due */
        sim->done = !sim->failed;
        if (sim->timer)
                event_del(sim->timer);
        kbus_runtime_shutdown(sim->rt);
}

/* With an interval: one more round is due.  A producer that has not
 * taken the last round yet gets it when it has room. */
static void tick(evutil_socket_t fd, short what, void *arg) {
        struct sim *sim = arg;
        (void)fd;
        (void)what;
        if (sim->due < sim->rounds)
                sim->due++;
        if (!sim->waiting)
                produce(KBUS_OK, sim);
}

int main(int argc, char **argv) {
        struct sim sim = {.devices = 5, .rounds = 24, .period_ms = 1000};
        const char *file = NULL;
        unsigned long long undelivered;
        double secs;
        char err[512];
        int rc = 0;

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
                } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
                        sim.start_ms = (int64_t)stream_parse_number(
                            PROG, "-s", argv[++i], 1);
                } else if (!strcmp(argv[i], "-p") && i + 1 < argc) {
                        sim.period_ms = (int64_t)stream_parse_number(
                            PROG, "-p", argv[++i], 1);
                } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
                        char *colon = strchr(argv[++i], ':');
                        if (!colon) {
                                fprintf(stderr,
                                        PROG ": -r needs DEVICE:ROUND, got "
                                             "'%s'\n",
                                        argv[i]);
                                return 2;
                        }
                        *colon = '\0';
                        sim.reboot_device =
                            (long)stream_parse_number(PROG, "-r", argv[i], 1);
                        sim.reboot_round =
                            (long)stream_parse_number(PROG, "-r", colon + 1, 1);
                } else if (!strcmp(argv[i], "-x") && i + 1 < argc) {
                        sim.twice_device =
                            (long)stream_parse_number(PROG, "-x", argv[++i], 1);
                } else if (!strcmp(argv[i], "--stdin")) {
                        sim.from_stdin = 1;
                } else {
                        fprintf(stderr, PROG ": unknown argument '%s'\n",
                                argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (!sim.start_ms) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                sim.start_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        }
        if (kbus_runtime_new_from_file(&sim.rt, PROG, file, NULL, err,
                                       sizeof(err))) {
                fprintf(stderr, PROG ": %s\n", err);
                return 1;
        }
        sim.start_s = mono_s();
        if (sim.from_stdin || sim.interval_ms == 0) {
                /* Everything is due: produce() starts on the first turn of
                 * the loop. */
                sim.due = sim.rounds;
                rc = kbus_runtime_when_room(sim.rt, produce, &sim);
        } else {
                struct timeval tv = {sim.interval_ms / 1000,
                                     sim.interval_ms % 1000 * 1000};
                sim.timer = event_new(kbus_runtime_event_base(sim.rt), -1,
                                      EV_PERSIST, tick, &sim);
                if (!sim.timer || event_add(sim.timer, &tv)) {
                        fprintf(stderr, PROG ": cannot start the timer\n");
                        sim.failed = 1;
                }
        }
        if (!rc && !sim.failed)
                rc = kbus_runtime_run(sim.rt);
        if (rc) {
                fprintf(stderr, PROG ": %s\n", kbus_strerror(rc));
                sim.failed = 1;
        }
        if (sim.timer)
                event_free(sim.timer);
        /* Everything is queued: wait for its delivery (or final failure,
         * after the producer's message.timeout.ms). */
        if (kbus_runtime_flush(sim.rt, -1))
                sim.failed = 1;
        secs = mono_s() - sim.start_s;
        undelivered = kbus_runtime_stat(sim.rt, KBUS_STAT_EVENTS_UNDELIVERED);
        kbus_runtime_free(sim.rt);
        for (size_t i = 0; i < sim.n_devs; i++)
                free(sim.devs[i].id);
        free(sim.devs);
        if (!sim.done && !sim.failed)
                fprintf(stderr, PROG ": interrupted\n");
        fprintf(stderr,
                PROG ": %ld readings published, %llu delivered, in %.2f s "
                     "(%.0f/s; waited for room %ld times)\n",
                sim.published, (unsigned long long)sim.published - undelivered,
                secs, secs > 0 ? (double)sim.published / secs : 0.0, sim.waits);
        return sim.done && !sim.failed && !undelivered ? 0 : 1;
}
