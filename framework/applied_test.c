/*
 * The applied batches by input record (framework/applied.c): offsets
 * remembered in any order are found and no others, in as few spans as
 * they make; outboxes come back with their batch; forgetting below an
 * offset drops exactly what is below it; and out of memory, a batch is
 * remembered whole or not at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "applied.h"
#include "kbus_int.h"

static bool has(const kbus_applied *a, int64_t offset) {
        const void *ob;
        size_t len;
        return kbus__applied_find(a, offset, &ob, &len);
}

/* Spans sorted, non-empty, apart (not touching). */
static void assert_spans_ok(const kbus_applied *a) {
        for (size_t i = 0; i < a->n_spans; i++) {
                assert_true(a->spans[i].lo < a->spans[i].hi);
                if (i > 0)
                        assert_true(a->spans[i - 1].hi < a->spans[i].lo);
        }
        for (size_t i = 1; i < a->n_kept; i++)
                assert_true(a->kept[i - 1].offset < a->kept[i].offset);
}

static void test_topics(void **state) {
        kbus_applied *list = NULL, *a, *b;
        assert_null(kbus__applied_topic(&list, "t1", 2, false));
        a = kbus__applied_topic(&list, "t1", 2, true);
        b = kbus__applied_topic(&list, "t12", 3, true);
        assert_non_null(a);
        assert_non_null(b);
        assert_ptr_not_equal(a, b);
        assert_ptr_equal(kbus__applied_topic(&list, "t1", 2, false), a);
        assert_ptr_equal(kbus__applied_topic(&list, "t12", 3, true), b);
        assert_string_equal(b->topic, "t12");
        kbus__applied_free(&list);
        assert_null(list);
}

static void test_in_order(void **state) {
        kbus_applied *list = NULL;
        kbus_applied *a = kbus__applied_topic(&list, "in", 2, true);
        for (int64_t o = 100; o < 50100; o++)
                assert_true(kbus__applied_remember(a, o, NULL, 0));
        assert_int_equal(a->n_spans, 1);
        assert_int_equal(a->n_kept, 0);
        assert_false(has(a, 99));
        assert_true(has(a, 100));
        assert_true(has(a, 50099));
        assert_false(has(a, 50100));
        kbus__applied_free(&list);
}

/* Offsets in a shuffled order, with gaps: found exactly, spans merged. */
static void test_any_order(void **state) {
        enum { N = 3000 };
        static int64_t order[N];
        static bool in[N + 2];
        kbus_applied *list = NULL;
        kbus_applied *a = kbus__applied_topic(&list, "in", 2, true);
        size_t n = 0;
        srand(7);
        for (int64_t o = 1; o <= N; o++)
                if (o % 7 != 3) /* gaps: records that wrote nothing */
                        order[n++] = o;
        for (size_t i = n - 1; i > 0; i--) {
                size_t j = (size_t)rand() % (i + 1);
                int64_t t = order[i];
                order[i] = order[j];
                order[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
                assert_true(kbus__applied_remember(a, order[i], NULL, 0));
                /* Again: already in, nothing changes. */
                assert_true(kbus__applied_remember(a, order[i], "x", 1));
                in[order[i]] = true;
                assert_spans_ok(a);
        }
        for (int64_t o = 0; o <= N + 1; o++)
                assert_int_equal(has(a, o), in[o]);
        /* Every gap splits: one span per run between gaps. */
        assert_int_equal(a->n_spans, (N + 3) / 7 + 1);
        assert_int_equal(a->n_kept, 0);
        /* Spans added whole, overlapping several, merge into one. */
        assert_true(kbus__applied_add(a, 0, N + 2));
        assert_int_equal(a->n_spans, 1);
        assert_true(has(a, 0) && has(a, 3) && has(a, N + 1));
        kbus__applied_free(&list);
}

static void test_outboxes(void **state) {
        kbus_applied *list = NULL;
        kbus_applied *a = kbus__applied_topic(&list, "in", 2, true);
        const void *ob;
        size_t len;
        char text[16];
        /* Every third sent something, in a jumbled order. */
        for (int64_t o = 30; o >= 0; o -= (o % 2 ? 3 : 1)) {
                size_t n = (size_t)snprintf(text, sizeof(text), "ob%d", (int)o);
                assert_true(kbus__applied_remember(a, o, text, o % 3 ? 0 : n));
                assert_spans_ok(a);
        }
        for (int64_t o = 0; o <= 30; o++) {
                if (!kbus__applied_find(a, o, &ob, &len))
                        continue;
                if (o % 3) {
                        assert_null(ob);
                        assert_int_equal(len, 0);
                } else {
                        snprintf(text, sizeof(text), "ob%d", (int)o);
                        assert_int_equal(len, strlen(text));
                        assert_memory_equal(ob, text, len);
                }
        }
        /* Forgetting below 14, inside the span [13, 15): 13 and before
         * go, 14 on stay. */
        kbus__applied_forget(a, 14);
        assert_spans_ok(a);
        for (int64_t o = 0; o < 14; o++)
                assert_false(kbus__applied_find(a, o, &ob, &len));
        assert_true(kbus__applied_find(a, 14, &ob, &len));
        assert_true(kbus__applied_find(a, 18, &ob, &len));
        assert_int_equal(len, 4);
        assert_memory_equal(ob, "ob18", 4);
        for (size_t i = 0; i < a->n_kept; i++)
                assert_true(a->kept[i].offset >= 14);
        kbus__applied_forget(a, 1000);
        assert_int_equal(a->n_spans, 0);
        assert_int_equal(a->n_kept, 0);
        assert_false(kbus__applied_find(a, 30, &ob, &len));
        kbus__applied_free(&list);
}

/* Out of memory, a batch is remembered with its outbox or not at all. */
static void test_no_memory(void **state) {
        kbus_applied *list = NULL;
        kbus_applied *a = kbus__applied_topic(&list, "in", 2, true);
        const void *ob;
        size_t len;
        long n;
        /* Room for more outboxes (5 of 8), none for another span (4 of
         * 4): remembering 12 with an outbox takes two allocations, the
         * outbox's copy and then the spans'. */
        for (int64_t o = 0; o < 5; o++)
                assert_true(kbus__applied_remember(a, o, "ob", 2));
        for (int64_t o = 6; o <= 10; o += 2)
                assert_true(kbus__applied_remember(a, o, NULL, 0));
        assert_int_equal(a->n_spans, a->cap_spans);
        assert_true(a->n_kept < a->cap_kept);
        for (n = 0;; n++) {
                bool ok;
                kbus__alloc_fail_after(n);
                ok = kbus__applied_remember(a, 12, "ob", 2);
                kbus__alloc_fail_after(-1);
                assert_spans_ok(a);
                if (ok)
                        break;
                assert_false(kbus__applied_find(a, 12, &ob, &len));
                assert_int_equal(a->n_spans, 4);
                assert_int_equal(a->n_kept, 5);
        }
        assert_int_equal(n, 2); /* each allocation failed once */
        assert_true(kbus__applied_find(a, 12, &ob, &len));
        assert_int_equal(len, 2);
        kbus__applied_free(&list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_topics),    cmocka_unit_test(test_in_order),
            cmocka_unit_test(test_any_order), cmocka_unit_test(test_outboxes),
            cmocka_unit_test(test_no_memory),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
