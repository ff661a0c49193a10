/*
 * setup_test.c: kbus_runtime_new_from_file(), the one call that turns an
 * application name, an optional configuration file and the environment
 * into a runtime.
 *
 * What programs rely on: the name is used unless the file renames it, the
 * file's keys are applied, the KBUS_* variables override both, and every
 * failure leaves *rtp NULL with a message naming the file and line (or the
 * variable).  Runtimes here use the embedded broker, or an address nothing
 * is asked of, so nothing outside the process is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <kbus/kbus.h>

static char dir[256];
static char path[320];
static char err[1024];

static const char *write_conf(const char *text) {
        FILE *fp;

        snprintf(path, sizeof(path), "%s/app.cfg", dir);
        fp = fopen(path, "w");
        assert_non_null(fp);
        assert_true(fputs(text, fp) >= 0);
        assert_int_equal(fclose(fp), 0);
        return path;
}

#define assert_prefix(s, prefix)                                               \
        do {                                                                   \
                if (strncmp((s), (prefix), strlen(prefix)))                    \
                        fail_msg("\"%s\" does not start with \"%s\"", (s),     \
                                 (prefix));                                    \
        } while (0)

#define assert_contains(hay, needle)                                           \
        do {                                                                   \
                if (!strstr((hay), (needle)))                                  \
                        fail_msg("\"%s\" does not contain \"%s\"", (hay),      \
                                 (needle));                                    \
        } while (0)

static int group_setup(void **state) {
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof(dir), "%s/kbus_setup_test.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state) {
        unlink(path);
        return rmdir(dir);
}

static int setup(void **state) {
        unsetenv("KBUS_BOOTSTRAP");
        unsetenv("KBUS_GROUP");
        unsetenv("KBUS_LOG_LEVEL");
        unsetenv("KBUS_LOW_LATENCY");
        err[0] = '\0';
        return 0;
}

/* No file: the name given, everything else by default. */
static void test_name_without_file(void **state) {
        kbus_runtime *rt = NULL;

        assert_int_equal(kbus_runtime_new_from_file(&rt, "setup-app", NULL,
                                                    NULL, err, sizeof(err)),
                         KBUS_OK);
        assert_non_null(rt);
        /* The generated reply topic starts with the name. */
        assert_prefix(kbus_runtime_reply_topic(rt), "setup-app.replies.");
        assert_non_null(kbus_runtime_mock(rt)); /* "embedded" by default */
        kbus_runtime_free(rt);
}

/* The file's keys are applied, and it may rename the program. */
static void test_file_applied(void **state) {
        kbus_runtime *rt = NULL;
        const char *p = write_conf("name = \"renamed\";\n"
                                   "http = \"127.0.0.1:0\";\n");

        assert_int_equal(kbus_runtime_new_from_file(&rt, "setup-app", p, NULL,
                                                    err, sizeof(err)),
                         KBUS_OK);
        assert_prefix(kbus_runtime_reply_topic(rt), "renamed.replies.");
        assert_true(kbus_runtime_http_port(rt) > 0);
        kbus_runtime_free(rt);

        p = write_conf("reply_topic = \"fixed.replies\";\n");
        assert_int_equal(kbus_runtime_new_from_file(&rt, "setup-app", p, NULL,
                                                    err, sizeof(err)),
                         KBUS_OK);
        assert_string_equal(kbus_runtime_reply_topic(rt), "fixed.replies");
        kbus_runtime_free(rt);
}

/* KBUS_BOOTSTRAP overrides the file's bootstrap. */
static void test_environment_overrides_file(void **state) {
        kbus_runtime *rt = NULL;
        const char *p = write_conf("bootstrap = \"embedded\";\n");

        /* Nothing listens there; creating the runtime asks nothing of it. */
        setenv("KBUS_BOOTSTRAP", "127.0.0.1:1", 1);
        assert_int_equal(kbus_runtime_new_from_file(&rt, "setup-app", p, NULL,
                                                    err, sizeof(err)),
                         KBUS_OK);
        assert_string_equal(kbus_runtime_bootstrap(rt), "127.0.0.1:1");
        assert_null(kbus_runtime_mock(rt));
        kbus_runtime_free(rt);
}

/* A bad file: FILE:LINE and the key, and no runtime. */
static void test_bad_file_names_file_and_line(void **state) {
        kbus_runtime *rt = (kbus_runtime *)&rt; /* must be reset */
        const char *p = write_conf("name = \"ok\";\n"
                                   "\n"
                                   "timeout_ms = \"soon\";\n");
        char where[400];

        assert_int_equal(kbus_runtime_new_from_file(&rt, "setup-app", p, NULL,
                                                    err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_null(rt);
        snprintf(where, sizeof(where), "%s:3: ", p);
        assert_prefix(err, where);
        assert_contains(err, "timeout_ms");
}

static void test_missing_file(void **state) {
        kbus_runtime *rt = (kbus_runtime *)&rt;
        char missing[400];

        snprintf(missing, sizeof(missing), "%s/no-such.cfg", dir);
        assert_int_equal(kbus_runtime_new_from_file(&rt, "setup-app", missing,
                                                    NULL, err, sizeof(err)),
                         KBUS_NOT_FOUND);
        assert_null(rt);
        assert_prefix(err, missing);
}

/* A bad variable is named, and no runtime is made. */
static void test_bad_environment_names_variable(void **state) {
        kbus_runtime *rt = (kbus_runtime *)&rt;

        setenv("KBUS_LOG_LEVEL", "loud", 1);
        assert_int_equal(kbus_runtime_new_from_file(&rt, "setup-app", NULL,
                                                    NULL, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_null(rt);
        assert_contains(err, "KBUS_LOG_LEVEL");
        assert_contains(err, "loud");
}

/* A name that cannot be part of a topic name is refused up front. */
static void test_bad_name_or_arguments(void **state) {
        kbus_runtime *rt = (kbus_runtime *)&rt;

        assert_int_equal(kbus_runtime_new_from_file(&rt, "no spaces", NULL,
                                                    NULL, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_null(rt);
        assert_contains(err, "name");
        assert_int_equal(
            kbus_runtime_new_from_file(&rt, NULL, NULL, NULL, err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_int_equal(
            kbus_runtime_new_from_file(NULL, "x", NULL, NULL, err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup(f, setup)
            T(test_name_without_file),
            T(test_file_applied),
            T(test_environment_overrides_file),
            T(test_bad_file_names_file_and_line),
            T(test_missing_file),
            T(test_bad_environment_names_variable),
            T(test_bad_name_or_arguments),
#undef T
        };

        return cmocka_run_group_tests_name("setup", tests, group_setup,
                                           group_teardown);
}
