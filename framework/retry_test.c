/*
 * Retry policy and backoff (framework/retry.c): unset fields come from the
 * defaults, the delay grows by the multiplier up to the cap with jitter in
 * [50 %, 100 %), and only retriable statuses other than DEADLINE_EXCEEDED
 * are retried while attempts are left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kbus_int.h"
#include "retry.h"

static const kbus_retry_policy defaults = {5, 100, 10000, 2.0};

static void test_policy_merge(void **state) {
        kbus_retry_policy own = {0, 50, 0, 0};
        kbus_retry_policy p = kbus__retry_policy(&own, &defaults);
        assert_int_equal(p.max_attempts, 5);
        assert_int_equal(p.initial_backoff_ms, 50);
        assert_int_equal(p.max_backoff_ms, 10000);
        assert_true(p.multiplier == 2.0);
        own = (kbus_retry_policy){3, 0, 400, 3.0};
        p = kbus__retry_policy(&own, &defaults);
        assert_int_equal(p.max_attempts, 3);
        assert_int_equal(p.initial_backoff_ms, 100);
        assert_int_equal(p.max_backoff_ms, 400);
        assert_true(p.multiplier == 3.0);
}

static void test_backoff_grows_to_cap_with_jitter(void **state) {
        kbus_retry_policy p = {10, 100, 1000, 2.0};
        /* attempt n failed: base 100 * 2^(n-1), capped at 1000 */
        static const int base[] = {0, 100, 200, 400, 800, 1000, 1000};
        for (int n = 1; n <= 6; n++) {
                int64_t lo = 1 << 30, hi = 0;
                for (int i = 0; i < 2000; i++) {
                        int64_t d = kbus__retry_backoff_ms(&p, (uint32_t)n);
                        lo = d < lo ? d : lo;
                        hi = d > hi ? d : hi;
                }
                assert_true(lo >= base[n] / 2);
                assert_true(hi < base[n]);
                /* jitter really spreads them */
                assert_true(hi - lo > base[n] / 4);
        }
}

static void test_what_is_retried(void **state) {
        kbus_retry_policy p = {3, 100, 1000, 2.0};
        assert_true(kbus__retry_allowed(&p, KBUS_UNAVAILABLE, 1));
        assert_true(kbus__retry_allowed(&p, KBUS_RESOURCE_EXHAUSTED, 2));
        assert_true(kbus__retry_allowed(&p, KBUS_ABORTED, 1));
        assert_false(kbus__retry_allowed(&p, KBUS_UNAVAILABLE, 3));
        assert_false(kbus__retry_allowed(&p, KBUS_DEADLINE_EXCEEDED, 1));
        assert_false(kbus__retry_allowed(&p, KBUS_INVALID_ARGUMENT, 1));
        assert_false(kbus__retry_allowed(&p, KBUS_INTERNAL, 1));
        p.max_attempts = 1;
        assert_false(kbus__retry_allowed(&p, KBUS_UNAVAILABLE, 1));
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_policy_merge),
            cmocka_unit_test(test_backoff_grows_to_cap_with_jitter),
            cmocka_unit_test(test_what_is_retried),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
