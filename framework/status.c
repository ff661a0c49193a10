/*
 * Status codes: the gRPC canonical codes, their names and which are worth
 * retrying.  One table, shared by the wire (kbus-status header), logs and
 * the public kbus_strerror().
 */
#include "kbus_int.h"

static const struct {
        const char *name;
        const char *text;
        bool retriable;
} status_table[] = {
    [KBUS_OK] = {"OK", "success", false},
    [KBUS_CANCELLED] = {"CANCELLED", "cancelled", false},
    [KBUS_UNKNOWN] = {"UNKNOWN", "unknown error", false},
    [KBUS_INVALID_ARGUMENT] = {"INVALID_ARGUMENT", "invalid argument", false},
    [KBUS_DEADLINE_EXCEEDED] = {"DEADLINE_EXCEEDED", "deadline exceeded", true},
    [KBUS_NOT_FOUND] = {"NOT_FOUND", "not found", false},
    [KBUS_ALREADY_EXISTS] = {"ALREADY_EXISTS", "already exists", false},
    [KBUS_PERMISSION_DENIED] = {"PERMISSION_DENIED", "permission denied",
                                false},
    [KBUS_RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", "resource exhausted",
                                 true},
    [KBUS_FAILED_PRECONDITION] = {"FAILED_PRECONDITION", "failed precondition",
                                  false},
    [KBUS_ABORTED] = {"ABORTED", "aborted", true},
    [KBUS_OUT_OF_RANGE] = {"OUT_OF_RANGE", "out of range", false},
    [KBUS_UNIMPLEMENTED] = {"UNIMPLEMENTED", "unimplemented", false},
    [KBUS_INTERNAL] = {"INTERNAL", "internal error", false},
    [KBUS_UNAVAILABLE] = {"UNAVAILABLE", "unavailable", true},
    [KBUS_DATA_LOSS] = {"DATA_LOSS", "data loss", false},
    [KBUS_UNAUTHENTICATED] = {"UNAUTHENTICATED", "unauthenticated", false},
};

#define N_STATUS ((int)(sizeof(status_table) / sizeof(status_table[0])))

const char *kbus_status_name(int code) {
        return code >= 0 && code < N_STATUS ? status_table[code].name : "?";
}

const char *kbus_strerror(int code) {
        return code >= 0 && code < N_STATUS ? status_table[code].text
                                            : "unknown status code";
}

int kbus_status_is_retriable(int code) {
        return code >= 0 && code < N_STATUS && status_table[code].retriable;
}

const char *kbus_version(void) {
        return KBUS_VERSION;
}

const char *kbus_stat_name(kbus_stat which) {
        static const char *const names[KBUS_STAT__COUNT] = {
#define STAT_NAME(id, name, help) [KBUS_STAT_##id] = name,
            KBUS_STATS(STAT_NAME)
#undef STAT_NAME
        };
        return which < KBUS_STAT__COUNT ? names[which] : "?";
}
