/*
 * JSON-lines logging on stderr: one object per line, so log shippers can
 * read it without a parser of ours.  A W3C traceparent, when given, adds
 * its trace id so a request can be followed across services.  The library
 * logs through kbus__log() with a component per module; programs log
 * through kbus_log() in the same format under a component of their own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kbus_int.h"

int kbus__log_min_level = KBUS_LOG_INFO;

static const char *level_names[] = {"debug", "info", "warn", "error"};

int kbus__log_level_parse(const char *s) {
        for (int i = 0; i < 4; i++)
                if (!strcasecmp(s, level_names[i]))
                        return i;
        if (!strcasecmp(s, "warning"))
                return KBUS_LOG_WARN;
        return -1;
}

void kbus__log_level_from_env(void) {
        const char *s = getenv("KBUS_LOG_LEVEL");
        int level;

        if (s && (level = kbus__log_level_parse(s)) >= 0)
                kbus__log_min_level = level;
}

/* Appends \p s to buf as JSON string content, escaping what JSON needs. */
static size_t json_escape(char *buf, size_t at, size_t cap, const char *s) {
        for (; *s && at + 7 < cap; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\') {
                        buf[at++] = '\\';
                        buf[at++] = (char)c;
                } else if (c == '\n') {
                        buf[at++] = '\\';
                        buf[at++] = 'n';
                } else if (c < 0x20) {
                        at +=
                            (size_t)snprintf(buf + at, cap - at, "\\u%04x", c);
                } else {
                        buf[at++] = (char)c;
                }
        }
        return at;
}

/* Writes one line for a message already formatted. */
static void write_line(int level, const char *component,
                       const char *traceparent, const char *msg) {
        char line[2048];
        struct timespec ts;
        struct tm tm;
        size_t at;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        at = strftime(line, sizeof(line), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
        at += (size_t)snprintf(line + at, sizeof(line) - at,
                               ".%03ldZ\",\"level\":\"%s\",\"component\":\"",
                               ts.tv_nsec / 1000000,
                               level_names[level < 0   ? 0
                                           : level > 3 ? 3
                                                       : level]);
        at = json_escape(line, at, sizeof(line), component);
        at += (size_t)snprintf(line + at, sizeof(line) - at, "\",\"msg\":\"");
        at = json_escape(line, at, sizeof(line), msg);
        /* traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags> */
        if (traceparent && strlen(traceparent) == 55 && traceparent[2] == '-')
                at += (size_t)snprintf(line + at, sizeof(line) - at,
                                       "\",\"trace_id\":\"%.32s",
                                       traceparent + 3);
        snprintf(line + at, sizeof(line) - at, "\"}\n");
        fputs(line, stderr);
}

void kbus__log(int level, const char *component, const char *traceparent,
               const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        write_line(level, component, traceparent, msg);
}

/* The component of the program's own lines (kbus_log); empty: the
 * program's name. */
static char app_component[64];

void kbus_log_set_component(const char *component) {
        snprintf(app_component, sizeof(app_component), "%s",
                 component ? component : "");
}

static const char *app_name(void) {
        /* The name the program was started under; a libtool wrapper in a
         * build tree starts it as "lt-NAME". */
        const char *name = program_invocation_short_name;

        if (!strncmp(name, "lt-", 3) && name[3])
                name += 3;
        return *name ? name : "app";
}

void kbus_log(kbus_log_level level, const char *fmt, ...) {
        static pthread_once_t env_once = PTHREAD_ONCE_INIT;
        char msg[1024];
        va_list ap;

        /* Before the first runtime sets the level from its configuration,
         * KBUS_LOG_LEVEL decides; afterwards it agrees with the runtime's,
         * which applies the same variable last. */
        pthread_once(&env_once, kbus__log_level_from_env);
        if ((int)level < kbus__log_min_level)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        write_line((int)level, app_component[0] ? app_component : app_name(),
                   NULL, msg);
}

int kbus__err(char *errstr, size_t errlen, int code, const char *fmt, ...) {
        va_list ap;
        if (errstr && errlen > 0) {
                va_start(ap, fmt);
                vsnprintf(errstr, errlen, fmt, ap);
                va_end(ap);
        }
        return code;
}

int64_t kbus__now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
