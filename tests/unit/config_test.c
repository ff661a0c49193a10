/*
 * config_test.c: kbus_config defaults, files, text keys and environment.
 *
 * Users meet these messages when their service refuses to start, so the
 * tests pin down what each one must say: the file and line, the key, and
 * the bad value.  Files are written into a private temporary directory
 * that the group removes afterwards.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kbus_int.h"

static char dir[256];
static char paths[8][320];
static int n_paths;
static char err[1024];

/* Writes \p text to \p name in the test directory; returns its path. */
static const char *write_file(const char *name, const char *text) {
        char path[320];
        FILE *fp;
        int i;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fp = fopen(path, "w");
        assert_non_null(fp);
        assert_int_equal(fputs(text, fp) >= 0, 1);
        assert_int_equal(fclose(fp), 0);
        for (i = 0; i < n_paths; i++)
                if (!strcmp(paths[i], path))
                        return paths[i];
        assert_true(n_paths < 8);
        snprintf(paths[n_paths], sizeof(paths[0]), "%s", path);
        return paths[n_paths++];
}

#define assert_contains(hay, needle)                                           \
        do {                                                                   \
                if (!strstr((hay), (needle)))                                  \
                        fail_msg("\"%s\" does not contain \"%s\"", (hay),      \
                                 (needle));                                    \
        } while (0)

/* Asserts that the message starts with "PATH:LINE: ". */
static void assert_where(const char *msg, const char *path, int line) {
        char want[400];

        snprintf(want, sizeof(want), "%s:%d: ", path, line);
        if (strncmp(msg, want, strlen(want)))
                fail_msg("\"%s\" does not start with \"%s\"", msg, want);
}

/* Loads \p text as a file and expects failure with INVALID_ARGUMENT at
 * \p line; err holds the message. */
static void load_fails(kbus_config *conf, const char *text, int line) {
        const char *path = write_file("bad.cfg", text);

        err[0] = '\0';
        assert_int_equal(kbus_config_load(conf, path, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_where(err, path, line);
}

static const char *prop(const kbus_props *p, const char *name) {
        size_t i;

        for (i = 0; i < p->n; i++)
                if (!strcmp(p->names[i], name))
                        return p->values[i];
        return NULL;
}

static int group_setup(void **state) {
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof(dir), "%s/kbus_config_test.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state) {
        int i;

        for (i = 0; i < n_paths; i++)
                unlink(paths[i]);
        return rmdir(dir);
}

static int setup(void **state) {
        kbus_config *conf = NULL;

        kbus__alloc_fail_after(-1);
        unsetenv("KBUS_BOOTSTRAP");
        unsetenv("KBUS_GROUP");
        unsetenv("KBUS_LOG_LEVEL");
        unsetenv("KBUS_LOW_LATENCY");
        if (kbus_config_new(&conf))
                return -1;
        *state = conf;
        return 0;
}

static int teardown(void **state) {
        kbus__alloc_fail_after(-1);
        kbus_config_free(*state);
        return 0;
}

/* ---- defaults and lifetime ---- */

static void test_defaults(void **state) {
        kbus_config *conf = *state;

        assert_string_equal(conf->bootstrap, "embedded");
        assert_string_equal(conf->name, "kbus");
        assert_null(conf->group);
        assert_int_equal(conf->low_latency, -1);
        assert_null(conf->reply_topic);
        assert_int_equal(conf->timeout_ms, 5000);
        assert_int_equal(conf->shutdown_grace_ms, 10000);
        assert_int_equal(conf->max_in_flight, 64);
        assert_int_equal(conf->max_uncommitted, 100000);
        assert_int_equal(conf->client_max_in_flight, 10000);
        assert_int_equal(conf->log_level, KBUS_LOG_INFO);
        assert_int_equal(conf->retry.max_attempts, 5);
        assert_int_equal(conf->retry.initial_backoff_ms, 100);
        assert_int_equal(conf->retry.max_backoff_ms, 10000);
        assert_true(conf->retry.multiplier == 2.0);
        assert_string_equal(conf->dlt_suffix, ".DLT");
        assert_int_equal(conf->broker_count, 1);
        assert_int_equal(conf->broker_partitions, 4);
        assert_int_equal(conf->kafka.n, 0);
        assert_int_equal(conf->producer.n, 0);
        assert_int_equal(conf->consumer.n, 0);
}

static void test_free_null(void **state) {
        kbus_config_free(NULL);
}

static void test_null_arguments(void **state) {
        kbus_config *conf = *state;

        assert_int_equal(kbus_config_new(NULL), KBUS_INVALID_ARGUMENT);
        assert_int_equal(kbus_config_load(NULL, "x", err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_int_equal(kbus_config_load(conf, NULL, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_int_equal(kbus_config_set(conf, NULL, "x", err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_int_equal(kbus_config_set(conf, "name", NULL, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        /* No error buffer at all is fine too. */
        assert_int_equal(kbus_config_set(conf, "nope", "x", NULL, 0),
                         KBUS_INVALID_ARGUMENT);
}

/* ---- loading files ---- */

static void test_load_good_file(void **state) {
        kbus_config *conf = *state;
        const char *path = write_file(
            "good.cfg", "# every key\n"
                        "bootstrap = \"k1:9092,k2:9092\";\n"
                        "name = \"orders\";\n"
                        "group = \"orders-workers\";\n"
                        "low_latency = false;\n"
                        "reply_topic = \"orders.replies-1\";\n"
                        "timeout_ms = 2500;\n"
                        "shutdown_grace_ms = 0;\n"
                        "max_in_flight = 8;\n"
                        "max_uncommitted = 5000;\n"
                        "client_max_in_flight = 500;\n"
                        "log_level = \"debug\";\n"
                        "dlt_suffix = \"-dlt\";\n"
                        "broker_count = 3;\n"
                        "broker_partitions = 12;\n"
                        "retry = {\n"
                        "        max_attempts = 7;\n"
                        "        initial_backoff_ms = 50;\n"
                        "        max_backoff_ms = 60000;\n"
                        "        multiplier = 1.5;\n"
                        "};\n"
                        "kafka = [ \"security.protocol=plaintext\",\n"
                        "          \" socket.timeout.ms = 3000 \",\n"
                        "          \"sasl.password=a=b\" ];\n"
                        "producer = ( \"linger.ms=5\", \"acks=all\" );\n"
                        "consumer = [ \"fetch.wait.max.ms=10\" ];\n");

        assert_int_equal(kbus_config_load(conf, path, err, sizeof(err)), 0);
        assert_string_equal(conf->bootstrap, "k1:9092,k2:9092");
        assert_string_equal(conf->name, "orders");
        assert_string_equal(conf->group, "orders-workers");
        assert_int_equal(conf->low_latency, 0);
        assert_string_equal(conf->reply_topic, "orders.replies-1");
        assert_int_equal(conf->timeout_ms, 2500);
        assert_int_equal(conf->shutdown_grace_ms, 0);
        assert_int_equal(conf->max_in_flight, 8);
        assert_int_equal(conf->max_uncommitted, 5000);
        assert_int_equal(conf->client_max_in_flight, 500);
        assert_int_equal(conf->log_level, KBUS_LOG_DEBUG);
        assert_string_equal(conf->dlt_suffix, "-dlt");
        assert_int_equal(conf->broker_count, 3);
        assert_int_equal(conf->broker_partitions, 12);
        assert_int_equal(conf->retry.max_attempts, 7);
        assert_int_equal(conf->retry.initial_backoff_ms, 50);
        assert_int_equal(conf->retry.max_backoff_ms, 60000);
        assert_true(conf->retry.multiplier == 1.5);

        assert_int_equal(conf->kafka.n, 3);
        assert_string_equal(conf->kafka.names[0], "security.protocol");
        assert_string_equal(prop(&conf->kafka, "security.protocol"),
                            "plaintext");
        /* Blanks around name and value go; '=' in the value stays. */
        assert_string_equal(prop(&conf->kafka, "socket.timeout.ms"), "3000");
        assert_string_equal(prop(&conf->kafka, "sasl.password"), "a=b");
        assert_int_equal(conf->producer.n, 2);
        assert_string_equal(prop(&conf->producer, "linger.ms"), "5");
        assert_string_equal(prop(&conf->producer, "acks"), "all");
        assert_string_equal(prop(&conf->consumer, "fetch.wait.max.ms"), "10");
}

static void test_load_partial_keeps_other_keys(void **state) {
        kbus_config *conf = *state;
        const char *path;

        assert_int_equal(
            kbus_config_set(conf, "kafka.acks", "1", err, sizeof(err)), 0);
        path = write_file("part.cfg", "name = \"svc\";\n"
                                      "retry = { multiplier = 3; };\n"
                                      "kafka = [ \"linger.ms=1\" ];\n"
                                      "low_latency = \"auto\";\n");
        assert_int_equal(kbus_config_load(conf, path, err, sizeof(err)), 0);
        assert_string_equal(conf->name, "svc");
        assert_string_equal(conf->bootstrap, "embedded");
        /* An integer is fine where a number is expected. */
        assert_true(conf->retry.multiplier == 3.0);
        assert_int_equal(conf->retry.max_attempts, 5);
        assert_int_equal(conf->low_latency, -1);
        /* A file adds properties to those already set. */
        assert_string_equal(prop(&conf->kafka, "acks"), "1");
        assert_string_equal(prop(&conf->kafka, "linger.ms"), "1");
}

static void test_load_empty_file(void **state) {
        kbus_config *conf = *state;
        const char *path = write_file("empty.cfg", "");

        assert_int_equal(kbus_config_load(conf, path, err, sizeof(err)), 0);
        assert_string_equal(conf->name, "kbus");
}

static void test_load_missing_file(void **state) {
        kbus_config *conf = *state;
        char path[400];

        snprintf(path, sizeof(path), "%s/no-such.cfg", dir);
        assert_int_equal(kbus_config_load(conf, path, err, sizeof(err)),
                         KBUS_NOT_FOUND);
        assert_contains(err, path);
        assert_contains(err, strerror(ENOENT));
}

static void test_load_directory(void **state) {
        kbus_config *conf = *state;

        assert_int_equal(kbus_config_load(conf, dir, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_contains(err, "is a directory");
}

static void test_load_syntax_error(void **state) {
        kbus_config *conf = *state;

        load_fails(conf, "name = \"a\";\ntimeout_ms = ;\n", 2);
        assert_contains(err, "syntax error");

        /* Dotted names are a syntax error in libconfig: the reason
         * properties go in "name=value" strings. */
        load_fails(conf, "\n\nlinger.ms = 5;\n", 3);

        load_fails(conf, "name = \"a\";\nname = \"b\";\n", 2);
        assert_contains(err, "duplicate setting name");
}

static void test_load_unknown_key(void **state) {
        kbus_config *conf = *state;

        load_fails(conf, "name = \"a\";\n\nbogus = 1;\n", 3);
        assert_contains(err, "unknown key 'bogus' (known: bootstrap, name, ");
        assert_contains(err, ", retry, kafka, producer, consumer)");
        /* The file lists the retry group, not its dotted members. */
        assert_null(strstr(err, "retry.max_attempts"));
        assert_null(strstr(err, "did you mean"));
}

static void test_load_unknown_key_typo(void **state) {
        kbus_config *conf = *state;

        load_fails(conf, "timout_ms = 10;\n", 1);
        assert_contains(err, "unknown key 'timout_ms' (known: ");
        assert_contains(err, "did you mean 'timeout_ms'?");
}

static void test_load_unknown_retry_key(void **state) {
        kbus_config *conf = *state;

        load_fails(conf, "retry = {\n  max_attempts = 3;\n  jitter = 1;\n};\n",
                   3);
        assert_contains(err, "unknown key 'retry.jitter' (known: "
                             "max_attempts, initial_backoff_ms, "
                             "max_backoff_ms, multiplier)");
}

static void test_load_bad_types(void **state) {
        kbus_config *conf = *state;

        load_fails(conf, "timeout_ms = \"5000\";\n", 1);
        assert_contains(err,
                        "key 'timeout_ms': must be an integer, not a string");

        load_fails(conf, "\nmax_in_flight = 1.5;\n", 2);
        assert_contains(err, "key 'max_in_flight': must be an integer, not a "
                             "floating-point number");

        load_fails(conf, "name = 5;\n", 1);
        assert_contains(err, "key 'name': must be a string, not an integer");

        load_fails(conf, "low_latency = 1;\n", 1);
        assert_contains(err, "key 'low_latency': must be true, false or "
                             "\"auto\", not an integer");

        load_fails(conf, "log_level = 2;\n", 1);
        assert_contains(err, "key 'log_level': must be a string");

        load_fails(conf, "retry = 5;\n", 1);
        assert_contains(err, "key 'retry': must be a group");

        load_fails(conf, "retry = { multiplier = \"2\"; };\n", 1);
        assert_contains(err, "key 'retry.multiplier': must be a number, not a "
                             "string");

        load_fails(conf, "kafka = \"acks=all\";\n", 1);
        assert_contains(err, "key 'kafka': must be an array of \"name=value\" "
                             "strings, not a string");

        load_fails(conf, "consumer = { acks = 1; };\n", 1);
        assert_contains(err, "key 'consumer': must be an array");

        load_fails(conf, "producer = ( \"acks=1\", 5 );\n", 1);
        assert_contains(err, "key 'producer': element 2 must be a "
                             "\"name=value\" string, not an integer");
}

static void test_load_bad_values(void **state) {
        kbus_config *conf = *state;

        load_fails(conf, "timeout_ms = 0;\n", 1);
        assert_contains(err, "key 'timeout_ms': 0 is out of range [1, ");

        load_fails(conf, "name = \"x\";\nmax_in_flight = -1;\n", 2);
        assert_contains(err, "key 'max_in_flight': -1 is out of range");

        load_fails(conf, "broker_count = 0;\n", 1);
        assert_contains(err, "key 'broker_count': 0 is out of range [1, 64]");

        load_fails(conf, "retry = {\n multiplier = 0.5;\n};\n", 2);
        assert_contains(err, "key 'retry.multiplier': 0.5 is out of range");

        load_fails(conf, "retry = { max_attempts = 0; };\n", 1);
        assert_contains(err, "key 'retry.max_attempts': 0 is out of range");

        load_fails(conf, "log_level = \"loud\";\n", 1);
        assert_contains(err, "key 'log_level': \"loud\" is not a log level");

        load_fails(conf, "name = \"\";\n", 1);
        assert_contains(err, "key 'name': must not be empty");

        load_fails(conf, "reply_topic = \"my replies\";\n", 1);
        assert_contains(err, "key 'reply_topic': \"my replies\" is not a "
                             "valid topic name");

        load_fails(conf, "dlt_suffix = \"/dlt\";\n", 1);
        assert_contains(err, "key 'dlt_suffix': \"/dlt\" cannot be part of a "
                             "topic name");

        /* The name becomes part of the reply topic's name. */
        load_fails(conf, "name = \"order service\";\n", 1);
        assert_contains(err, "key 'name': \"order service\" cannot be part of "
                             "a topic name");
}

/* The operations endpoint's address is checked when the file is loaded,
 * so that a typo is reported with its file and line rather than when the
 * runtime tries to listen. */
static void test_load_bad_http(void **state) {
        static const char *const bad[] = {
            "nonsense",       ":9100",           "127.0.0.1:",
            "127.0.0.1:http", "127.0.0.1:65536", "127.0.0.1:99999999999",
            "127.0.0.1:-1",   "127.0.0.1:91 00",
        };
        static const char *const good[] = {
            "127.0.0.1:0",
            "localhost:9100",
            "0.0.0.0:65535",
        };
        kbus_config *conf = *state;
        char text[128], want[128];
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(text, sizeof(text), "name = \"x\";\nhttp = \"%s\";\n",
                         bad[i]);
                load_fails(conf, text, 2);
                snprintf(want, sizeof(want),
                         "key 'http': \"%s\" is not \"host:port\"", bad[i]);
                assert_contains(err, want);
                assert_null(conf->http);
                /* The same check for kbus_config_set(). */
                assert_int_equal(
                    kbus_config_set(conf, "http", bad[i], err, sizeof(err)),
                    KBUS_INVALID_ARGUMENT);
                assert_contains(err, want);
        }
        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                snprintf(text, sizeof(text), "http = \"%s\";\n", good[i]);
                assert_int_equal(kbus_config_load(conf,
                                                  write_file("http.cfg", text),
                                                  err, sizeof(err)),
                                 KBUS_OK);
                assert_string_equal(conf->http, good[i]);
        }
}

/* libconfig 1.5 wraps integers beyond 32 bits into a plausible value; the
 * loader must notice rather than use it. */
static void test_load_int_overflow(void **state) {
        kbus_config *conf = *state;

        load_fails(conf, "\ntimeout_ms = 99999999999;\n", 2);
        assert_contains(err, "key 'timeout_ms': 99999999999 is out of range");

        load_fails(conf, "retry = { max_backoff_ms = 4294967396; };\n", 1);
        assert_contains(err, "key 'retry.max_backoff_ms': 4294967396 is out of "
                             "range");

        /* With the L suffix libconfig reads it right; still out of range. */
        load_fails(conf, "timeout_ms = 99999999999L;\n", 1);
        assert_contains(err, "99999999999 is out of range");
        assert_int_equal(conf->timeout_ms, 5000);
}

static void test_load_props_errors(void **state) {
        kbus_config *conf = *state;

        /* The line is the bad string's own, even for the last element of a
         * multi-line array, where libconfig itself is one line off. */
        load_fails(conf,
                   "kafka = [\n"
                   "        \"acks=all\",\n"
                   "        \"linger.ms\"\n"
                   "];\n",
                   3);
        assert_contains(err,
                        "key 'kafka': \"linger.ms\" is not \"name=value\"");

        load_fails(conf,
                   "producer = [\n"
                   "        \"compression.type\",\n"
                   "        \"acks=all\"\n"
                   "];\n",
                   2);
        assert_contains(err, "\"compression.type\" is not \"name=value\"");

        load_fails(conf, "consumer = [ \" = 5\" ];\n", 1);
        assert_contains(err, "key 'consumer': \" = 5\" has an empty property "
                             "name");
}

static void test_load_error_in_include(void **state) {
        kbus_config *conf = *state;
        const char *inc = write_file("inc.cfg", "name = \"x\";\nwhat = 1;\n");
        char text[512];
        const char *path;

        snprintf(text, sizeof(text), "@include \"%s\"\ntimeout_ms = 3;\n", inc);
        path = write_file("main.cfg", text);
        assert_int_equal(kbus_config_load(conf, path, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_where(err, inc, 2);
        assert_contains(err, "unknown key 'what'");
}

static void test_load_error_leaves_conf_unchanged(void **state) {
        kbus_config *conf = *state;

        assert_int_equal(
            kbus_config_set(conf, "name", "before", err, sizeof(err)), 0);
        /* Good keys, then a bad one: none of the good ones may stick. */
        load_fails(conf,
                   "name = \"after\";\n"
                   "timeout_ms = 1;\n"
                   "kafka = [ \"acks=all\" ];\n"
                   "retry = { max_attempts = 9; };\n"
                   "broker_count = 1000;\n",
                   5);
        assert_string_equal(conf->name, "before");
        assert_int_equal(conf->timeout_ms, 5000);
        assert_int_equal(conf->kafka.n, 0);
        assert_int_equal(conf->retry.max_attempts, 5);
        assert_int_equal(conf->broker_count, 1);
}

/* ---- kbus_config_set ---- */

static void test_set_every_key(void **state) {
        kbus_config *conf = *state;
        static const char *kv[][2] = {
            {"bootstrap", "localhost:9092"},
            {"name", "payments"},
            {"group", "payments-g"},
            {"low_latency", "yes"},
            {"reply_topic", "payments.reply"},
            {"timeout_ms", "750"},
            {"shutdown_grace_ms", "1234"},
            {"max_in_flight", "1"},
            {"client_max_in_flight", "20"},
            {"log_level", "WARN"},
            {"dlt_suffix", ".dead"},
            {"broker_count", "2"},
            {"broker_partitions", "6"},
            {"retry.max_attempts", "3"},
            {"retry.initial_backoff_ms", "10"},
            {"retry.max_backoff_ms", "20"},
            {"retry.multiplier", "2.5"},
            {"kafka.client.rack", "r1"},
            {"producer.linger.ms", "0"},
            {"consumer.fetch.wait.max.ms", "5"},
        };
        size_t i;

        for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
                if (kbus_config_set(conf, kv[i][0], kv[i][1], err, sizeof(err)))
                        fail_msg("set %s=%s: %s", kv[i][0], kv[i][1], err);

        assert_string_equal(conf->bootstrap, "localhost:9092");
        assert_string_equal(conf->name, "payments");
        assert_string_equal(conf->group, "payments-g");
        assert_int_equal(conf->low_latency, 1);
        assert_string_equal(conf->reply_topic, "payments.reply");
        assert_int_equal(conf->timeout_ms, 750);
        assert_int_equal(conf->shutdown_grace_ms, 1234);
        assert_int_equal(conf->max_in_flight, 1);
        assert_int_equal(conf->client_max_in_flight, 20);
        assert_int_equal(conf->log_level, KBUS_LOG_WARN);
        assert_string_equal(conf->dlt_suffix, ".dead");
        assert_int_equal(conf->broker_count, 2);
        assert_int_equal(conf->broker_partitions, 6);
        assert_int_equal(conf->retry.max_attempts, 3);
        assert_int_equal(conf->retry.initial_backoff_ms, 10);
        assert_int_equal(conf->retry.max_backoff_ms, 20);
        assert_true(conf->retry.multiplier == 2.5);
        assert_string_equal(prop(&conf->kafka, "client.rack"), "r1");
        assert_string_equal(prop(&conf->producer, "linger.ms"), "0");
        assert_string_equal(prop(&conf->consumer, "fetch.wait.max.ms"), "5");
}

static void test_set_booleans(void **state) {
        kbus_config *conf = *state;
        static const struct {
                const char *text;
                int want;
        } cases[] = {{"true", 1}, {"false", 0}, {"1", 1},    {"0", 0},
                     {"yes", 1},  {"no", 0},    {"TRUE", 1}, {"auto", -1}};
        size_t i;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(kbus_config_set(conf, "low_latency",
                                                 cases[i].text, err,
                                                 sizeof(err)),
                                 0);
                assert_int_equal(conf->low_latency, cases[i].want);
        }
        assert_int_equal(
            kbus_config_set(conf, "low_latency", "maybe", err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_contains(err, "key 'low_latency': \"maybe\" is not a boolean");
        assert_int_equal(conf->low_latency, -1);
}

static void test_set_integers_parse_fully(void **state) {
        kbus_config *conf = *state;
        static const char *bad[] = {"", "5s", " 5", "5 ", "0x10", "1.0", "abc"};
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(kbus_config_set(conf, "timeout_ms", bad[i],
                                                 err, sizeof(err)),
                                 KBUS_INVALID_ARGUMENT);
                assert_contains(err, "key 'timeout_ms': \"");
                assert_contains(err, bad[i]);
                assert_contains(err, "is not an integer");
        }
        assert_int_equal(conf->timeout_ms, 5000);

        assert_int_equal(kbus_config_set(conf, "timeout_ms",
                                         "99999999999999999999", err,
                                         sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_contains(err, "\"99999999999999999999\" is out of range");

        assert_int_equal(
            kbus_config_set(conf, "max_in_flight", "0", err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_contains(err, "key 'max_in_flight': 0 is out of range");

        assert_int_equal(
            kbus_config_set(conf, "retry.max_attempts", "-1", err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_contains(err, "key 'retry.max_attempts': -1 is out of range");

        assert_int_equal(
            kbus_config_set(conf, "retry.multiplier", "nan", err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_int_equal(
            kbus_config_set(conf, "retry.multiplier", "2x", err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_contains(err, "key 'retry.multiplier': \"2x\" is not a number");
        assert_true(conf->retry.multiplier == 2.0);
}

static void test_set_unknown_key(void **state) {
        kbus_config *conf = *state;

        assert_int_equal(
            kbus_config_set(conf, "bootstrap.servers", "x", err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_contains(err, "unknown key 'bootstrap.servers' (known: ");
        /* set() spells the dotted names it accepts. */
        assert_contains(err, "retry.max_attempts");
        assert_contains(err, "kafka.NAME");

        assert_int_equal(
            kbus_config_set(conf, "retry.jitter", "1", err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_contains(err, "unknown key 'retry.jitter'");

        assert_int_equal(kbus_config_set(conf, "kafka.", "1", err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_contains(err, "key 'kafka.': empty librdkafka property name");
}

static void test_set_props(void **state) {
        kbus_config *conf = *state;

        assert_int_equal(
            kbus_config_set(conf, "kafka.acks", "1", err, sizeof(err)), 0);
        assert_int_equal(
            kbus_config_set(conf, "kafka.acks", "all", err, sizeof(err)), 0);
        /* The whole "name=value" form works too, as in a file's array. */
        assert_int_equal(
            kbus_config_set(conf, "kafka", "linger.ms = 7", err, sizeof(err)),
            0);
        assert_int_equal(conf->kafka.n, 2);
        assert_string_equal(prop(&conf->kafka, "acks"), "all");
        assert_string_equal(prop(&conf->kafka, "linger.ms"), "7");

        assert_int_equal(
            kbus_config_set(conf, "producer", "linger.ms", err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_contains(err, "key 'producer': \"linger.ms\" is not "
                             "\"name=value\"");
        assert_int_equal(conf->producer.n, 0);
}

/* What tools read back: text keys and property lists, in order. */
static void test_get_and_props(void **state) {
        kbus_config *conf = *state;
        const char *name, *value;

        assert_string_equal(kbus_config_get(conf, "bootstrap"), "embedded");
        assert_string_equal(kbus_config_get(conf, "dlt_suffix"), ".DLT");
        assert_null(kbus_config_get(conf, "reply_topic"));
        assert_null(kbus_config_get(conf, "timeout_ms")); /* not text */
        assert_null(kbus_config_get(conf, "nope"));
        assert_int_equal(
            kbus_config_set(conf, "kafka.b", "2", err, sizeof(err)), 0);
        assert_int_equal(
            kbus_config_set(conf, "kafka.a", "1", err, sizeof(err)), 0);
        assert_int_equal(kbus_config_prop(conf, "kafka", 0, &name, &value), 0);
        assert_string_equal(name, "b");
        assert_string_equal(value, "2");
        assert_int_equal(kbus_config_prop(conf, "kafka", 1, &name, &value), 0);
        assert_string_equal(name, "a");
        assert_int_equal(kbus_config_prop(conf, "kafka", 2, &name, &value),
                         KBUS_NOT_FOUND);
        assert_int_equal(kbus_config_prop(conf, "consumer", 0, &name, &value),
                         KBUS_NOT_FOUND);
        assert_int_equal(kbus_config_prop(conf, "other", 0, &name, &value),
                         KBUS_INVALID_ARGUMENT);
}

/* ---- environment ---- */

static void test_env_overrides(void **state) {
        kbus_config *conf = *state;

        setenv("KBUS_BOOTSTRAP", "broker-1:9092", 1);
        setenv("KBUS_GROUP", "env-group", 1);
        setenv("KBUS_LOG_LEVEL", "ERROR", 1);
        setenv("KBUS_LOW_LATENCY", "no", 1);
        assert_int_equal(kbus__config_apply_env(conf, err, sizeof(err)), 0);
        assert_string_equal(conf->bootstrap, "broker-1:9092");
        assert_string_equal(conf->group, "env-group");
        assert_int_equal(conf->log_level, KBUS_LOG_ERROR);
        assert_int_equal(conf->low_latency, 0);
}

static void test_env_unset_or_empty_changes_nothing(void **state) {
        kbus_config *conf = *state;

        setenv("KBUS_GROUP", "", 1);
        assert_int_equal(kbus__config_apply_env(conf, err, sizeof(err)), 0);
        assert_null(conf->group);
        assert_string_equal(conf->bootstrap, "embedded");
}

static void test_env_error_names_variable(void **state) {
        kbus_config *conf = *state;

        setenv("KBUS_BOOTSTRAP", "broker-1:9092", 1);
        setenv("KBUS_LOW_LATENCY", "sometimes", 1);
        assert_int_equal(kbus__config_apply_env(conf, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_contains(err, "KBUS_LOW_LATENCY");
        assert_contains(err, "\"sometimes\"");
        /* All or nothing: the good variable did not stick either. */
        assert_string_equal(conf->bootstrap, "embedded");

        unsetenv("KBUS_LOW_LATENCY");
        setenv("KBUS_LOG_LEVEL", "loud", 1);
        assert_int_equal(kbus__config_apply_env(conf, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_contains(err, "environment variable KBUS_LOG_LEVEL");
        assert_contains(err, "\"loud\" is not a log level");
}

/* ---- properties and copies ---- */

static void test_props_set_and_fini(void **state) {
        kbus_props p = {0};
        char name[16];
        int i;

        for (i = 0; i < 20; i++) {
                snprintf(name, sizeof(name), "p%d", i);
                assert_int_equal(kbus__props_set(&p, name, "v"), 0);
        }
        assert_int_equal(kbus__props_set(&p, "p3", "changed"), 0);
        assert_int_equal(p.n, 20);
        assert_string_equal(prop(&p, "p3"), "changed");
        /* Order of first setting is kept: librdkafka applies in order. */
        assert_string_equal(p.names[0], "p0");
        assert_string_equal(p.names[19], "p19");
        kbus__props_fini(&p);
        assert_int_equal(p.n, 0);
        assert_null(p.names);
        kbus__props_fini(&p);
}

static void test_copy_is_deep(void **state) {
        kbus_config *conf = *state, *copy = NULL;

        assert_int_equal(kbus_config_set(conf, "group", "g", err, sizeof(err)),
                         0);
        assert_int_equal(
            kbus_config_set(conf, "kafka.acks", "1", err, sizeof(err)), 0);
        assert_int_equal(kbus__config_copy(conf, &copy), 0);
        assert_string_equal(copy->group, "g");
        assert_ptr_not_equal(copy->group, conf->group);
        assert_ptr_not_equal(copy->kafka.names, conf->kafka.names);
        assert_string_equal(prop(&copy->kafka, "acks"), "1");
        assert_null(copy->reply_topic);
        kbus_config_free(copy);
        assert_string_equal(conf->group, "g");
}

/* Every allocation in turn fails: each call must then return
 * RESOURCE_EXHAUSTED (or succeed, if that allocation was not needed),
 * leave the configuration as it was, and leak nothing (run under
 * valgrind or ASan to see leaks). */
static void test_out_of_memory(void **state) {
        kbus_config *conf = *state, *c;
        const char *path =
            write_file("oom.cfg", "name = \"n\";\ngroup = \"g\";\n"
                                  "kafka = [ \"a=1\", \"b=2\" ];\n"
                                  "retry = { max_attempts = 2; };\n");
        long n;
        int r, done_new = 0, done_load = 0, done_set = 0;

        for (n = 0; n < 200 && !(done_new && done_load && done_set); n++) {
                kbus__alloc_fail_after(n);
                c = NULL;
                r = kbus_config_new(&c);
                kbus__alloc_fail_after(-1);
                if (r == 0)
                        done_new = 1;
                else
                        assert_int_equal(r, KBUS_RESOURCE_EXHAUSTED);
                kbus_config_free(c);

                kbus__alloc_fail_after(n);
                r = kbus_config_load(conf, path, err, sizeof(err));
                kbus__alloc_fail_after(-1);
                if (r == 0) {
                        done_load = 1;
                } else {
                        assert_int_equal(r, KBUS_RESOURCE_EXHAUSTED);
                        assert_string_equal(conf->name, "kbus");
                        assert_int_equal(conf->kafka.n, 0);
                }

                kbus__alloc_fail_after(n);
                r = kbus_config_set(conf, "kafka.x", "y", err, sizeof(err));
                kbus__alloc_fail_after(-1);
                if (r == 0)
                        done_set = 1;
                else
                        assert_int_equal(r, KBUS_RESOURCE_EXHAUSTED);

                /* Back to a fresh state for the next round. */
                kbus_config_free(conf);
                conf = NULL;
                assert_int_equal(kbus_config_new(&conf), 0);
                *state = conf;
        }
        assert_true(done_new && done_load && done_set);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
            T(test_defaults),
            T(test_free_null),
            T(test_get_and_props),
            T(test_null_arguments),
            T(test_load_good_file),
            T(test_load_partial_keeps_other_keys),
            T(test_load_empty_file),
            T(test_load_missing_file),
            T(test_load_directory),
            T(test_load_syntax_error),
            T(test_load_unknown_key),
            T(test_load_unknown_key_typo),
            T(test_load_unknown_retry_key),
            T(test_load_bad_types),
            T(test_load_bad_values),
            T(test_load_bad_http),
            T(test_load_int_overflow),
            T(test_load_props_errors),
            T(test_load_error_in_include),
            T(test_load_error_leaves_conf_unchanged),
            T(test_set_every_key),
            T(test_set_booleans),
            T(test_set_integers_parse_fully),
            T(test_set_unknown_key),
            T(test_set_props),
            T(test_env_overrides),
            T(test_env_unset_or_empty_changes_nothing),
            T(test_env_error_names_variable),
            T(test_props_set_and_fini),
            T(test_copy_is_deep),
            T(test_out_of_memory),
#undef T
        };

        return cmocka_run_group_tests_name("config", tests, group_setup,
                                           group_teardown);
}
