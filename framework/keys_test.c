/*
 * Per-key ordering (framework/keys.c): one holder per key, the others wait
 * in arrival order and get the key one at a time; other keys are free; and
 * waiting never allocates, so a record can never be dropped for want of
 * memory to order it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kbus_int.h"
#include "keys.h"

static void test_one_at_a_time_in_order(void **state) {
        kbus_keys ks;
        kbus_keyed r[5];
        assert_true(kbus__keys_init(&ks));
        assert_true(kbus__keys_take(&ks, &r[0], "a", 1));
        assert_false(kbus__keys_take(&ks, &r[1], "a", 1));
        assert_true(kbus__keys_take(&ks, &r[2], "b", 1)); /* another key */
        assert_false(kbus__keys_take(&ks, &r[3], "a", 1));
        assert_false(kbus__keys_take(&ks, &r[4], "b", 1));
        /* "a" passes from r0 to r1 to r3, then is free. */
        assert_ptr_equal(kbus__keys_release(&ks, &r[0]), &r[1]);
        assert_ptr_equal(kbus__keys_release(&ks, &r[1]), &r[3]);
        assert_null(kbus__keys_release(&ks, &r[3]));
        assert_true(kbus__keys_take(&ks, &r[0], "a", 1));
        assert_ptr_equal(kbus__keys_release(&ks, &r[2]), &r[4]);
        assert_null(kbus__keys_release(&ks, &r[4]));
        assert_null(kbus__keys_release(&ks, &r[0]));
        assert_int_equal(ks.held.n, 0);
        kbus__keys_fini(&ks);
}

static void test_waiting_never_allocates(void **state) {
        kbus_keys ks;
        static kbus_keyed r[1000];
        static char keys[1000][8];
        assert_true(kbus__keys_init(&ks));
        kbus__alloc_fail_after(0);
        for (int i = 0; i < 1000; i++) {
                memcpy(keys[i], "k", 2);
                keys[i][1] = (char)('0' + i % 7);
                kbus__keys_take(&ks, &r[i], keys[i], 2);
        }
        kbus__alloc_fail_after(-1);
        assert_int_equal(ks.held.n, 7);
        /* Each key's records come out in arrival order. */
        for (int k = 0; k < 7; k++) {
                kbus_keyed *h = &r[k];
                int expect = k;
                while (h) {
                        assert_ptr_equal(h, &r[expect]);
                        expect += 7;
                        h = kbus__keys_release(&ks, h);
                }
                assert_true(expect >= 1000);
        }
        kbus__keys_fini(&ks);
}

static void test_take_waiting(void **state) {
        kbus_keys ks;
        kbus_keyed r[6];
        int n = 0;
        assert_true(kbus__keys_init(&ks));
        for (int i = 0; i < 6; i++)
                kbus__keys_take(&ks, &r[i], i % 2 ? "x" : "y", 1);
        for (kbus_keyed *w = kbus__keys_take_waiting(&ks); w; w = w->next) {
                assert_true(w != &r[0] && w != &r[1]); /* holders stay */
                n++;
        }
        assert_int_equal(n, 4);
        assert_null(kbus__keys_release(&ks, &r[0]));
        assert_null(kbus__keys_release(&ks, &r[1]));
        kbus__keys_fini(&ks);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_one_at_a_time_in_order),
            cmocka_unit_test(test_waiting_never_allocates),
            cmocka_unit_test(test_take_waiting),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
