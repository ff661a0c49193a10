/*
 * The one allocation hook.  Everything in libkbus allocates through these
 * functions (and protobuf-c through kbus__pb_allocator), so a test can make
 * the Nth allocation fail and check that every error path cleans up.
 */
#include <stdlib.h>
#include <string.h>

#include "kbus_int.h"

static long fail_countdown = -1;
static size_t fail_size; /* 0: any size */
static long fail_size_countdown = -1;

void kbus__alloc_fail_after(long n) {
        fail_countdown = n;
}

void kbus__alloc_fail_size(size_t size, long n) {
        fail_size = size;
        fail_size_countdown = n;
}

static bool should_fail_size(size_t n) {
        if (fail_size_countdown < 0 || n != fail_size)
                return false;
        if (fail_size_countdown-- == 0) {
                fail_size_countdown = -1; /* once */
                return true;
        }
        return false;
}

static bool should_fail(size_t n) {
        if (should_fail_size(n))
                return true;
        if (fail_countdown < 0)
                return false;
        if (fail_countdown == 0)
                return true;
        fail_countdown--;
        return false;
}

void *kbus__malloc(size_t n) {
        return should_fail(n) ? NULL : malloc(n);
}

void *kbus__calloc(size_t n, size_t size) {
        return should_fail(n * size) ? NULL : calloc(n, size);
}

void *kbus__realloc(void *p, size_t n) {
        return should_fail(n) ? NULL : realloc(p, n);
}

char *kbus__strdup(const char *s) {
        size_t n = strlen(s) + 1;
        char *d = kbus__malloc(n);
        if (d)
                memcpy(d, s, n);
        return d;
}

void kbus__free(void *p) {
        free(p);
}

static void *pb_alloc(void *unused, size_t n) {
        return kbus__malloc(n);
}

static void pb_free(void *unused, void *p) {
        kbus__free(p);
}

ProtobufCAllocator kbus__pb_allocator = {pb_alloc, pb_free, NULL};
