/*
 * The offset tracker (framework/offsets.c): the offset to store is always
 * one past the highest record below which every record has completed,
 * whatever order records complete in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "kbus_int.h"
#include "offsets.h"

static void test_in_order(void **state) {
        kbus_offsets t;
        uint64_t s[3];
        int64_t store = -1;
        kbus__offsets_init(&t);
        for (int i = 0; i < 3; i++)
                assert_true(kbus__offsets_add(&t, 10 + i, &s[i]));
        assert_true(kbus__offsets_done(&t, s[0], &store));
        assert_int_equal(store, 11);
        assert_true(kbus__offsets_done(&t, s[1], &store));
        assert_int_equal(store, 12);
        kbus__offsets_fini(&t);
}

static void test_gap_holds_back(void **state) {
        kbus_offsets t;
        uint64_t s[4];
        int64_t store = -1;
        kbus__offsets_init(&t);
        /* Offsets need not be contiguous (compaction, control records). */
        int64_t offs[4] = {5, 6, 9, 10};
        for (int i = 0; i < 4; i++)
                assert_true(kbus__offsets_add(&t, offs[i], &s[i]));
        assert_false(kbus__offsets_done(&t, s[2], &store));
        assert_false(kbus__offsets_done(&t, s[1], &store));
        assert_int_equal(store, -1);
        assert_true(kbus__offsets_done(&t, s[0], &store));
        assert_int_equal(store, 10); /* 5, 6, 9 done: next is 10 */
        assert_int_equal(kbus__offsets_open(&t), 1);
        assert_true(kbus__offsets_done(&t, s[3], &store));
        assert_int_equal(store, 11);
        kbus__offsets_fini(&t);
}

/* Many records completing in a shuffled order, across ring growth. */
static void test_shuffled_many(void **state) {
        enum { N = 5000 };
        kbus_offsets t;
        static uint64_t seq[N];
        static int order[N];
        int64_t store = 0, highest = 0;
        kbus__offsets_init(&t);
        for (int i = 0; i < N; i++) {
                assert_true(kbus__offsets_add(&t, i, &seq[i]));
                order[i] = i;
        }
        srand(7);
        for (int i = N - 1; i > 0; i--) {
                int j = rand() % (i + 1), tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
        }
        static bool done[N];
        for (int k = 0; k < N; k++) {
                int i = order[k];
                done[i] = true;
                if (kbus__offsets_done(&t, seq[i], &store)) {
                        assert_true(store > highest);
                        highest = store;
                }
                /* never past a record still open */
                for (int j = 0; j < store; j += 97)
                        assert_true(done[j]);
        }
        assert_int_equal(highest, N);
        assert_int_equal(kbus__offsets_open(&t), 0);
        kbus__offsets_fini(&t);
}

static void test_unknown_seq_ignored(void **state) {
        kbus_offsets t;
        uint64_t s;
        int64_t store = -1;
        kbus__offsets_init(&t);
        assert_true(kbus__offsets_add(&t, 1, &s));
        assert_false(kbus__offsets_done(&t, s + 5, &store));
        assert_int_equal(store, -1);
        kbus__offsets_fini(&t);
}

static void test_add_fails_cleanly_out_of_memory(void **state) {
        kbus_offsets t;
        uint64_t s;
        kbus__offsets_init(&t);
        kbus__alloc_fail_after(0);
        assert_false(kbus__offsets_add(&t, 1, &s));
        kbus__alloc_fail_after(-1);
        assert_true(kbus__offsets_add(&t, 1, &s));
        kbus__offsets_fini(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_in_order),
            cmocka_unit_test(test_gap_holds_back),
            cmocka_unit_test(test_shuffled_many),
            cmocka_unit_test(test_unknown_seq_ignored),
            cmocka_unit_test(test_add_fails_cleanly_out_of_memory),
        };
        return cmocka_run_group_tests_name("offsets", tests, NULL, NULL);
}
