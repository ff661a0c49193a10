/*
 * log_test.c: kbus_log(), the JSON-lines log call for programs.
 *
 * Log shippers and the example tests read these lines, so the tests pin
 * down what each line must be: one JSON object with ts, level, component
 * and msg, exactly like the library's own lines; any message survives the
 * round trip through JSON; the level filters; the component is the
 * program's unless it sets one.  stderr is redirected into a file for each
 * capture.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "kbus_int.h"

static char captured[8192];
static FILE *capture_fp;
static int saved_fd = -1;

static void capture_begin(void) {
        fflush(stderr);
        capture_fp = tmpfile();
        assert_non_null(capture_fp);
        saved_fd = dup(2);
        assert_true(saved_fd >= 0);
        assert_true(dup2(fileno(capture_fp), 2) >= 0);
}

/* Restores stderr; returns what was written meanwhile. */
static const char *capture_end(void) {
        size_t n;

        fflush(stderr);
        assert_true(dup2(saved_fd, 2) >= 0);
        close(saved_fd);
        rewind(capture_fp);
        n = fread(captured, 1, sizeof(captured) - 1, capture_fp);
        captured[n] = '\0';
        fclose(capture_fp);
        return captured;
}

/* Parses \p line (one line, ending in \n) as a JSON object. */
static json_t *parse_line(const char *line) {
        json_error_t jerr;
        const char *nl = strchr(line, '\n');
        json_t *j;

        assert_non_null(nl);
        assert_null(strchr(nl + 1, '\n')); /* exactly one line */
        j = json_loadb(line, (size_t)(nl - line), 0, &jerr);
        if (!j)
                fail_msg("not JSON: %s (%s)", line, jerr.text);
        assert_true(json_is_object(j));
        return j;
}

static const char *field(json_t *j, const char *key) {
        json_t *v = json_object_get(j, key);

        if (!json_is_string(v))
                fail_msg("no string field \"%s\"", key);
        return json_string_value(v);
}

/* Runs first: before any runtime, KBUS_LOG_LEVEL decides the level. */
static void test_level_from_environment(void **state) {
        setenv("KBUS_LOG_LEVEL", "WARN", 1);
        capture_begin();
        kbus_log(KBUS_LOG_INFO, "not shown");
        kbus_log(KBUS_LOG_WARN, "shown");
        capture_end();
        unsetenv("KBUS_LOG_LEVEL");
        assert_null(strstr(captured, "not shown"));
        assert_non_null(strstr(captured, "\"msg\":\"shown\""));
}

/* A runtime sets the level from its configuration (kbus__log_min_level);
 * kbus_log() follows it. */
static void test_level_follows_runtime(void **state) {
        kbus__log_min_level = KBUS_LOG_ERROR;
        capture_begin();
        kbus_log(KBUS_LOG_WARN, "dropped");
        kbus_log(KBUS_LOG_ERROR, "kept");
        capture_end();
        assert_null(strstr(captured, "dropped"));
        assert_non_null(strstr(captured, "kept"));

        kbus__log_min_level = KBUS_LOG_DEBUG;
        capture_begin();
        kbus_log(KBUS_LOG_DEBUG, "debug now");
        capture_end();
        assert_non_null(strstr(captured, "\"level\":\"debug\""));
        kbus__log_min_level = KBUS_LOG_INFO;
}

/* The same fields, in the same order, as the library's own lines. */
static void test_same_format_as_library(void **state) {
        static const char *const keys[] = {"ts", "level", "component", "msg"};
        char lib[sizeof(captured)];
        regex_t ts_re;
        json_t *a, *b;
        const char *k;
        json_t *v;
        size_t i;

        capture_begin();
        kbus__log(KBUS_LOG_INFO, "runtime", NULL, "from the library");
        capture_end();
        snprintf(lib, sizeof(lib), "%s", captured);
        capture_begin();
        kbus_log(KBUS_LOG_INFO, "from the program %d", 42);
        capture_end();

        a = parse_line(lib);
        b = parse_line(captured);
        assert_int_equal(json_object_size(a), 4);
        assert_int_equal(json_object_size(b), 4);
        /* In this order in the text, as log readers may expect. */
        for (i = 0; i < 4; i++) {
                char quoted[32];
                snprintf(quoted, sizeof(quoted), "\"%s\":", keys[i]);
                assert_non_null(strstr(captured, quoted));
                if (i > 0) {
                        char prev[32];
                        snprintf(prev, sizeof(prev), "\"%s\":", keys[i - 1]);
                        assert_true(strstr(captured, prev) <
                                    strstr(captured, quoted));
                }
        }
        json_object_foreach(b, k, v) assert_non_null(json_object_get(a, k));
        assert_string_equal(field(b, "level"), "info");
        assert_string_equal(field(b, "msg"), "from the program 42");
        assert_int_equal(
            regcomp(&ts_re,
                    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                    "[0-9]{2}\\.[0-9]{3}Z$",
                    REG_EXTENDED | REG_NOSUB),
            0);
        assert_int_equal(regexec(&ts_re, field(b, "ts"), 0, NULL, 0), 0);
        regfree(&ts_re);
        json_decref(a);
        json_decref(b);
}

static void test_levels_named(void **state) {
        static const char *const names[] = {"debug", "info", "warn", "error"};
        json_t *j;

        kbus__log_min_level = KBUS_LOG_DEBUG;
        for (int l = KBUS_LOG_DEBUG; l <= KBUS_LOG_ERROR; l++) {
                capture_begin();
                kbus_log((kbus_log_level)l, "x");
                capture_end();
                j = parse_line(captured);
                assert_string_equal(field(j, "level"), names[l]);
                json_decref(j);
        }
        kbus__log_min_level = KBUS_LOG_INFO;
}

/* The program's name by default; what the program sets; the default again
 * after NULL. */
static void test_component(void **state) {
        char longname[100];
        json_t *j;

        capture_begin();
        kbus_log(KBUS_LOG_INFO, "a");
        capture_end();
        j = parse_line(captured);
        assert_string_equal(field(j, "component"), "log_test");
        json_decref(j);

        kbus_log_set_component("orders");
        capture_begin();
        kbus_log(KBUS_LOG_INFO, "b");
        capture_end();
        j = parse_line(captured);
        assert_string_equal(field(j, "component"), "orders");
        json_decref(j);

        memset(longname, 'c', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        kbus_log_set_component(longname);
        capture_begin();
        kbus_log(KBUS_LOG_INFO, "c");
        capture_end();
        j = parse_line(captured);
        assert_int_equal(strlen(field(j, "component")), 63);
        json_decref(j);

        kbus_log_set_component(NULL);
        capture_begin();
        kbus_log(KBUS_LOG_INFO, "d");
        capture_end();
        j = parse_line(captured);
        assert_string_equal(field(j, "component"), "log_test");
        json_decref(j);
}

/* Whatever the message holds, the line is one valid JSON object and the
 * message comes back unchanged. */
static void test_message_escaped(void **state) {
        const char *msg = "quote \" backslash \\ newline \n tab \t bell \a "
                          "utf-8 \xc3\xa9 end";
        json_t *j;

        kbus_log_set_component("we \"quote\"");
        capture_begin();
        kbus_log(KBUS_LOG_INFO, "%s", msg);
        capture_end();
        j = parse_line(captured);
        assert_string_equal(field(j, "msg"), msg);
        assert_string_equal(field(j, "component"), "we \"quote\"");
        json_decref(j);
        kbus_log_set_component(NULL);
}

/* A message too long for a line is cut, and the line is still valid. */
static void test_long_message_cut(void **state) {
        char big[4000];
        json_t *j;

        memset(big, '"', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        capture_begin();
        kbus_log(KBUS_LOG_INFO, "%s", big);
        capture_end();
        j = parse_line(captured);
        assert_true(strlen(field(j, "msg")) > 100);
        json_decref(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            /* First: the environment is read before the first line. */
            cmocka_unit_test(test_level_from_environment),
            cmocka_unit_test(test_level_follows_runtime),
            cmocka_unit_test(test_same_format_as_library),
            cmocka_unit_test(test_levels_named),
            cmocka_unit_test(test_component),
            cmocka_unit_test(test_message_escaped),
            cmocka_unit_test(test_long_message_cut),
        };

        unsetenv("KBUS_LOG_LEVEL");
        return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
