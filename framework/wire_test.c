/*
 * kbus/1 header reading (framework/wire.c): what is accepted, and that
 * each malformed header is refused with a reason naming it; the values a
 * call keeps outlive the header list they were read from.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

static rd_kafka_headers_t *hdrs;

static int setup(void **state) {
        hdrs = rd_kafka_headers_new(8);
        return 0;
}

static int teardown(void **state) {
        rd_kafka_headers_destroy(hdrs);
        return 0;
}

static void add(const char *name, const void *v, size_t n) {
        rd_kafka_header_add(hdrs, name, -1, v, (ssize_t)n);
}

static int read_in(kbus_wire_in *in, char *why) {
        return kbus__wire_read_headers(hdrs, in, why, 256);
}

static void test_full_request(void **state) {
        kbus_wire_in in;
        char why[256];
        const char *tp =
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        add("kbus-method", "/a.B/C", 6);
        add("kafka_correlationId", "0123456789abcdef", 16);
        add("kafka_replyTopic", "r", 1);
        add("kafka_replyPartition", "\0\0\0\x07", 4);
        add("kbus-deadline", "1790000000123", 13);
        add("traceparent", tp, strlen(tp));
        add("kbus-attempts", "2", 1);
        assert_int_equal(read_in(&in, why), 0);
        assert_int_equal(in.method_len, 6);
        assert_memory_equal(in.method, "/a.B/C", 6);
        assert_int_equal(in.corr_len, 16);
        assert_int_equal(in.reply_partition, 7);
        assert_int_equal(in.deadline_ms, 1790000000123LL);
        assert_string_equal(in.traceparent, tp);
        assert_int_equal(in.attempts, 2);
        assert_int_equal(in.status, -1);
}

/* The values are copied, to the buffer when they fit and to one
 * allocation when not, and stay what they were once the list is gone. */
static void test_kept_values_outlive_the_headers(void **state) {
        char big[200], buf[64], why[256], *heap = NULL;
        kbus_wire_in in;
        memset(big, 'r', sizeof(big));
        add("kbus-method", "/a.B/C", 6);
        add("kafka_correlationId", "0123456789abcdef", 16);
        add("kafka_replyTopic", "reply", 5);
        add("ce_type", "a.v1.B", 6);
        assert_int_equal(read_in(&in, why), 0);
        assert_int_equal(kbus__wire_keep(&in, buf, sizeof(buf), &heap), 0);
        assert_null(heap);
        rd_kafka_headers_destroy(hdrs);
        hdrs = rd_kafka_headers_new(8); /* for teardown */
        assert_true(in.method >= buf && in.ce_type < buf + sizeof(buf));
        assert_memory_equal(in.method, "/a.B/C", in.method_len);
        assert_memory_equal(in.corr, "0123456789abcdef", in.corr_len);
        assert_memory_equal(in.reply_topic, "reply", in.reply_topic_len);
        assert_memory_equal(in.ce_type, "a.v1.B", in.ce_type_len);
        assert_null(in.status_message);

        add("kafka_replyTopic", big, sizeof(big) - 1);
        add("ce_type", "a.v1.B", 6);
        assert_int_equal(read_in(&in, why), 0);
        assert_int_equal(kbus__wire_keep(&in, buf, sizeof(buf), &heap), 0);
        assert_non_null(heap);
        rd_kafka_headers_destroy(hdrs);
        hdrs = rd_kafka_headers_new(8);
        assert_ptr_equal(in.reply_topic, heap);
        assert_int_equal(in.reply_topic_len, sizeof(big) - 1);
        assert_memory_equal(in.reply_topic, big, in.reply_topic_len);
        assert_memory_equal(in.ce_type, "a.v1.B", in.ce_type_len);
        free(heap);
}

static void test_no_headers(void **state) {
        kbus_wire_in in;
        char why[256];
        assert_int_equal(kbus__wire_read_headers(NULL, &in, why, 256), 0);
        assert_null(in.method);
        assert_int_equal(in.reply_partition, -1);
        assert_int_equal(in.deadline_ms, 0);
}

static void expect_refused(const char *name, const void *v, size_t n,
                           const char *reason) {
        kbus_wire_in in;
        char why[256] = "";
        add(name, v, n);
        assert_int_equal(read_in(&in, why), KBUS_INVALID_ARGUMENT);
        assert_non_null(strstr(why, reason));
}

static void test_non_numeric_deadline(void **state) {
        expect_refused("kbus-deadline", "soon", 4, "kbus-deadline");
}

static void test_three_byte_partition(void **state) {
        expect_refused("kafka_replyPartition", "\0\0\0", 3,
                       "kafka_replyPartition");
}

static void test_negative_partition(void **state) {
        expect_refused("kafka_replyPartition", "\xff\xff\xff\xff", 4,
                       "non-negative");
}

static void test_empty_correlation_id(void **state) {
        expect_refused("kafka_correlationId", "", 0, "kafka_correlationId");
}

static void test_duplicate_method(void **state) {
        add("kbus-method", "/a.B/C", 6);
        expect_refused("kbus-method", "/a.B/D", 6, "more than once");
}

static void test_bad_status(void **state) {
        expect_refused("kbus-status", "17", 2, "kbus-status");
}

static void test_invalid_traceparent_ignored(void **state) {
        kbus_wire_in in;
        char why[256];
        add("traceparent", "00-zz", 5);
        assert_int_equal(read_in(&in, why), 0);
        assert_string_equal(in.traceparent, "");
}

/* Names that share a length or a beginning with kbus's are not kbus's. */
static void test_similar_names_ignored(void **state) {
        kbus_wire_in in;
        char why[256];
        add("ce_time", "2026-01-01T00:00:00.000Z", 24); /* as long as ce_type */
        add("kbus-statux", "3", 1);                     /* as kbus-status */
        add("kbus-methodx", "/a.B/C", 6);
        add("kbus-metho", "/a.B/C", 6);
        add("ce_type", "a.b", 3);
        assert_int_equal(read_in(&in, why), 0);
        assert_null(in.method);
        assert_int_equal(in.status, -1);
        assert_int_equal(in.ce_type_len, 3);
        assert_memory_equal(in.ce_type, "a.b", 3);
}

/* Reads \p tp (55 bytes) as the only header: whether it was kept. */
static bool traceparent_kept(const char *tp) {
        kbus_wire_in in;
        char why[256];
        rd_kafka_headers_destroy(hdrs);
        hdrs = rd_kafka_headers_new(1);
        add("traceparent", tp, KBUS_TRACEPARENT_LEN);
        assert_int_equal(read_in(&in, why), 0);
        if (in.traceparent[0])
                assert_memory_equal(in.traceparent, tp,
                                    KBUS_TRACEPARENT_LEN + 1);
        return in.traceparent[0] != '\0';
}

/* A traceparent of the right length is kept only if every character is a
 * lower-case hex digit, or a dash where the format has one: each byte value
 * at each place, against the plain definition. */
static void test_traceparent_every_byte(void **state) {
        const char *good =
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        char tp[KBUS_TRACEPARENT_LEN + 1];
        assert_true(traceparent_kept(good));
        for (int i = 0; i < KBUS_TRACEPARENT_LEN; i++)
                for (int c = 0; c < 256; c++) {
                        bool dash = i == 2 || i == 35 || i == 52;
                        bool want = dash ? c == '-'
                                         : (c >= '0' && c <= '9') ||
                                               (c >= 'a' && c <= 'f');
                        memcpy(tp, good, sizeof(tp));
                        tp[i] = (char)c;
                        if (traceparent_kept(tp) != want)
                                fail_msg("byte 0x%02x at %d: %s", c, i,
                                         want ? "refused" : "accepted");
                }
}

static void test_trace_child_keeps_trace_id(void **state) {
        const char *tp =
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        char out[KBUS_TRACEPARENT_LEN + 1], fresh[KBUS_TRACEPARENT_LEN + 1];
        kbus__trace_child(tp, out);
        assert_memory_equal(out, tp, 36);               /* same trace */
        assert_memory_not_equal(out + 36, tp + 36, 16); /* new span */
        kbus__trace_child(NULL, fresh);
        assert_int_equal(strlen(fresh), KBUS_TRACEPARENT_LEN);
        assert_memory_equal(fresh, "00-", 3);
}

/* ce_time: what CloudEvents producers write (RFC 3339), and what must be
 * refused rather than misread. */
static void test_time_parse(void **state) {
        static const struct {
                const char *text;
                int64_t ms; /* -1: refused */
        } cases[] = {
            {"2023-11-14T22:13:20Z", 1700000000000LL},
            {"2023-11-14T22:13:20.123Z", 1700000000123LL},
            {"2023-11-14T22:13:20.1Z", 1700000000100LL},
            {"2023-11-14T22:13:20.123456789Z", 1700000000123LL},
            {"2023-11-14t22:13:20z", 1700000000000LL},
            {"2023-11-14 22:13:20Z", 1700000000000LL},
            {"2023-11-14T23:13:20+01:00", 1700000000000LL},
            {"2023-11-14T20:43:20-01:30", 1700000000000LL},
            {"1970-01-01T00:00:00Z", 0},
            {"2024-02-29T00:00:00Z", 1709164800000LL},
            {"2000-03-01T00:00:00Z", 951868800000LL},
            {"2023-11-14T22:13:20", -1},      /* no zone */
            {"2023-11-14T22:13:20.Z", -1},    /* no fraction digits */
            {"2023-11-14T24:00:00Z", -1},     /* hour */
            {"2023-13-14T22:13:20Z", -1},     /* month */
            {"2023-02-29T00:00:00Z", -1},     /* not a leap year */
            {"1900-02-29T00:00:00Z", -1},     /* nor this */
            {"2023-11-14T22:13:20Zx", -1},    /* trailing text */
            {"2023-11-14T22:13:20+0100", -1}, /* offset without colon */
            {"yesterday", -1},
            {"", -1},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int64_t ms = -1;
                int rc = kbus__wire_time_parse(cases[i].text,
                                               strlen(cases[i].text), &ms);
                if (cases[i].ms < 0 ? rc == 0 : rc != 0 || ms != cases[i].ms)
                        fail_msg("\"%s\": rc %d, %" PRId64, cases[i].text, rc,
                                 ms);
        }
        {
                /* The length counts, not a NUL. */
                int64_t ms = 0;
                assert_int_equal(kbus__wire_time_parse(
                                     "2023-11-14T22:13:20Zgarbage", 20, &ms),
                                 0);
                assert_int_equal(ms, 1700000000000LL);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_full_request, setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_headers, setup, teardown),
            cmocka_unit_test_setup_teardown(
                test_kept_values_outlive_the_headers, setup, teardown),
            cmocka_unit_test_setup_teardown(test_non_numeric_deadline, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_three_byte_partition, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_negative_partition, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_empty_correlation_id, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_duplicate_method, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_bad_status, setup, teardown),
            cmocka_unit_test_setup_teardown(test_invalid_traceparent_ignored,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_traceparent_every_byte, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_similar_names_ignored, setup,
                                            teardown),
            cmocka_unit_test(test_trace_child_keeps_trace_id),
            cmocka_unit_test(test_time_parse),
        };
        return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
