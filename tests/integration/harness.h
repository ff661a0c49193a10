/*
 * Shared helpers of the integration tests: one embedded broker per test
 * binary, runtimes that talk to it, and a way to run the loop until a
 * condition holds or a time limit passes.
 */
#ifndef KBUS_TEST_HARNESS_H
#define KBUS_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include <kbus/kbus.h>

static kbus_broker *test_broker;
static struct event_base *test_base;

static inline void harness_up(void) {
        const char *wrap = getenv("KBUS_TEST_WRAP");
        char err[256];
        /* A hang (say, a runtime a failed test left behind) fails the
         * binary instead of stalling `make check`: SIGALRM ends it. */
        alarm(wrap && *wrap ? 900 : 300);
        if (kbus_broker_new(&test_broker, 1, err, sizeof(err))) {
                fprintf(stderr, "broker: %s\n", err);
                abort();
        }
        test_base = event_base_new();
}

static inline void harness_down(void) {
        event_base_free(test_base);
        kbus_broker_free(test_broker);
}

/* A runtime on the test broker and the shared loop, with more config keys:
 * \p kv is NULL or NULL-ended name/value pairs, set after the defaults. */
static inline kbus_runtime *test_runtime_kv(const char *name, const char *group,
                                            const char *const *kv) {
        kbus_config *conf;
        kbus_runtime *rt;
        char err[512];
        assert_int_equal(kbus_config_new(&conf), 0);
        assert_int_equal(kbus_config_set(conf, "bootstrap",
                                         kbus_broker_bootstrap(test_broker),
                                         err, sizeof(err)),
                         0);
        assert_int_equal(
            kbus_config_set(conf, "low_latency", "true", err, sizeof(err)), 0);
        assert_int_equal(kbus_config_set(conf, "name", name, err, sizeof(err)),
                         0);
        if (group)
                assert_int_equal(
                    kbus_config_set(conf, "group", group, err, sizeof(err)), 0);
        /* Ample on a loaded machine: the consumer's close (its last
         * commit and its leave) must not be cut short, or the next member
         * of the group redoes what was done.  A test that ends early
         * waits for nothing. */
        assert_int_equal(kbus_config_set(conf, "shutdown_grace_ms", "10000",
                                         err, sizeof(err)),
                         0);
        for (; kv && kv[0]; kv += 2)
                if (kbus_config_set(conf, kv[0], kv[1], err, sizeof(err))) {
                        fprintf(stderr, "config: %s\n", err);
                        fail();
                }
        if (kbus_runtime_new(&rt, &conf, test_base, err, sizeof(err))) {
                fprintf(stderr, "runtime: %s\n", err);
                fail();
        }
        return rt;
}

/* The same with one more config key \p key set to \p value unless \p key
 * is NULL. */
static inline kbus_runtime *test_runtime_with(const char *name,
                                              const char *group,
                                              const char *key,
                                              const char *value) {
        const char *kv[] = {key, value, NULL};
        return test_runtime_kv(name, group, kv);
}

static inline kbus_runtime *test_runtime(const char *name, const char *group) {
        return test_runtime_with(name, group, NULL, NULL);
}

static inline double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until *done is true or \p seconds pass; returns *done. */
static inline bool run_until(volatile bool *done, double seconds) {
        double end = now_s() + seconds;
        struct timeval tick = {0, 20000};
        while (!*done && now_s() < end) {
                event_base_loopexit(test_base, &tick);
                event_base_dispatch(test_base);
        }
        return *done;
}

/* Runs the loop for \p seconds regardless. */
static inline void run_for(double seconds) {
        bool never = false;
        run_until(&never, seconds);
}

/* Runs the loop until \p rt's groups have joined; false after \p seconds. */
static inline bool run_until_ready(kbus_runtime *rt, double seconds) {
        double end = now_s() + seconds;
        while (!kbus_runtime_ready(rt) && now_s() < end)
                run_for(0.02);
        return kbus_runtime_ready(rt);
}

#endif
