/*
 * The hash table (framework/hash.c): entries are found by their bytes,
 * survive growth, leave cleanly, take each other's place, and a table
 * that cannot grow still takes entries once it has buckets; its hash sees
 * every bit of a key, and the FNV-1a whose values are kept elsewhere does
 * not change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hash.h"
#include "kbus_int.h"

typedef struct entry {
        kbus_hnode node;
        char key[16];
} entry;

static void fill(entry *e, int n) {
        for (int i = 0; i < n; i++) {
                snprintf(e[i].key, sizeof(e[i].key), "key-%d", i);
                e[i].node.key = e[i].key;
                e[i].node.len = strlen(e[i].key);
        }
}

static void test_find_after_growth(void **state) {
        static entry e[1000];
        kbus_hash h = {0};
        fill(e, 1000);
        for (int i = 0; i < 1000; i++)
                assert_true(kbus__hash_insert(&h, &e[i].node));
        assert_int_equal(h.n, 1000);
        assert_true(h.mask + 1 >= 1000); /* it grew */
        for (int i = 0; i < 1000; i++)
                assert_ptr_equal(
                    kbus__hash_find(&h, e[i].key, strlen(e[i].key)),
                    &e[i].node);
        assert_null(kbus__hash_find(&h, "key-1000", 8));
        assert_null(kbus__hash_find(&h, "key-1", 4)); /* a prefix is not it */
        kbus__hash_fini(&h);
}

static void test_remove(void **state) {
        entry e[10];
        kbus_hash h = {0};
        fill(e, 10);
        for (int i = 0; i < 10; i++)
                kbus__hash_insert(&h, &e[i].node);
        for (int i = 0; i < 10; i += 2)
                kbus__hash_remove(&h, &e[i].node);
        assert_int_equal(h.n, 5);
        for (int i = 0; i < 10; i++)
                assert_ptr_equal(
                    kbus__hash_find(&h, e[i].key, strlen(e[i].key)),
                    i % 2 ? &e[i].node : NULL);
        kbus__hash_fini(&h);
        assert_null(kbus__hash_find(&h, "key-1", 5));
}

static void count(kbus_hnode *n, void *arg) {
        (*(int *)arg)++;
}

static void test_each(void **state) {
        entry e[100];
        kbus_hash h = {0};
        int n = 0;
        fill(e, 100);
        for (int i = 0; i < 100; i++)
                kbus__hash_insert(&h, &e[i].node);
        kbus__hash_each(&h, count, &n);
        assert_int_equal(n, 100);
        kbus__hash_fini(&h);
}

static void test_no_memory(void **state) {
        entry e[200];
        kbus_hash h = {0};
        fill(e, 200);
        kbus__alloc_fail_after(0);
        assert_false(kbus__hash_insert(&h, &e[0].node)); /* no buckets yet */
        kbus__alloc_fail_after(-1);
        assert_true(kbus__hash_insert(&h, &e[0].node));
        /* Growth fails from now on: chains get longer, nothing is lost. */
        kbus__alloc_fail_after(0);
        for (int i = 1; i < 200; i++)
                assert_true(kbus__hash_insert(&h, &e[i].node));
        kbus__alloc_fail_after(-1);
        assert_int_equal(h.mask + 1, 64);
        for (int i = 0; i < 200; i++)
                assert_non_null(
                    kbus__hash_find(&h, e[i].key, strlen(e[i].key)));
        kbus__hash_fini(&h);
}

/* kbus__hash_bytes's values are kept beyond the process (aggregate
 * fingerprints): they must not change.  (Its offset basis is not FNV's
 * 14695981039346656037 but 1469598103934665603, a digit short, as it has
 * always been.) */
static void test_bytes_unchanged(void **state) {
        assert_true(kbus__hash_bytes("", 0) == 0x14650fb0739d0383ULL);
        assert_true(kbus__hash_bytes("a", 1) == 0x44bd8ad473cd9906ULL);
        assert_true(kbus__hash_bytes("foobar", 6) == 0x88fad7c0a8ff07f2ULL);
}

/* The table's hash: every bit of a key of any length counts, the length
 * too, and keys that differ a little (counters, as a table's keys often
 * are) spread over the low bits that pick a bucket. */
static void test_key_hash(void **state) {
        unsigned char k[40];
        static unsigned loads[1024];
        unsigned most = 0;
        for (size_t len = 0; len <= sizeof(k); len++) {
                uint64_t base;
                for (size_t i = 0; i < len; i++)
                        k[i] = (unsigned char)(i * 37 + len);
                base = kbus__hash_key(k, len);
                if (len > 0)
                        assert_true(base != kbus__hash_key(k, len - 1));
                for (size_t i = 0; i < len; i++)
                        for (int bit = 0; bit < 8; bit++) {
                                k[i] ^= (unsigned char)(1u << bit);
                                assert_true(kbus__hash_key(k, len) != base);
                                k[i] ^= (unsigned char)(1u << bit);
                        }
        }
        for (int i = 0; i < 8192; i++) {
                char key[16];
                int n = snprintf(key, sizeof(key), "%06d", i);
                loads[kbus__hash_key(key, (size_t)n) & 1023]++;
        }
        for (int i = 0; i < 1024; i++)
                most = loads[i] > most ? loads[i] : most;
        assert_true(most <= 24); /* 8 on average */
}

/* A lookup and an insert that share one computed hash. */
static void test_hv(void **state) {
        entry e[100];
        kbus_hash h = {0};
        fill(e, 100);
        for (int i = 0; i < 100; i++) {
                uint64_t hv = kbus__hash_key(e[i].key, strlen(e[i].key));
                assert_null(
                    kbus__hash_find_hv(&h, hv, e[i].key, strlen(e[i].key)));
                assert_true(kbus__hash_insert_hv(&h, &e[i].node, hv));
        }
        for (int i = 0; i < 100; i++)
                assert_ptr_equal(
                    kbus__hash_find(&h, e[i].key, strlen(e[i].key)),
                    &e[i].node);
        kbus__hash_fini(&h);
}

/* A node put in the place of another with the same key is found instead,
 * and the others stay. */
static void test_replace(void **state) {
        static entry e[300], again;
        kbus_hash h = {0};
        fill(e, 300);
        for (int i = 0; i < 300; i++)
                kbus__hash_insert(&h, &e[i].node);
        strcpy(again.key, e[123].key);
        again.node.key = again.key;
        again.node.len = strlen(again.key);
        kbus__hash_replace(&h, &e[123].node, &again.node);
        assert_int_equal(h.n, 300);
        for (int i = 0; i < 300; i++)
                assert_ptr_equal(
                    kbus__hash_find(&h, e[i].key, strlen(e[i].key)),
                    i == 123 ? &again.node : &e[i].node);
        kbus__hash_remove(&h, &again.node);
        assert_null(kbus__hash_find(&h, e[123].key, strlen(e[123].key)));
        assert_int_equal(h.n, 299);
        kbus__hash_fini(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_find_after_growth),
            cmocka_unit_test(test_remove),
            cmocka_unit_test(test_each),
            cmocka_unit_test(test_no_memory),
            cmocka_unit_test(test_bytes_unchanged),
            cmocka_unit_test(test_key_hash),
            cmocka_unit_test(test_hv),
            cmocka_unit_test(test_replace),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
