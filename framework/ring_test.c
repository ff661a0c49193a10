/*
 * The ring (framework/ring.c): first in, first out, across wrap-around and
 * growth, and nothing changes when it cannot grow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kbus_int.h"
#include "ring.h"

static void test_fifo_across_wrap_and_growth(void **state) {
        kbus_ring r;
        int64_t next_in = 0, next_out = 0, v;
        kbus__ring_init(&r, sizeof(int64_t));
        /* Interleave pushes and pops so the head wraps before each growth. */
        for (int round = 0; round < 50; round++) {
                for (int i = 0; i < 3 + round; i++, next_in++)
                        assert_true(kbus__ring_push(&r, &next_in));
                for (int i = 0; i < 2 + round / 2; i++, next_out++) {
                        kbus__ring_pop(&r, &v);
                        assert_int_equal(v, next_out);
                }
                for (size_t i = 0; i < r.n; i++)
                        assert_int_equal(*(int64_t *)kbus__ring_at(&r, i),
                                         next_out + (int64_t)i);
        }
        while (r.n) {
                kbus__ring_pop(&r, &v);
                assert_int_equal(v, next_out++);
        }
        assert_int_equal(next_out, next_in);
        kbus__ring_fini(&r);
}

/* Elements added in place come out in order, like pushed ones. */
static void test_add_in_place(void **state) {
        kbus_ring r;
        int64_t v;
        kbus__ring_init(&r, sizeof(int64_t));
        for (int64_t i = 0; i < 40; i++) {
                int64_t *slot = kbus__ring_add(&r);
                assert_non_null(slot);
                *slot = i;
                if (i % 3 == 0) {
                        kbus__ring_pop(&r, &v);
                        assert_int_equal(v, i / 3);
                }
        }
        assert_int_equal(r.n, 40 - 14);
        for (size_t i = 0; i < r.n; i++)
                assert_int_equal(*(int64_t *)kbus__ring_at(&r, i), 14 + i);
        /* Full, and no memory to grow: nothing is added. */
        while (r.n < r.cap)
                *(int64_t *)kbus__ring_add(&r) = 0;
        v = (int64_t)r.n;
        kbus__alloc_fail_after(0);
        assert_null(kbus__ring_add(&r));
        kbus__alloc_fail_after(-1);
        assert_int_equal(r.n, v);
        kbus__ring_fini(&r);
}

static void test_reserve_means_no_allocation(void **state) {
        kbus_ring r;
        kbus__ring_init(&r, sizeof(void *));
        assert_true(kbus__ring_reserve(&r, 100));
        kbus__alloc_fail_after(0);
        for (intptr_t i = 0; i < 100; i++) {
                void *p = (void *)i;
                assert_true(kbus__ring_push(&r, &p));
        }
        {
                void *p = NULL;
                assert_true(r.cap >= 100);
                if (r.cap == 100) /* full: the next push must grow */
                        assert_false(kbus__ring_push(&r, &p));
        }
        kbus__alloc_fail_after(-1);
        assert_int_equal(r.n, 100);
        assert_ptr_equal(*(void **)kbus__ring_at(&r, 99), (void *)99);
        kbus__ring_fini(&r);
}

static void test_failed_growth_changes_nothing(void **state) {
        kbus_ring r;
        int v;
        kbus__ring_init(&r, sizeof(int));
        for (v = 0; v < 16; v++)
                assert_true(kbus__ring_push(&r, &v));
        assert_int_equal(r.cap, 16);
        kbus__alloc_fail_after(0);
        assert_false(kbus__ring_push(&r, &v));
        kbus__alloc_fail_after(-1);
        assert_int_equal(r.n, 16);
        for (int i = 0; i < 16; i++) {
                kbus__ring_pop(&r, &v);
                assert_int_equal(v, i);
        }
        kbus__ring_fini(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fifo_across_wrap_and_growth),
            cmocka_unit_test(test_add_in_place),
            cmocka_unit_test(test_reserve_means_no_allocation),
            cmocka_unit_test(test_failed_growth_changes_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
