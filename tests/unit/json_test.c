/*
 * json_test: the proto3 JSON mapping (framework/json.c) and descriptor
 * pools (framework/json_pool.c), against the mapping's rules.
 *
 * The pool is built from json_test.desc, which protoc writes from
 * json_test.proto at build time; json_test.bin is json_test.txt encoded by
 * protoc itself, so the bytes our descriptors read and write are checked
 * against protobuf's own encoder, not against ourselves.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "kbus/json.h"

#ifndef JSON_TEST_DIR
#define JSON_TEST_DIR "tests/unit"
#endif

static kbus_json_pool *pool;
static const ProtobufCMessageDescriptor *all_desc;
static char err[512];

static int setup(void **state) {
        (void)state;
        if (kbus_json_pool_load(&pool, JSON_TEST_DIR "/json_test.desc", err,
                                sizeof(err))) {
                fprintf(stderr, "json_test: %s\n", err);
                return -1;
        }
        all_desc = kbus_json_pool_message(pool, "jt.v1.All");
        return all_desc ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        kbus_json_pool_free(pool);
        return 0;
}

static void *read_file(const char *path, size_t *len) {
        FILE *fp = fopen(path, "rb");
        char *buf = malloc(1 << 16);
        assert_non_null(fp);
        *len = fread(buf, 1, 1 << 16, fp);
        fclose(fp);
        return buf;
}

/* JSON text -> protobuf -> JSON text, with the flags given. */
static char *round_trip(const char *type, const char *json, unsigned flags) {
        const ProtobufCMessageDescriptor *d =
            kbus_json_pool_message(pool, type);
        void *bin;
        size_t n;
        char *out;

        assert_non_null(d);
        if (kbus_json_to_protobuf(d, json, strlen(json), 0, &bin, &n, err,
                                  sizeof(err)))
                fail_msg("to_protobuf(%s): %s", json, err);
        if (kbus_json_from_protobuf(d, bin, n, flags, &out, err, sizeof(err)))
                fail_msg("from_protobuf: %s", err);
        kbus_json_free(bin);
        return out;
}

static void expect_round_trip(const char *type, const char *in,
                              const char *want) {
        char *out = round_trip(type, in, 0);
        assert_string_equal(out, want);
        kbus_json_free(out);
}

/* Decoding \p json as \p type fails with exactly \p want. */
static void expect_error(const char *type, const char *json, const char *want) {
        const ProtobufCMessageDescriptor *d =
            kbus_json_pool_message(pool, type);
        ProtobufCMessage *m = NULL;

        err[0] = '\0';
        assert_int_equal(
            kbus_json_decode(d, json, strlen(json), 0, &m, err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_null(m);
        assert_string_equal(err, want);
}

/* What json_test.txt is, in the mapping's canonical form. */
static const char canonical[] =
    "{\"i32\":-42,\"i64\":\"-9007199254740993\",\"u32\":4294967295,"
    "\"u64\":\"18446744073709551615\",\"s32\":-7,\"s64\":\"-8\",\"f32\":9,"
    "\"f64\":\"10\",\"sf32\":-11,\"sf64\":\"-12\",\"fl\":0.1,"
    "\"db\":2.5e-300,\"b\":true,\"str\":\"h\xc3\xa9llo \\\"q\\\"\\n\","
    "\"by\":\"AAEC+/8=\",\"color\":\"COLOR_GREEN\","
    "\"item\":{\"sku\":\"A-1\",\"quantity\":3,\"unitPriceCents\":\"250\"},"
    "\"items\":[{\"sku\":\"B\",\"quantity\":1},"
    "{\"sku\":\"C\",\"quantity\":2,\"unitPriceCents\":\"5\"}],"
    "\"nums\":[1,-2,3],\"names\":[\"x\",\"\"],"
    "\"counts\":{\"a\":\"1\",\"b\":\"-2\"},\"byId\":{\"7\":{\"sku\":\"S\"}},"
    "\"number\":0,\"at\":\"1972-01-01T12:00:20.021Z\",\"took\":\"-1.500s\","
    "\"nothing\":{},\"big\":\"5\",\"label\":\"\",\"flag\":false,"
    "\"meta\":{\"k\":[1,null,\"s\",true,{}]},"
    "\"mask\":\"user.displayName,photo\","
    "\"colors\":[\"COLOR_RED\",\"COLOR_UNSPECIFIED\"],\"custom\":\"j\","
    "\"flags\":{\"true\":\"yes\"},\"maybe\":0,\"ratio\":0.25,\"blob\":\"/"
    "w==\"}";

/* protoc's bytes read as the canonical JSON, and that JSON written back
 * gives protoc's bytes again: the run-time layout, packing and every
 * field kind agree with protobuf's own encoder. */
static void test_protoc_bytes(void **state) {
        size_t n, n2;
        void *bin = read_file(JSON_TEST_DIR "/json_test.bin", &n), *bin2;
        char *out;

        (void)state;
        if (kbus_json_from_protobuf(all_desc, bin, n, 0, &out, err,
                                    sizeof(err)))
                fail_msg("%s", err);
        assert_string_equal(out, canonical);
        if (kbus_json_to_protobuf(all_desc, out, strlen(out), 0, &bin2, &n2,
                                  err, sizeof(err)))
                fail_msg("%s", err);
        assert_int_equal(n2, n);
        assert_memory_equal(bin2, bin, n);
        kbus_json_free(out);
        kbus_json_free(bin2);
        free(bin);
}

static void test_names(void **state) {
        char *out;

        (void)state;
        /* Output: json names; input: json or proto names. */
        expect_round_trip("jt.v1.Item", "{\"unit_price_cents\":\"7\"}",
                          "{\"unitPriceCents\":\"7\"}");
        expect_round_trip("jt.v1.Item", "{\"unitPriceCents\":7}",
                          "{\"unitPriceCents\":\"7\"}");
        expect_round_trip("jt.v1.All", "{\"field_with_json\":\"a\"}",
                          "{\"custom\":\"a\"}");
        expect_round_trip("jt.v1.All", "{\"custom\":\"a\"}",
                          "{\"custom\":\"a\"}");
        out = round_trip("jt.v1.Item", "{\"unitPriceCents\":7}",
                         KBUS_JSON_PROTO_NAMES);
        assert_string_equal(out, "{\"unit_price_cents\":\"7\"}");
        kbus_json_free(out);
        expect_error("jt.v1.Item",
                     "{\"unitPriceCents\":1,\"unit_price_cents\":2}",
                     "unit_price_cents: field given twice (as its json name "
                     "and its proto name)");
}

static void test_defaults(void **state) {
        char *out;

        (void)state;
        expect_round_trip(
            "jt.v1.Item",
            "{\"sku\":\"\",\"quantity\":0,\"unitPriceCents\":\"0\"}", "{}");
        expect_round_trip("jt.v1.All",
                          "{\"color\":\"COLOR_UNSPECIFIED\","
                          "\"nums\":[],\"counts\":{},\"b\":false}",
                          "{}");
        /* null is "not set" */
        expect_round_trip("jt.v1.All", "{\"item\":null,\"i32\":null}", "{}");
        /* set wrappers, oneof members and proto3 optional show defaults */
        expect_round_trip("jt.v1.All", "{\"text\":\"\",\"maybe\":0,\"big\":0}",
                          "{\"text\":\"\",\"big\":\"0\",\"maybe\":0}");
        out = round_trip("jt.v1.Item", "{}", KBUS_JSON_EMIT_DEFAULTS);
        assert_string_equal(out, "{\"sku\":\"\",\"quantity\":0,"
                                 "\"unitPriceCents\":\"0\"}");
        kbus_json_free(out);
}

static void test_integers(void **state) {
        (void)state;
        /* 64-bit out as strings, in as strings or numbers */
        expect_round_trip("jt.v1.All",
                          "{\"i64\":-5,\"u64\":\"18446744073709551615\","
                          "\"s64\":\"7\",\"f64\":1e3,\"sf64\":\"-1\"}",
                          "{\"i64\":\"-5\",\"u64\":\"18446744073709551615\","
                          "\"s64\":\"7\",\"f64\":\"1000\",\"sf64\":\"-1\"}");
        expect_round_trip("jt.v1.All",
                          "{\"i32\":\"-3\",\"u32\":4294967295,\"sf32\":2.0}",
                          "{\"i32\":-3,\"u32\":4294967295,\"sf32\":2}");
        expect_round_trip("jt.v1.All", "{\"i64\":\"-9223372036854775808\"}",
                          "{\"i64\":\"-9223372036854775808\"}");
        expect_error("jt.v1.All", "{\"i32\":2147483648}",
                     "i32: 2147483648 is out of range for int32");
        expect_error("jt.v1.All", "{\"u32\":-1}",
                     "u32: -1 is out of range for an unsigned field");
        expect_error("jt.v1.All", "{\"i32\":1.5}",
                     "i32: expected an integer, got 1.5");
        expect_error("jt.v1.All", "{\"i64\":\"12x\"}",
                     "i64: expected an integer, got \"12x\"");
        expect_error("jt.v1.All", "{\"u64\":\"-1\"}",
                     "u64: expected an integer, got \"-1\"");
        expect_error("jt.v1.All", "{\"i32\":true}",
                     "i32: expected an integer, got a boolean");
}

static void test_floats(void **state) {
        (void)state;
        expect_round_trip("jt.v1.All", "{\"fl\":\"NaN\",\"db\":\"-Infinity\"}",
                          "{\"fl\":\"NaN\",\"db\":\"-Infinity\"}");
        expect_round_trip("jt.v1.All",
                          "{\"fl\":3.4028234663852886e38,"
                          "\"db\":\"0.30000000000000004\"}",
                          "{\"fl\":3.4028235e+38,"
                          "\"db\":0.30000000000000004}");
        expect_round_trip("jt.v1.All", "{\"fl\":1,\"db\":1e-320}",
                          "{\"fl\":1,\"db\":1e-320}");
        expect_error("jt.v1.All", "{\"fl\":1e39}",
                     "fl: 1e+39 is out of range for float");
        expect_error("jt.v1.All", "{\"db\":\"fast\"}",
                     "db: expected a number, got \"fast\"");
}

static void test_enums(void **state) {
        char *out;
        const ProtobufCMessageDescriptor *d = all_desc;
        ProtobufCMessage *m;

        (void)state;
        expect_round_trip("jt.v1.All",
                          "{\"color\":1,\"colors\":[2,\"COLOR_RED\"]}",
                          "{\"color\":\"COLOR_RED\","
                          "\"colors\":[\"COLOR_GREEN\",\"COLOR_RED\"]}");
        /* a number the enum does not name stays a number (open enums) */
        expect_round_trip("jt.v1.All", "{\"color\":9}", "{\"color\":9}");
        expect_error("jt.v1.All", "{\"color\":\"BLUE\"}",
                     "color: \"BLUE\" is not a value of enum jt.v1.Color");
        expect_error("jt.v1.All", "{\"colors\":[\"COLOR_RED\",\"PINK\"]}",
                     "colors[1]: \"PINK\" is not a value of enum jt.v1.Color");
        /* ... unless unknown names are to be ignored */
        static const char in[] =
            "{\"color\":\"BLUE\",\"colors\":[\"PINK\",\"COLOR_RED\"],\"x\":1}";
        assert_int_equal(kbus_json_decode(d, in, strlen(in),
                                          KBUS_JSON_IGNORE_UNKNOWN, &m, err,
                                          sizeof(err)),
                         0);
        assert_int_equal(kbus_json_encode(m, 0, &out, err, sizeof(err)), 0);
        assert_string_equal(out, "{\"colors\":[\"COLOR_RED\"]}");
        kbus_json_free(out);
        kbus_json_message_free(m);
}

static void test_bytes_and_strings(void **state) {
        (void)state;
        /* URL-safe alphabet and missing padding are accepted */
        expect_round_trip("jt.v1.All", "{\"by\":\"-_8\"}", "{\"by\":\"+/8=\"}");
        expect_round_trip("jt.v1.All", "{\"by\":\"AQ\"}", "{\"by\":\"AQ==\"}");
        expect_error("jt.v1.All", "{\"by\":\"A*==\"}",
                     "by: not valid base64 (character 2)");
        expect_error("jt.v1.All", "{\"by\":\"A\"}", "by: not valid base64");
        expect_round_trip("jt.v1.All",
                          "{\"str\":\"tab\\there \\u0001 \\u00e9\"}",
                          "{\"str\":\"tab\\there \\u0001 \xc3\xa9\"}");
        expect_error("jt.v1.All", "{\"str\":5}",
                     "str: expected a string, got a number");
        expect_error("jt.v1.All", "{\"str\":\"a\\u0000b\"}",
                     "str: a string with a NUL character (\\u0000) cannot be "
                     "stored");
}

static void test_nested_and_paths(void **state) {
        (void)state;
        expect_error("jt.v1.All",
                     "{\"items\":[{\"sku\":\"a\"},{\"quantity\":1},"
                     "{\"quantity\":\"two\"}]}",
                     "items[2].quantity: expected an integer, got \"two\"");
        expect_error("jt.v1.All", "{\"item\":{\"colour\":1}}",
                     "item.colour: unknown field (jt.v1.Item has no field of "
                     "that name)");
        expect_error("jt.v1.All", "{\"counts\":{\"a\":1,\"b\":\"x\"}}",
                     "counts[\"b\"]: expected an integer, got \"x\"");
        expect_error("jt.v1.All", "{\"byId\":{\"x\":{}}}",
                     "byId[\"x\"]: expected an integer, got \"x\"");
        expect_error("jt.v1.All", "{\"item\":[]}",
                     "item: expected an object (jt.v1.Item), got an array");
        expect_error("jt.v1.All", "{\"items\":{}}",
                     "items: expected an array, got an object");
        expect_error("jt.v1.All", "[]",
                     "expected an object (jt.v1.All), got an array");
        expect_error("jt.v1.All", "{\"i32\":1,}",
                     "bad JSON at line 1, column 10: string or '}' expected "
                     "near '}'");
        expect_error("jt.v1.All", "{\"i32\":1,\"i32\":2}",
                     "bad JSON at line 1, column 14: duplicate object key "
                     "near '\"i32\"'");
        expect_error("jt.v1.All", "{\"text\":\"a\",\"number\":1}",
                     "number: only one field of a oneof may be set, and text "
                     "is already");
        expect_round_trip("jt.v1.All", "{\"thing\":{\"sku\":\"t\"}}",
                          "{\"thing\":{\"sku\":\"t\"}}");
        expect_round_trip(
            "jt.v1.All", "{\"flags\":{\"false\":\"no\"},\"byId\":{\"-3\":{}}}",
            "{\"byId\":{\"-3\":{}},\"flags\":{\"false\":\"no\"}}");
        expect_error("jt.v1.All", "{\"flags\":{\"yes\":\"no\"}}",
                     "flags[\"yes\"]: map key \"yes\" is not true or false");
}

static void test_well_known_types(void **state) {
        (void)state;
        expect_round_trip("jt.v1.All",
                          "{\"at\":\"2024-02-29T23:59:59.5+01:30\"}",
                          "{\"at\":\"2024-02-29T22:29:59.500Z\"}");
        expect_round_trip("jt.v1.All", "{\"at\":\"0001-01-01T00:00:00Z\"}",
                          "{\"at\":\"0001-01-01T00:00:00Z\"}");
        expect_round_trip("jt.v1.All",
                          "{\"at\":\"1969-12-31T23:59:59.000000001Z\"}",
                          "{\"at\":\"1969-12-31T23:59:59.000000001Z\"}");
        expect_error("jt.v1.All", "{\"at\":\"2023-02-29T00:00:00Z\"}",
                     "at: expected an RFC 3339 time such as "
                     "\"2024-05-01T12:30:00Z\", got \"2023-02-29T00:00:00Z\"");
        expect_error("jt.v1.All", "{\"at\":\"2024-01-01 00:00:00Z\"}",
                     "at: expected an RFC 3339 time such as "
                     "\"2024-05-01T12:30:00Z\", got \"2024-01-01 00:00:00Z\"");
        expect_round_trip("jt.v1.All", "{\"took\":\"1.5s\"}",
                          "{\"took\":\"1.500s\"}");
        expect_round_trip("jt.v1.All", "{\"took\":\"-0.000000001s\"}",
                          "{\"took\":\"-0.000000001s\"}");
        expect_round_trip("jt.v1.All", "{\"took\":\"3s\"}",
                          "{\"took\":\"3s\"}");
        expect_error("jt.v1.All", "{\"took\":\"1.5\"}",
                     "took: expected a duration such as \"1.5s\", got \"1.5\"");
        expect_error(
            "jt.v1.All", "{\"took\":90}",
            "took: expected a duration such as \"1.5s\", got a number");
        expect_round_trip("jt.v1.All", "{\"nothing\":{}}", "{\"nothing\":{}}");
        expect_error("jt.v1.All", "{\"nothing\":{\"a\":1}}",
                     "nothing.a: unknown field (google.protobuf.Empty has no "
                     "field of that name)");
        /* wrappers: the bare value, defaults included */
        expect_round_trip("jt.v1.All",
                          "{\"big\":\"0\",\"label\":\"x\",\"flag\":true,"
                          "\"ratio\":\"NaN\",\"blob\":\"AA==\"}",
                          "{\"big\":\"0\",\"label\":\"x\",\"flag\":true,"
                          "\"ratio\":\"NaN\",\"blob\":\"AA==\"}");
        expect_error("jt.v1.All", "{\"flag\":\"true\"}",
                     "flag: expected true or false, got a string");
        expect_round_trip(
            "jt.v1.All",
            "{\"meta\":{\"a\":{\"b\":[1.5,\"x\",null]},\"c\":false}}",
            "{\"meta\":{\"a\":{\"b\":[1.5,\"x\",null]},\"c\":false}}");
        expect_round_trip("jt.v1.All", "{\"mask\":\"a.fooBar,b\"}",
                          "{\"mask\":\"a.fooBar,b\"}");
        expect_error("jt.v1.All", "{\"mask\":\"a_b\"}",
                     "mask: FieldMask paths are lowerCamelCase: no '_'");
}

/* A generated descriptor (protoc-c's Timestamp) goes through the same
 * mapping; its json names are derived from the proto names. */
static void test_generated_descriptor(void **state) {
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        ProtobufCMessage *m;
        char *out;

        (void)state;
        ts.seconds = 1700000000;
        ts.nanos = 123000;
        assert_int_equal(kbus_json_encode(&ts.base, 0, &out, err, sizeof(err)),
                         0);
        assert_string_equal(out, "\"2023-11-14T22:13:20.000123Z\"");
        kbus_json_free(out);
        assert_int_equal(
            kbus_json_decode(&google__protobuf__timestamp__descriptor,
                             "\"1970-01-01T00:00:01Z\"", 22, 0, &m, err,
                             sizeof(err)),
            0);
        assert_int_equal(((Google__Protobuf__Timestamp *)m)->seconds, 1);
        kbus_json_message_free(m);
        ts.nanos = -1;
        assert_int_equal(kbus_json_encode(&ts.base, 0, &out, err, sizeof(err)),
                         KBUS_INVALID_ARGUMENT);
        assert_string_equal(err, "Timestamp out of range (seconds 1700000000, "
                                 "nanos -1)");
}

static void test_indent(void **state) {
        char *out;

        (void)state;
        out = round_trip("jt.v1.All", "{\"i32\":1,\"nums\":[1,2],\"item\":{}}",
                         KBUS_JSON_INDENT);
        assert_string_equal(out, "{\n  \"i32\": 1,\n  \"item\": {},\n"
                                 "  \"nums\": [\n    1,\n    2\n  ]\n}");
        kbus_json_free(out);
}

static void test_pool(void **state) {
        const kbus_service_desc *svc = NULL;
        const kbus_method_desc *m;
        const kbus_event_desc *ev;

        (void)state;
        assert_int_equal(kbus_json_pool_service_count(pool), 2);
        m = kbus_json_pool_method(pool, "/jt.v1.Svc/Do", &svc);
        assert_non_null(m);
        assert_ptr_equal(kbus_json_pool_method(pool, "jt.v1.Svc.Do", NULL), m);
        assert_ptr_equal(kbus_json_pool_method(pool, "jt.v1.Svc/Do", NULL), m);
        assert_null(kbus_json_pool_method(pool, "jt.v1.Svc/Nope", NULL));
        assert_null(kbus_json_pool_method(pool, "jt.v1.Sv/Do", NULL));
        assert_null(kbus_json_pool_method(pool, "Do", NULL));
        assert_string_equal(svc->name, "jt.v1.Svc");
        assert_string_equal(svc->topic, "jt.requests");
        assert_string_equal(m->path, "/jt.v1.Svc/Do");
        assert_ptr_equal(m->input, all_desc);
        assert_string_equal(m->output->name, "jt.v1.Item");
        assert_int_equal(m->timeout_ms, 1500);
        assert_string_equal(m->key_field, "str");
        assert_int_equal(m->flags, KBUS_METHOD_IDEMPOTENT);
        m = kbus_json_pool_method(pool, "jt.v1.Svc.Fire", NULL);
        assert_int_equal(m->flags, KBUS_METHOD_ONE_WAY | KBUS_NO_DEAD_LETTER);
        assert_string_equal(m->output->name, "google.protobuf.Empty");
        m = kbus_json_pool_method(pool, "jt.v1.Plain.Get", &svc);
        assert_string_equal(svc->topic, "jt.v1.Plain");
        assert_int_equal(m->flags, 0);
        assert_null(m->key_field);

        assert_int_equal(kbus_json_pool_event_count(pool), 2);
        ev = kbus_json_pool_event(pool, 0);
        assert_string_equal(ev->type, "jt.v1.Happened");
        assert_string_equal(ev->topic, "jt.happened");
        assert_string_equal(ev->key_field, "sku");
        assert_int_equal(ev->flags, KBUS_NO_DEAD_LETTER);
        ev = kbus_json_pool_event(pool, 1);
        assert_string_equal(ev->topic, "jt.v1.Noticed");
        assert_int_equal(ev->flags, 0);

        assert_non_null(kbus_json_pool_enum(pool, ".jt.v1.Color"));
        assert_null(kbus_json_pool_message(pool, "jt.v1.Color"));
        assert_non_null(kbus_json_pool_message(pool, "jt.v1.All.CountsEntry"));
        /* protobuf-c's own lookups work on the built descriptors */
        assert_int_equal(protobuf_c_message_descriptor_get_field_by_name(
                             all_desc, "field_with_json")
                             ->id,
                         35);
        assert_int_equal(
            protobuf_c_message_descriptor_get_field(all_desc, 37)->label,
            PROTOBUF_C_LABEL_OPTIONAL);
        assert_string_equal(protobuf_c_enum_descriptor_get_value(
                                kbus_json_pool_enum(pool, "jt.v1.Color"), 2)
                                ->name,
                            "COLOR_GREEN");
}

static void test_pool_errors(void **state) {
        kbus_json_pool *p = NULL;
        static const unsigned char junk[] = {0x0a, 0x05, 0x01};

        (void)state;
        assert_int_equal(
            kbus_json_pool_new(&p, junk, sizeof(junk), err, sizeof(err)),
            KBUS_INVALID_ARGUMENT);
        assert_null(p);
        assert_non_null(strstr(err, "not a FileDescriptorSet"));
        assert_int_equal(
            kbus_json_pool_load(&p, "/nonexistent/x.desc", err, sizeof(err)),
            KBUS_NOT_FOUND);
        assert_string_equal(err, "/nonexistent/x.desc: No such file or "
                                 "directory");
        /* An empty set is a pool with nothing in it. */
        assert_int_equal(kbus_json_pool_new(&p, "", 0, err, sizeof(err)), 0);
        assert_null(kbus_json_pool_message(p, "jt.v1.All"));
        kbus_json_pool_free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_protoc_bytes),
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_integers),
            cmocka_unit_test(test_floats),
            cmocka_unit_test(test_enums),
            cmocka_unit_test(test_bytes_and_strings),
            cmocka_unit_test(test_nested_and_paths),
            cmocka_unit_test(test_well_known_types),
            cmocka_unit_test(test_generated_descriptor),
            cmocka_unit_test(test_indent),
            cmocka_unit_test(test_pool),
            cmocka_unit_test(test_pool_errors),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
