/*
 * follow (follow.c): lines of a file followed by name, across rotation by
 * renaming and by copytruncate, long lines in pieces, and resuming from a
 * saved position after the file moved.  Time is given by the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "follow.h"

static char dir[64];
static char path[128];
static int notes_lost;

static void note(follow_note what, const char *p, const char *text, void *arg) {
        (void)p;
        (void)text;
        (void)arg;
        if (what == FOLLOW_LOST)
                notes_lost++;
}

static void append(const char *file, const char *text) {
        FILE *fp = fopen(file, "a");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static void in_dir(char *out, const char *name) {
        snprintf(out, 128, "%s/%s", dir, name);
}

/* The next line as a string ("" when there is none), consumed. */
static const char *next(follow *f, int64_t now, bool drain, follow_pos *at) {
        static char buf[FOLLOW_MAX_LINE + 1];
        const char *line;
        size_t len;
        bool cont;
        follow_pos pos;
        if (!follow_next(f, now, drain, &line, &len, &cont, at ? at : &pos))
                return "";
        memcpy(buf, line, len);
        buf[len] = '\0';
        follow_consume(f);
        return buf;
}

static int setup(void **state) {
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/follow_test.XXXXXX");
        assert_non_null(mkdtemp(dir));
        in_dir(path, "app.log");
        notes_lost = 0;
        return 0;
}

static int teardown(void **state) {
        char cmd[128];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

/* Whole lines come out; an unfinished one waits for its newline. */
static void test_lines_and_partial(void **state) {
        follow *f;
        append(path, "one\ntwo\nthr");
        f = follow_new(path, NULL, 1000, 0, note, NULL);
        assert_string_equal(next(f, 0, false, NULL), "one");
        assert_string_equal(next(f, 0, false, NULL), "two");
        assert_string_equal(next(f, 0, false, NULL), "");
        assert_string_equal(next(f, 0, true, NULL), ""); /* not at --once */
        append(path, "ee\n");
        assert_string_equal(next(f, 0, false, NULL), "three");
        follow_free(f);
}

/* A line longer than the limit comes in pieces, cut before a UTF-8
 * character rather than inside it. */
static void test_long_line_pieces(void **state) {
        char *big = malloc(FOLLOW_MAX_LINE + 100);
        const char *line;
        size_t len;
        bool cont;
        follow_pos at;
        follow *f;
        memset(big, 'x', FOLLOW_MAX_LINE + 98);
        /* A 2-byte character across the limit. */
        big[FOLLOW_MAX_LINE - 1] = (char)0xc3;
        big[FOLLOW_MAX_LINE] = (char)0xa9;
        big[FOLLOW_MAX_LINE + 98] = '\n';
        big[FOLLOW_MAX_LINE + 99] = '\0';
        append(path, big);
        f = follow_new(path, NULL, 1000, 0, note, NULL);
        assert_int_equal(follow_next(f, 0, false, &line, &len, &cont, &at), 1);
        assert_int_equal(len, FOLLOW_MAX_LINE - 1);
        assert_true(cont);
        follow_consume(f);
        assert_int_equal(follow_next(f, 0, false, &line, &len, &cont, &at), 1);
        assert_int_equal(at.off, FOLLOW_MAX_LINE - 1);
        assert_int_equal(len, 99);
        assert_false(cont);
        assert_int_equal((unsigned char)line[0], 0xc3);
        follow_consume(f);
        follow_free(f);
        free(big);
}

/* Renamed away: the old file is read to its end, its unfinished last line
 * too once it has been quiet for the rotation wait; then the new one. */
static void test_rename_rotation(void **state) {
        char old[128];
        follow *f;
        in_dir(old, "app.log.1");
        append(path, "a1\n");
        f = follow_new(path, NULL, 1000, 0, note, NULL);
        assert_string_equal(next(f, 0, false, NULL), "a1");
        append(path, "a2\na3");
        assert_int_equal(rename(path, old), 0);
        append(path, "b1\n");
        follow_check(f, 100);
        assert_int_equal(follow_rotations(f), 1);
        assert_string_equal(next(f, 100, false, NULL), "a2");
        append(old, "+"); /* a writer still holding the old file */
        follow_check(f, 500);
        assert_string_equal(next(f, 1400, false, NULL), ""); /* not quiet */
        assert_string_equal(next(f, 1500, false, NULL), "a3+");
        assert_string_equal(next(f, 1500, false, NULL), "b1");
        assert_string_equal(next(f, 1500, false, NULL), "");
        follow_free(f);
}

/* Truncated and written again past the read position: the changed start
 * gives it away, and the new content is read from its start. */
static void test_truncated_and_rewritten(void **state) {
        follow *f;
        FILE *fp;
        append(path, "first line\n");
        f = follow_new(path, NULL, 1000, 0, note, NULL);
        assert_string_equal(next(f, 0, false, NULL), "first line");
        fp = fopen(path, "w");
        fputs("second generation, longer than the first\n", fp);
        fclose(fp);
        follow_check(f, 10);
        assert_int_equal(follow_truncations(f), 1);
        assert_string_equal(next(f, 10, false, NULL),
                            "second generation, longer than the first");
        follow_free(f);
}

/* copytruncate: the lines not read yet come from the copy; a newer file
 * beside it whose first 256 bytes are alike but that does not hold the
 * bytes last read where they were read is not taken for the copy. */
static void test_copytruncate(void **state) {
        char copy[128], stale[128], header[302], cmd[512];
        struct timeval later[2];
        follow *f;
        in_dir(copy, "app.log.1");
        in_dir(stale, "app.log.2");
        memset(header, 'h', 300);
        strcpy(header + 300, "\n");
        append(path, header);
        append(path, "l1\nl2\n");
        append(stale, header);
        append(stale, "X1\nX2\nX3\nX4\n");
        f = follow_new(path, NULL, 1000, 0, note, NULL);
        header[300] = '\0'; /* the line as it comes out */
        assert_string_equal(next(f, 0, false, NULL), header);
        assert_string_equal(next(f, 0, false, NULL), "l1");
        assert_string_equal(next(f, 0, false, NULL), "l2");
        append(path, "l3\nl4\n");
        snprintf(cmd, sizeof(cmd), "cp %s %s && : > %s", path, copy, path);
        assert_int_equal(system(cmd), 0);
        gettimeofday(&later[0], NULL);
        later[0].tv_sec += 60;
        later[1] = later[0];
        assert_int_equal(utimes(stale, later), 0);
        append(path, "n1\n");
        follow_check(f, 10);
        assert_int_equal(follow_truncations(f), 1);
        assert_string_equal(next(f, 10, false, NULL), "l3");
        assert_string_equal(next(f, 10, false, NULL), "l4");
        assert_string_equal(next(f, 10, false, NULL), "n1");
        assert_int_equal(notes_lost, 0);
        follow_free(f);
}

/* A saved position in a file renamed while nobody followed it: the file
 * is found beside the name and finished first. */
static void test_resume_after_rename(void **state) {
        char old[128];
        follow_pos at;
        follow *f;
        in_dir(old, "app.log.1");
        append(path, "a1\na2\n");
        f = follow_new(path, NULL, 1000, 0, note, NULL);
        assert_string_equal(next(f, 0, false, NULL), "a1");
        assert_string_equal(next(f, 0, false, &at), "a2"); /* not delivered */
        follow_free(f);
        append(path, "a3\n");
        assert_int_equal(rename(path, old), 0);
        append(path, "b1\n");
        f = follow_new(path, &at, 1000, 0, note, NULL);
        assert_int_equal(follow_rotations(f), 1);
        assert_string_equal(next(f, 0, false, NULL), "a2");
        assert_string_equal(next(f, 0, false, NULL), "a3");
        assert_string_equal(next(f, 1000, false, NULL), "b1");
        follow_free(f);
        /* Gone altogether: said, and the file at the name read. */
        assert_int_equal(unlink(old), 0);
        f = follow_new(path, &at, 1000, 0, note, NULL);
        assert_int_equal(notes_lost, 1);
        assert_string_equal(next(f, 0, false, NULL), "b1");
        follow_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_lines_and_partial, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_long_line_pieces, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_rename_rotation, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_truncated_and_rewritten, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_copytruncate, setup, teardown),
            cmocka_unit_test_setup_teardown(test_resume_after_rename, setup,
                                            teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
