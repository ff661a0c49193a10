/*
 * timestamp (timestamp.c): the times log lines start with, the zones and
 * fractions they come with, and what is not a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "timestamp.h"

/* 2024-05-01T12:00:00Z */
#define T0 INT64_C(1714564800000)

static int64_t parse(const char *line) {
        int64_t ms = -1;
        if (!timestamp_parse(line, strlen(line), &ms))
                return -1;
        return ms;
}

static void test_forms(void **state) {
        (void)state;
        assert_int_equal(parse("2024-05-01T12:00:00Z"), T0);
        assert_int_equal(parse("2024-05-01T12:00:00.123Z ERROR x"), T0 + 123);
        assert_int_equal(parse("2024-05-01t12:00:00.5z"), T0 + 500);
        /* More digits than milliseconds: cut, not rounded. */
        assert_int_equal(parse("2024-05-01T12:00:00.123999999Z"), T0 + 123);
        /* A blank for the T, a comma for the point (Python, log4j). */
        assert_int_equal(parse("2024-05-01 12:00:01,250 WARN y"), T0 + 1250);
        /* In brackets. */
        assert_int_equal(parse("[2024-05-01 12:00:00] [error] z"), T0);
        /* No zone: UTC. */
        assert_int_equal(parse("2024-05-01T12:00:00 INFO"), T0);
        /* The whole line. */
        assert_int_equal(parse("2024-05-01T12:00:00"), T0);
}

static void test_zones(void **state) {
        (void)state;
        assert_int_equal(parse("2024-05-01T14:00:00+02:00 x"), T0);
        assert_int_equal(parse("2024-05-01T14:00:00+0200 x"), T0);
        assert_int_equal(parse("2024-05-01T14:00:00+02 x"), T0);
        assert_int_equal(parse("2024-05-01T06:30:00-05:30"), T0);
        /* Across a day and a year. */
        assert_int_equal(parse("2024-01-01T01:00:00+02:00"),
                         INT64_C(1704063600000));
        assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
        assert_int_equal(parse("1969-12-31T23:59:59Z"), -1000);
        /* 29 February of a leap year, and a leap second. */
        assert_int_equal(parse("2024-02-29T00:00:00Z"), INT64_C(1709164800000));
        assert_int_equal(parse("2016-12-31T23:59:60Z"), INT64_C(1483228799999));
}

static void test_not_times(void **state) {
        int64_t ms = 42;
        (void)state;
        assert_int_equal(parse(""), -1);
        assert_int_equal(parse("ERROR 2024-05-01T12:00:00Z late in the line"),
                         -1);
        assert_int_equal(parse("2024-05-01"), -1);
        assert_int_equal(parse("2024-05-01T12:00"), -1);
        assert_int_equal(parse("2024-5-01T12:00:00Z"), -1);
        assert_int_equal(parse("2024-13-01T12:00:00Z"), -1);
        assert_int_equal(parse("2023-02-29T12:00:00Z"), -1);
        assert_int_equal(parse("2024-04-31T12:00:00Z"), -1);
        assert_int_equal(parse("2024-05-01T24:00:00Z"), -1);
        assert_int_equal(parse("2024-05-01T12:60:00Z"), -1);
        assert_int_equal(parse("2024-05-01T12:00:61Z"), -1);
        assert_int_equal(parse("2024-05-01T12:00:00+2"), -1);
        assert_int_equal(parse("2024-05-01T12:00:00+02:7"), -1);
        assert_int_equal(parse("2024-05-01T12:00:00+02:60"), -1);
        /* A word that goes on: not a time followed by something. */
        assert_int_equal(parse("2024-05-01T12:00:00Zebra"), -1);
        assert_int_equal(parse("2024-05-01T12:00:000"), -1);
        assert_int_equal(parse("May  1 12:00:00 host prog: syslog"), -1);
        /* Only \p len bytes count: a time cut short is none. */
        assert_int_equal(timestamp_parse("2024-05-01T12:00:00Z", 15, &ms), 0);
        assert_int_equal(ms, 42);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_forms),
            cmocka_unit_test(test_zones),
            cmocka_unit_test(test_not_times),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
