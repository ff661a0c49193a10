/*
 * config.c: kbus_config, the runtime's settings and librdkafka properties.
 *
 * A configuration is filled from three sources, in this order of strength:
 * defaults (kbus_config_new), a libconfig file (kbus_config_load), single
 * keys given as text (kbus_config_set), and the KBUS_* environment
 * variables that kbus_runtime_new() applies last (kbus__config_apply_env).
 * All of them go through one table of keys, so a key is validated the same
 * way wherever it comes from, and every error names where the bad value
 * came from: "FILE:LINE: key 'x'", "key 'x'" or the environment variable.
 *
 * A failed load, set or environment override leaves the configuration as it
 * was: the work happens on a copy that replaces the original only once
 * everything has been accepted.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "kbus_int.h"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* kbus__err() lives in log.c, beside the other small helpers. */

static int oom(char *errstr, size_t errlen) {
        return kbus__err(errstr, errlen, KBUS_RESOURCE_EXHAUSTED,
                         "out of memory");
}

/* ------------------------------------------------------------------ */
/* librdkafka property lists                                           */
/* ------------------------------------------------------------------ */

/* Adds or replaces the property named by the first nlen bytes of name.
 * Taking lengths lets "name=value" strings be split without a copy. */
static int props_set_n(kbus_props *p, const char *name, size_t nlen,
                       const char *value, size_t vlen) {
        char *n, *v;
        size_t i;

        v = kbus__malloc(vlen + 1);
        if (!v)
                return KBUS_RESOURCE_EXHAUSTED;
        memcpy(v, value, vlen);
        v[vlen] = '\0';

        for (i = 0; i < p->n; i++) {
                if (strlen(p->names[i]) == nlen &&
                    !memcmp(p->names[i], name, nlen)) {
                        kbus__free(p->values[i]);
                        p->values[i] = v;
                        return KBUS_OK;
                }
        }

        if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 8;
                char **names, **values;

                /* Grow both arrays before committing the new capacity: if
                 * the second realloc fails the first array is merely
                 * larger than needed, and the list stays consistent. */
                names = kbus__realloc(p->names, cap * sizeof(*names));
                if (!names)
                        goto fail;
                p->names = names;
                values = kbus__realloc(p->values, cap * sizeof(*values));
                if (!values)
                        goto fail;
                p->values = values;
                p->cap = cap;
        }

        n = kbus__malloc(nlen + 1);
        if (!n)
                goto fail;
        memcpy(n, name, nlen);
        n[nlen] = '\0';

        p->names[p->n] = n;
        p->values[p->n] = v;
        p->n++;
        return KBUS_OK;

fail:
        kbus__free(v);
        return KBUS_RESOURCE_EXHAUSTED;
}

int kbus__props_set(kbus_props *p, const char *name, const char *value) {
        return props_set_n(p, name, strlen(name), value, strlen(value));
}

void kbus__props_fini(kbus_props *p) {
        size_t i;

        for (i = 0; i < p->n; i++) {
                kbus__free(p->names[i]);
                kbus__free(p->values[i]);
        }
        kbus__free(p->names);
        kbus__free(p->values);
        memset(p, 0, sizeof(*p));
}

static int props_copy(kbus_props *dst, const kbus_props *src) {
        size_t i;
        int r;

        for (i = 0; i < src->n; i++)
                if ((r = kbus__props_set(dst, src->names[i], src->values[i])))
                        return r;
        return KBUS_OK;
}

static int is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
               c == '\v';
}

/* Parses "name=value" into \p p.  Blanks around the name and the value are
 * dropped: "linger.ms = 5" is what people write, and librdkafka would
 * reject a name with a trailing blank as unknown. */
static int props_parse(kbus_props *p, const char *s, const char *label,
                       char *errstr, size_t errlen) {
        const char *eq = strchr(s, '='), *ns = s, *ne, *vs, *ve;

        if (!eq)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%s: \"%s\" is not \"name=value\"", label, s);
        ne = eq;
        while (ns < ne && is_space(*ns))
                ns++;
        while (ne > ns && is_space(ne[-1]))
                ne--;
        if (ne == ns)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%s: \"%s\" has an empty property name", label,
                                 s);
        vs = eq + 1;
        ve = vs + strlen(vs);
        while (vs < ve && is_space(*vs))
                vs++;
        while (ve > vs && is_space(ve[-1]))
                ve--;
        if (props_set_n(p, ns, (size_t)(ne - ns), vs, (size_t)(ve - vs)))
                return oom(errstr, errlen);
        return KBUS_OK;
}

/* ------------------------------------------------------------------ */
/* The configuration object                                            */
/* ------------------------------------------------------------------ */

int kbus_config_new(kbus_config **confp) {
        kbus_config *conf;

        if (!confp)
                return KBUS_INVALID_ARGUMENT;
        *confp = NULL;

        conf = kbus__calloc(1, sizeof(*conf));
        if (!conf)
                return KBUS_RESOURCE_EXHAUSTED;

        conf->group = NULL; /* the consumer group defaults to name */
        conf->low_latency = -1;
        conf->reply_topic = NULL;
        conf->checkpoint_interval_ms = 10000;
        conf->timeout_ms = 5000;
        conf->shutdown_grace_ms = 10000;
        conf->max_in_flight = 64;
        conf->max_uncommitted = 100000;
        conf->client_max_in_flight = 10000;
        conf->log_level = KBUS_LOG_INFO;
        conf->retry.max_attempts = 5;
        conf->retry.initial_backoff_ms = 100;
        conf->retry.max_backoff_ms = 10000;
        conf->retry.multiplier = 2.0;
        conf->broker_count = 1;
        conf->broker_partitions = 4;

        if (!(conf->bootstrap = kbus__strdup("embedded")) ||
            !(conf->name = kbus__strdup("kbus")) ||
            !(conf->dlt_suffix = kbus__strdup(".DLT")))
                goto fail;

        *confp = conf;
        return KBUS_OK;

fail:
        kbus_config_free(conf);
        return KBUS_RESOURCE_EXHAUSTED;
}

void kbus_config_free(kbus_config *conf) {
        if (!conf)
                return;
        kbus__free(conf->bootstrap);
        kbus__free(conf->name);
        kbus__free(conf->group);
        kbus__free(conf->reply_topic);
        kbus__free(conf->state_dir);
        kbus__free(conf->dlt_suffix);
        kbus__free(conf->http);
        kbus__props_fini(&conf->kafka);
        kbus__props_fini(&conf->producer);
        kbus__props_fini(&conf->consumer);
        kbus__free(conf);
}

/* strdup that keeps NULL as NULL; *okp is cleared when memory ran out. */
static char *dup_or_null(const char *s, int *okp) {
        char *d;

        if (!s)
                return NULL;
        if (!(d = kbus__strdup(s)))
                *okp = 0;
        return d;
}

int kbus__config_copy(const kbus_config *src, kbus_config **dstp) {
        kbus_config *dst;
        int ok = 1;

        *dstp = NULL;
        dst = kbus__calloc(1, sizeof(*dst));
        if (!dst)
                return KBUS_RESOURCE_EXHAUSTED;

        /* Scalars first, then replace every pointer with a copy of its
         * own, so that src and dst share nothing. */
        *dst = *src;
        memset(&dst->kafka, 0, sizeof(dst->kafka));
        memset(&dst->producer, 0, sizeof(dst->producer));
        memset(&dst->consumer, 0, sizeof(dst->consumer));
        dst->bootstrap = dup_or_null(src->bootstrap, &ok);
        dst->name = dup_or_null(src->name, &ok);
        dst->group = dup_or_null(src->group, &ok);
        dst->reply_topic = dup_or_null(src->reply_topic, &ok);
        dst->state_dir = dup_or_null(src->state_dir, &ok);
        dst->dlt_suffix = dup_or_null(src->dlt_suffix, &ok);
        dst->http = dup_or_null(src->http, &ok);
        if (!ok || props_copy(&dst->kafka, &src->kafka) ||
            props_copy(&dst->producer, &src->producer) ||
            props_copy(&dst->consumer, &src->consumer)) {
                kbus_config_free(dst);
                return KBUS_RESOURCE_EXHAUSTED;
        }

        *dstp = dst;
        return KBUS_OK;
}

/* Moves the contents of *newp into conf and frees what conf held. */
static void config_replace(kbus_config *conf, kbus_config **newp) {
        struct kbus_config old = *conf;

        *conf = **newp;
        **newp = old;
        kbus_config_free(*newp);
        *newp = NULL;
}

/* ------------------------------------------------------------------ */
/* The keys                                                            */
/* ------------------------------------------------------------------ */

/* What a key holds, which decides how its value is read, checked and
 * stored. */
enum key_kind {
        K_STRING,     /* char *, not empty */
        K_TOPIC,      /* char *, a legal Kafka topic name */
        K_TOPIC_PART, /* char *, legal topic characters: becomes part of
                       * topic names (the reply topic, dead-letter topics) */
        K_HOSTPORT,   /* char *, "host:port" to listen on */
        K_TRISTATE,   /* int: -1 auto, 0, 1; a boolean or "auto" */
        K_INT,        /* int within [min, max] */
        K_INT64,      /* int64_t within [min, max] */
        K_UINT32,     /* uint32_t within [min, max] */
        K_DOUBLE,     /* double within [dmin, dmax] */
        K_LOG_LEVEL,  /* int, enum kbus_log_level, from its name */
        K_ORDERING,   /* int, kbus_ordering, from "key" or "partition" */
        K_PROPS,      /* kbus_props, from "name=value" strings */
};

struct key {
        const char *name; /* as kbus_config_set() spells it */
        enum key_kind kind;
        size_t off; /* of the field in struct kbus_config */
        int64_t min, max;
        double dmin, dmax;
};

#define FIELD(f) offsetof(struct kbus_config, f)

/* The upper bounds are there to catch typos (an extra zero or two), not to
 * express hard limits of the runtime: 2^31-1 ms is 24 days. */
static const struct key keys[] = {
    {"bootstrap", K_STRING, FIELD(bootstrap)},
    /* The name goes into the generated reply topic's name. */
    {"name", K_TOPIC_PART, FIELD(name)},
    {"group", K_STRING, FIELD(group)},
    {"low_latency", K_TRISTATE, FIELD(low_latency)},
    {"reply_topic", K_TOPIC, FIELD(reply_topic)},
    {"timeout_ms", K_INT64, FIELD(timeout_ms), 1, INT32_MAX},
    {"shutdown_grace_ms", K_INT64, FIELD(shutdown_grace_ms), 0, INT32_MAX},
    {"max_in_flight", K_INT, FIELD(max_in_flight), 1, 1000000},
    {"max_uncommitted", K_INT, FIELD(max_uncommitted), 1, 100000000},
    {"client_max_in_flight", K_INT, FIELD(client_max_in_flight), 1, 10000000},
    {"log_level", K_LOG_LEVEL, FIELD(log_level)},
    {"ordering", K_ORDERING, FIELD(ordering)},
    {"dlt_suffix", K_TOPIC_PART, FIELD(dlt_suffix)},
    /* "host:port" of /healthz, /readyz and /metrics; unset: off. */
    {"http", K_HOSTPORT, FIELD(http)},
    /* Where table snapshots go; unset: none, restores read the whole
         * changelog. */
    {"state_dir", K_STRING, FIELD(state_dir)},
    {"checkpoint_interval_ms", K_INT64, FIELD(checkpoint_interval_ms), 100,
     INT32_MAX},
    {"broker_count", K_INT, FIELD(broker_count), 1, 64},
    {"broker_partitions", K_INT, FIELD(broker_partitions), 1, 10000},
    {"retry.max_attempts", K_UINT32, FIELD(retry.max_attempts), 1, 1000000},
    {"retry.initial_backoff_ms", K_UINT32, FIELD(retry.initial_backoff_ms), 1,
     INT32_MAX},
    {"retry.max_backoff_ms", K_UINT32, FIELD(retry.max_backoff_ms), 1,
     INT32_MAX},
    {"retry.multiplier", K_DOUBLE, FIELD(retry.multiplier), 0, 0, 1.0, 100.0},
    {"kafka", K_PROPS, FIELD(kafka)},
    {"producer", K_PROPS, FIELD(producer)},
    {"consumer", K_PROPS, FIELD(consumer)},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* The group "retry" of a file: its members are the keys "retry.*". */
#define RETRY_GROUP "retry"
#define RETRY_PREFIX "retry."

/* Finds key \p name under \p prefix ("" for top level, "retry."), which
 * must match the key exactly: top level does not see "retry.x". */
static const struct key *key_find(const char *prefix, const char *name) {
        size_t plen = strlen(prefix), i;

        for (i = 0; i < N_KEYS; i++) {
                const char *kn = keys[i].name;

                if (strncmp(kn, prefix, plen))
                        continue;
                if (!plen && strchr(kn, '.'))
                        continue;
                if (!strcmp(kn + plen, name))
                        return &keys[i];
        }
        return NULL;
}

/* Levenshtein distance, capped: only small distances matter for a
 * "did you mean" hint, and names are short. */
static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b), i, j;
        size_t row[64], prev, tmp;

        if (la >= sizeof(row) / sizeof(row[0]) ||
            lb >= sizeof(row) / sizeof(row[0]))
                return SIZE_MAX;
        for (j = 0; j <= lb; j++)
                row[j] = j;
        for (i = 1; i <= la; i++) {
                prev = row[0];
                row[0] = i;
                for (j = 1; j <= lb; j++) {
                        size_t best = prev + (a[i - 1] != b[j - 1]);

                        if (row[j] + 1 < best)
                                best = row[j] + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        tmp = row[j];
                        row[j] = best;
                        prev = tmp;
                }
        }
        return row[lb];
}

/* Appends to buf, truncating silently: these are error messages. */
static void buf_add(char *buf, size_t size, size_t *lenp, const char *s) {
        size_t n = strlen(s);

        if (*lenp + 1 >= size)
                return;
        if (n > size - 1 - *lenp)
                n = size - 1 - *lenp;
        memcpy(buf + *lenp, s, n);
        *lenp += n;
        buf[*lenp] = '\0';
}

/* Writes the "unknown key" error: the keys valid at this place and, when
 * the unknown one is a likely typo of one of them, that one. */
static int unknown_key(const char *where, const char *prefix, const char *name,
                       int for_set, char *errstr, size_t errlen) {
        char known[1024], full[256];
        const char *best = NULL;
        size_t len = 0, best_d = SIZE_MAX, plen = strlen(prefix), i;
        int shown_group = 0;

        known[0] = '\0';
        for (i = 0; i < N_KEYS; i++) {
                const char *kn = keys[i].name, *shown;
                size_t d;

                if (strncmp(kn, prefix, plen))
                        continue;
                if (!plen && !for_set && strchr(kn, '.')) {
                        /* A file groups retry.* under "retry": list the
                         * group once, in place of its members. */
                        if (shown_group)
                                continue;
                        shown_group = 1;
                        shown = RETRY_GROUP;
                } else {
                        shown = kn + plen;
                }
                if (len)
                        buf_add(known, sizeof(known), &len, ", ");
                buf_add(known, sizeof(known), &len, shown);
                if (for_set && keys[i].kind == K_PROPS)
                        buf_add(known, sizeof(known), &len, ".NAME");

                d = edit_distance(name, shown);
                if (d < best_d) {
                        best_d = d;
                        best = shown;
                }
        }

        snprintf(full, sizeof(full), "%s%s", prefix, name);
        /* A hint only for a near miss: within two edits, and never when
         * the names are so short that everything is near. */
        if (best && best_d <= 2 && best_d < strlen(name))
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%sunknown key '%s' (known: %s); did you "
                                 "mean '%s'?",
                                 where, full, known, best);
        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                         "%sunknown key '%s' (known: %s)", where, full, known);
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

/* A value read from a file or from text, before it is checked. */
struct val {
        int64_t i;
        double d;
        const char *s;
};

/* Kafka topic names: 1-249 characters of [a-zA-Z0-9._-], and not "." or
 * "..".  Checking here turns a late broker error into a config error. */
static int topic_chars_ok(const char *s) {
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
                    *s != '-')
                        return 0;
        return 1;
}

int kbus__hostport_parse(const char *s, char *host, size_t hostlen,
                         int *portp) {
        const char *colon = strrchr(s, ':'), *p;
        long port = 0;

        if (!colon || colon == s || (size_t)(colon - s) >= 256 || !colon[1])
                return -1;
        for (p = colon + 1; *p; p++) {
                if (*p < '0' || *p > '9' || port > 65535)
                        return -1;
                port = port * 10 + (*p - '0');
        }
        if (port > 65535)
                return -1;
        if (host) {
                if ((size_t)(colon - s) >= hostlen)
                        return -1;
                memcpy(host, s, (size_t)(colon - s));
                host[colon - s] = '\0';
        }
        if (portp)
                *portp = (int)port;
        return 0;
}

/* Checks \p v against \p k and stores it into \p conf.  \p label names the
 * source, e.g. "f.cfg:3: key 'timeout_ms'". */
static int val_store(kbus_config *conf, const struct key *k,
                     const struct val *v, const char *label, char *errstr,
                     size_t errlen) {
        char *field = (char *)conf + k->off;
        char *s;

        switch (k->kind) {
        case K_TOPIC:
                if (!topic_chars_ok(v->s) || strlen(v->s) > 249 ||
                    !strcmp(v->s, ".") || !strcmp(v->s, ".."))
                        return kbus__err(
                            errstr, errlen, KBUS_INVALID_ARGUMENT,
                            "%s: \"%s\" is not a valid topic name (1-249 "
                            "characters of a-z A-Z 0-9 . _ -)",
                            label, v->s);
                /* fall through */
        case K_STRING:
        case K_TOPIC_PART:
        case K_HOSTPORT:
                if (!*v->s)
                        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                         "%s: must not be empty", label);
                /* Checked here, not when the listener starts, so that the
                 * message can name the file and line. */
                if (k->kind == K_HOSTPORT &&
                    kbus__hostport_parse(v->s, NULL, 0, NULL))
                        return kbus__err(
                            errstr, errlen, KBUS_INVALID_ARGUMENT,
                            "%s: \"%s\" is not \"host:port\" (a host or "
                            "address, then a port from 0 to 65535)",
                            label, v->s);
                if (k->kind == K_TOPIC_PART &&
                    (!topic_chars_ok(v->s) || strlen(v->s) > 200))
                        return kbus__err(
                            errstr, errlen, KBUS_INVALID_ARGUMENT,
                            "%s: \"%s\" cannot be part of a topic name "
                            "(at most 200 characters of a-z A-Z 0-9 . _ "
                            "-)",
                            label, v->s);
                if (!(s = kbus__strdup(v->s)))
                        return oom(errstr, errlen);
                kbus__free(*(char **)field);
                *(char **)field = s;
                return KBUS_OK;

        case K_TRISTATE:
        case K_LOG_LEVEL:
        case K_ORDERING:
                /* Already mapped to its value when read. */
                *(int *)field = (int)v->i;
                return KBUS_OK;

        case K_INT:
        case K_INT64:
        case K_UINT32:
                if (v->i < k->min || v->i > k->max)
                        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                         "%s: %lld is out of range "
                                         "[%lld, %lld]",
                                         label, (long long)v->i,
                                         (long long)k->min, (long long)k->max);
                if (k->kind == K_INT)
                        *(int *)field = (int)v->i;
                else if (k->kind == K_INT64)
                        *(int64_t *)field = v->i;
                else
                        *(uint32_t *)field = (uint32_t)v->i;
                return KBUS_OK;

        case K_DOUBLE:
                if (!isfinite(v->d) || v->d < k->dmin || v->d > k->dmax)
                        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                         "%s: %g is out of range [%g, %g]",
                                         label, v->d, k->dmin, k->dmax);
                *(double *)field = v->d;
                return KBUS_OK;

        case K_PROPS:
                break;
        }
        /* Property lists are stored element by element by their readers. */
        return kbus__err(errstr, errlen, KBUS_INTERNAL, "%s: internal error",
                         label);
}

static const char *bool_words_true[] = {"true", "yes", "1"};
static const char *bool_words_false[] = {"false", "no", "0"};

static int parse_bool(const char *s) {
        size_t i;

        for (i = 0; i < sizeof(bool_words_true) / sizeof(char *); i++) {
                if (!strcasecmp(s, bool_words_true[i]))
                        return 1;
                if (!strcasecmp(s, bool_words_false[i]))
                        return 0;
        }
        return -1;
}

/* Log level names in any case: KBUS_LOG_LEVEL=DEBUG is what people type. */
static int log_level_parse(const char *s) {
        char low[16];
        size_t i;

        for (i = 0; s[i] && i < sizeof(low) - 1; i++)
                low[i] = (char)tolower((unsigned char)s[i]);
        if (s[i])
                return -1;
        low[i] = '\0';
        return kbus__log_level_parse(low);
}

static int ordering_parse(const char *label, const char *s, int64_t *out,
                          char *errstr, size_t errlen) {
        if (!strcmp(s, "key"))
                *out = KBUS_ORDER_KEY;
        else if (!strcmp(s, "partition"))
                *out = KBUS_ORDER_PARTITION;
        else
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%s: \"%s\" is not an ordering (key, "
                                 "partition)",
                                 label, s);
        return KBUS_OK;
}

static int bad_log_level(const char *label, const char *s, char *errstr,
                         size_t errlen) {
        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                         "%s: \"%s\" is not a log level (debug, info, warn, "
                         "error)",
                         label, s);
}

/* Reads the text form of a value, as kbus_config_set() and the
 * environment give it.  Numbers must be the whole text, in decimal: "5s"
 * or "0x10" are errors, not 5 and 0. */
static int val_from_text(const struct key *k, const char *text, struct val *v,
                         const char *label, char *errstr, size_t errlen) {
        char *end;

        memset(v, 0, sizeof(*v));
        v->s = text;
        switch (k->kind) {
        case K_STRING:
        case K_TOPIC:
        case K_TOPIC_PART:
        case K_HOSTPORT:
                return KBUS_OK;

        case K_TRISTATE:
                if (!strcasecmp(text, "auto")) {
                        v->i = -1;
                        return KBUS_OK;
                }
                if ((v->i = parse_bool(text)) == -1)
                        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                         "%s: \"%s\" is not a boolean (true, "
                                         "false, yes, no, 1, 0 or auto)",
                                         label, text);
                return KBUS_OK;

        case K_LOG_LEVEL:
                if ((v->i = log_level_parse(text)) == -1)
                        return bad_log_level(label, text, errstr, errlen);
                return KBUS_OK;

        case K_ORDERING:
                return ordering_parse(label, text, &v->i, errstr, errlen);

        case K_INT:
        case K_INT64:
        case K_UINT32:
                /* strtoll would skip leading blanks; text with blanks is
                 * not a number as far as a config file is concerned. */
                if (!*text || is_space(*text))
                        goto not_int;
                errno = 0;
                v->i = strtoll(text, &end, 10);
                if (*end)
                        goto not_int;
                if (errno == ERANGE)
                        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                         "%s: \"%s\" is out of range "
                                         "[%lld, %lld]",
                                         label, text, (long long)k->min,
                                         (long long)k->max);
                return KBUS_OK;
        not_int:
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%s: \"%s\" is not an integer", label, text);

        case K_DOUBLE:
                if (!*text || is_space(*text))
                        goto not_num;
                errno = 0;
                v->d = strtod(text, &end);
                if (*end || errno == ERANGE)
                        goto not_num;
                return KBUS_OK;
        not_num:
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%s: \"%s\" is not a number", label, text);

        case K_PROPS:
                break;
        }
        return kbus__err(errstr, errlen, KBUS_INTERNAL, "%s: internal error",
                         label);
}

static const char *type_name(int type) {
        switch (type) {
        case CONFIG_TYPE_GROUP:
                return "a group";
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_FLOAT:
                return "a floating-point number";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array";
        case CONFIG_TYPE_LIST:
                return "a list";
        default:
                return "unknown";
        }
}

static int wrong_type(const char *label, const char *want,
                      const config_setting_t *s, char *errstr, size_t errlen) {
        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                         "%s: must be %s, not %s", label, want,
                         type_name(config_setting_type(s)));
}

/* Reads a file setting, checking that its libconfig type fits the key: a
 * quoted "5000" for timeout_ms is a mistake worth reporting, as is 1 for a
 * boolean. */
static int val_from_setting(const struct key *k, const config_setting_t *s,
                            struct val *v, const char *label, char *errstr,
                            size_t errlen) {
        int type = config_setting_type(s);

        memset(v, 0, sizeof(*v));
        switch (k->kind) {
        case K_STRING:
        case K_TOPIC:
        case K_TOPIC_PART:
        case K_HOSTPORT:
                if (type != CONFIG_TYPE_STRING)
                        return wrong_type(label, "a string", s, errstr, errlen);
                v->s = config_setting_get_string(s);
                return KBUS_OK;

        case K_TRISTATE:
                if (type == CONFIG_TYPE_BOOL) {
                        v->i = config_setting_get_bool(s);
                        return KBUS_OK;
                }
                if (type == CONFIG_TYPE_STRING &&
                    !strcasecmp(config_setting_get_string(s), "auto")) {
                        v->i = -1;
                        return KBUS_OK;
                }
                return wrong_type(label, "true, false or \"auto\"", s, errstr,
                                  errlen);

        case K_LOG_LEVEL:
                if (type != CONFIG_TYPE_STRING)
                        return wrong_type(label, "a string", s, errstr, errlen);
                v->s = config_setting_get_string(s);
                if ((v->i = log_level_parse(v->s)) == -1)
                        return bad_log_level(label, v->s, errstr, errlen);
                return KBUS_OK;

        case K_ORDERING:
                if (type != CONFIG_TYPE_STRING)
                        return wrong_type(label, "a string", s, errstr, errlen);
                v->s = config_setting_get_string(s);
                return ordering_parse(label, v->s, &v->i, errstr, errlen);

        case K_INT:
        case K_INT64:
        case K_UINT32:
                if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
                        return wrong_type(label, "an integer", s, errstr,
                                          errlen);
                v->i = config_setting_get_int64(s);
                return KBUS_OK;

        case K_DOUBLE:
                /* "multiplier = 2;" reads as an integer; accept it. */
                if (type == CONFIG_TYPE_FLOAT)
                        v->d = config_setting_get_float(s);
                else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
                        v->d = (double)config_setting_get_int64(s);
                else
                        return wrong_type(label, "a number", s, errstr, errlen);
                return KBUS_OK;

        case K_PROPS:
                break;
        }
        return kbus__err(errstr, errlen, KBUS_INTERNAL, "%s: internal error",
                         label);
}

/* ------------------------------------------------------------------ */
/* Loading a file                                                      */
/* ------------------------------------------------------------------ */

/* The file being loaded, and its text when it could be read.  libconfig
 * 1.5 loses two facts that error messages need; the text gives them
 * back (see src_line_of_string() and src_int_wrapped()).  Without the
 * text, libconfig's word is taken. */
struct src {
        const char *path;
        char *text;
};

static void src_read(struct src *src) {
        FILE *fp = fopen(src->path, "r");
        size_t cap = 4096, len = 0, n;
        char *buf = NULL, *nb;

        src->text = NULL;
        if (!fp)
                return;
        for (;;) {
                if (!(nb = kbus__realloc(buf, cap + 1)))
                        goto fail;
                buf = nb;
                n = fread(buf + len, 1, cap - len, fp);
                len += n;
                if (len < cap)
                        break;
                cap *= 2;
        }
        if (ferror(fp))
                goto fail;
        buf[len] = '\0';
        fclose(fp);
        src->text = buf;
        return;

fail:
        kbus__free(buf);
        fclose(fp);
}

/* Line \p line (from 1) of the loaded file's text, if \p s came from that
 * file (not from an @include); its length in *lenp. */
static const char *src_line(const struct src *src, const config_setting_t *s,
                            unsigned line, size_t *lenp) {
        const char *file = config_setting_source_file(s), *p = src->text;
        const char *eol;

        if (!p || !file || strcmp(file, src->path) || line == 0)
                return NULL;
        for (; line > 1; line--) {
                if (!(p = strchr(p, '\n')))
                        return NULL;
                p++;
        }
        eol = strchr(p, '\n');
        *lenp = eol ? (size_t)(eol - p) : strlen(p);
        return p;
}

/* libconfig 1.5 gives an array element the line of the token after it, so
 * the last element of
 *         kafka = [
 *                 "linger.ms"
 *         ];
 * would be reported on the line of "];".  Look for the quoted string from
 * \p lo (the previous element's line) to libconfig's line instead. */
static unsigned src_line_of_string(const struct src *src,
                                   const config_setting_t *e, unsigned lo,
                                   const char *str) {
        unsigned hi = config_setting_source_line(e), line;
        size_t slen = strlen(str), len, i;
        const char *p;

        /* Escapes make the source differ from the value: give up. */
        if (strpbrk(str, "\"\\"))
                return hi;
        for (line = lo; line < hi; line++) {
                if (!(p = src_line(src, e, line, &len)))
                        break;
                for (i = 0; i + slen + 2 <= len; i++)
                        if (p[i] == '"' && !memcmp(p + i + 1, str, slen) &&
                            p[i + 1 + slen] == '"')
                                return line;
        }
        return hi;
}

static int is_name_char(char c) {
        return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* libconfig 1.5 wraps an integer that does not fit in 32 bits unless it
 * carries an L suffix: "timeout_ms = 99999999999;" reads as 1215752191,
 * which is in range and would be used silently.  Re-read the number from
 * the source line and say whether it differs from what libconfig made of
 * it; the number's text goes to \p num. */
static int src_int_wrapped(const struct src *src, const config_setting_t *s,
                           long long got, char *num, size_t numlen) {
        const char *name = config_setting_name(s), *line, *p, *end, *q;
        size_t len, nlen = strlen(name);
        char buf[64], *e;
        long long v;

        line = src_line(src, s, config_setting_source_line(s), &len);
        if (!line)
                return 0;
        end = line + len;
        for (p = line; p + nlen <= end; p++) {
                if (memcmp(p, name, nlen) || (p > line && is_name_char(p[-1])))
                        continue;
                q = p + nlen;
                while (q < end && (*q == ' ' || *q == '\t'))
                        q++;
                if (q >= end || (*q != '=' && *q != ':'))
                        continue;
                q++;
                while (q < end && (*q == ' ' || *q == '\t'))
                        q++;
                for (len = 0; q + len < end && len < sizeof(buf) - 1 &&
                              (isxdigit((unsigned char)q[len]) ||
                               q[len] == 'x' || q[len] == 'X' ||
                               (len == 0 && (q[0] == '-' || q[0] == '+')));
                     len++)
                        buf[len] = q[len];
                buf[len] = '\0';
                if (!len)
                        return 0;
                errno = 0;
                v = strtoll(buf, &e, 0);
                if (e == buf)
                        return 0;
                *e = '\0';
                snprintf(num, numlen, "%s", buf);
                return errno == ERANGE || v != got;
        }
        return 0;
}

/* "FILE:LINE: " of a setting, from the file that really held it (which
 * differs from the loaded one after an @include). */
static void where_of(char *buf, size_t size, const struct src *src,
                     const config_setting_t *s, unsigned line) {
        const char *file = config_setting_source_file(s);

        snprintf(buf, size, "%s:%u: ", file ? file : src->path, line);
}

/* Reads an array or list of "name=value" strings into the key's props. */
static int load_props(kbus_config *conf, const struct key *k,
                      const config_setting_t *s, const struct src *src,
                      char *errstr, size_t errlen) {
        kbus_props *p = (kbus_props *)((char *)conf + k->off);
        unsigned line = config_setting_source_line(s);
        char where[512], label[768];
        int i, n, r;

        if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
                where_of(where, sizeof(where), src, s, line);
                snprintf(label, sizeof(label), "%skey '%s'", where, k->name);
                return wrong_type(label, "an array of \"name=value\" strings",
                                  s, errstr, errlen);
        }

        n = config_setting_length(s);
        for (i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);
                const char *str;

                /* Point at the element itself, not at its array: arrays
                 * of properties run long. */
                if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                        line = config_setting_source_line(e);
                        where_of(where, sizeof(where), src, e, line);
                        return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                         "%skey '%s': element %d must be a "
                                         "\"name=value\" string, not %s",
                                         where, k->name, i + 1,
                                         type_name(config_setting_type(e)));
                }
                str = config_setting_get_string(e);
                line = src_line_of_string(src, e, line, str);
                where_of(where, sizeof(where), src, e, line);
                snprintf(label, sizeof(label), "%skey '%s'", where, k->name);
                if ((r = props_parse(p, str, label, errstr, errlen)))
                        return r;
        }
        return KBUS_OK;
}

/* Reads one setting of the root or of the retry group. */
static int load_setting(kbus_config *conf, const char *prefix,
                        const config_setting_t *s, const struct src *src,
                        char *errstr, size_t errlen) {
        const char *name = config_setting_name(s);
        const struct key *k;
        char where[512], label[768], num[64];
        struct val v;
        int r, i, n;

        where_of(where, sizeof(where), src, s, config_setting_source_line(s));

        if (!*prefix && !strcmp(name, RETRY_GROUP)) {
                if (!config_setting_is_group(s)) {
                        snprintf(label, sizeof(label), "%skey '%s'", where,
                                 name);
                        return wrong_type(label,
                                          "a group { max_attempts = ...; }", s,
                                          errstr, errlen);
                }
                n = config_setting_length(s);
                for (i = 0; i < n; i++)
                        if ((r = load_setting(conf, RETRY_PREFIX,
                                              config_setting_get_elem(s, i),
                                              src, errstr, errlen)))
                                return r;
                return KBUS_OK;
        }

        if (!(k = key_find(prefix, name)))
                return unknown_key(where, prefix, name, 0, errstr, errlen);

        if (k->kind == K_PROPS)
                return load_props(conf, k, s, src, errstr, errlen);

        snprintf(label, sizeof(label), "%skey '%s'", where, k->name);
        if ((r = val_from_setting(k, s, &v, label, errstr, errlen)))
                return r;
        if ((k->kind == K_INT || k->kind == K_INT64 || k->kind == K_UINT32) &&
            src_int_wrapped(src, s, v.i, num, sizeof(num)))
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%s: %s is out of range [%lld, %lld]", label,
                                 num, (long long)k->min, (long long)k->max);
        return val_store(conf, k, &v, label, errstr, errlen);
}

/* Checks that \p path names a readable file that is not a directory, so
 * that a missing file is NOT_FOUND rather than libconfig's vague "file
 * I/O error". */
static int check_file(const char *path, char *errstr, size_t errlen) {
        struct stat st;
        FILE *fp;
        int code;

        if (!(fp = fopen(path, "r"))) {
                code = (errno == ENOENT || errno == ENOTDIR) ? KBUS_NOT_FOUND
                       : errno == EACCES ? KBUS_PERMISSION_DENIED
                                         : KBUS_INVALID_ARGUMENT;
                return kbus__err(errstr, errlen, code, "%s: %s", path,
                                 strerror(errno));
        }
        code = fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode);
        fclose(fp);
        if (code)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "%s: is a directory", path);
        return KBUS_OK;
}

int kbus_config_load(kbus_config *conf, const char *path, char *errstr,
                     size_t errlen) {
        struct src src = {path, NULL};
        kbus_config *tmp = NULL;
        config_setting_t *root;
        config_t cfg;
        int r, i, n;

        if (!conf || !path)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "kbus_config_load: NULL argument");
        if ((r = check_file(path, errstr, errlen)))
                return r;

        config_init(&cfg);
        if (!config_read_file(&cfg, path)) {
                const char *file = config_error_file(&cfg);

                if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
                        r = kbus__err(errstr, errlen, KBUS_NOT_FOUND, "%s: %s",
                                      file ? file : path,
                                      config_error_text(&cfg));
                else
                        r = kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                      "%s:%d: %s", file ? file : path,
                                      config_error_line(&cfg),
                                      config_error_text(&cfg));
                goto done;
        }
        src_read(&src);

        if ((r = kbus__config_copy(conf, &tmp))) {
                oom(errstr, errlen);
                goto done;
        }

        root = config_root_setting(&cfg);
        n = config_setting_length(root);
        for (i = 0; i < n; i++)
                if ((r = load_setting(tmp, "", config_setting_get_elem(root, i),
                                      &src, errstr, errlen)))
                        goto done;

        config_replace(conf, &tmp);

done:
        kbus_config_free(tmp);
        kbus__free(src.text);
        config_destroy(&cfg);
        return r;
}

/* ------------------------------------------------------------------ */
/* Setting keys as text                                                */
/* ------------------------------------------------------------------ */

/* Sets \p name to \p text in \p conf, which the caller may throw away on
 * error: validation fails before anything is stored, except for memory. */
static int set_text(kbus_config *conf, const char *name, const char *text,
                    const char *label_or_null, char *errstr, size_t errlen) {
        const struct key *k = NULL;
        const char *dot = strchr(name, '.');
        char label[512];
        struct val v;
        int r;

        if (dot) {
                /* "kafka.linger.ms": the first dot ends the kbus key; the
                 * rest is the property name, dots and all. */
                size_t i, plen = (size_t)(dot - name);

                for (i = 0; i < N_KEYS; i++)
                        if (keys[i].kind == K_PROPS &&
                            strlen(keys[i].name) == plen &&
                            !strncmp(keys[i].name, name, plen))
                                k = &keys[i];
                if (k) {
                        kbus_props *p = (kbus_props *)((char *)conf + k->off);

                        if (!dot[1])
                                return kbus__err(errstr, errlen,
                                                 KBUS_INVALID_ARGUMENT,
                                                 "key '%s': empty librdkafka "
                                                 "property name",
                                                 name);
                        if (kbus__props_set(p, dot + 1, text))
                                return oom(errstr, errlen);
                        return KBUS_OK;
                }
        }

        for (k = keys; k < keys + N_KEYS; k++)
                if (!strcmp(k->name, name))
                        break;
        if (k == keys + N_KEYS)
                return unknown_key("", "", name, 1, errstr, errlen);

        if (label_or_null)
                snprintf(label, sizeof(label), "%s", label_or_null);
        else
                snprintf(label, sizeof(label), "key '%s'", name);

        /* "kafka" = "name=value", one element of the file's array. */
        if (k->kind == K_PROPS)
                return props_parse((kbus_props *)((char *)conf + k->off), text,
                                   label, errstr, errlen);

        if ((r = val_from_text(k, text, &v, label, errstr, errlen)))
                return r;
        return val_store(conf, k, &v, label, errstr, errlen);
}

int kbus_config_set(kbus_config *conf, const char *name, const char *value,
                    char *errstr, size_t errlen) {
        kbus_config *tmp;
        int r;

        if (!conf || !name || !value)
                return kbus__err(errstr, errlen, KBUS_INVALID_ARGUMENT,
                                 "kbus_config_set: NULL argument");
        /* One key needs no copy: set_text validates before it stores, and
         * a failed allocation leaves the old value in place.  The copy is
         * taken anyway to keep the guarantee obvious and future-proof for
         * keys that touch more than one field. */
        if (kbus__config_copy(conf, &tmp))
                return oom(errstr, errlen);
        if ((r = set_text(tmp, name, value, NULL, errstr, errlen))) {
                kbus_config_free(tmp);
                return r;
        }
        config_replace(conf, &tmp);
        return KBUS_OK;
}

const char *kbus_config_get(const kbus_config *conf, const char *name) {
        const struct key *k;

        if (!conf || !name)
                return NULL;
        for (k = keys; k < keys + N_KEYS; k++)
                if (!strcmp(k->name, name))
                        break;
        if (k == keys + N_KEYS || (k->kind != K_STRING && k->kind != K_TOPIC &&
                                   k->kind != K_TOPIC_PART))
                return NULL;
        return *(char *const *)((const char *)conf + k->off);
}

int kbus_config_prop(const kbus_config *conf, const char *list, size_t i,
                     const char **namep, const char **valuep) {
        const kbus_props *p;

        if (!conf || !list || !namep || !valuep)
                return KBUS_INVALID_ARGUMENT;
        if (!strcmp(list, "kafka"))
                p = &conf->kafka;
        else if (!strcmp(list, "producer"))
                p = &conf->producer;
        else if (!strcmp(list, "consumer"))
                p = &conf->consumer;
        else
                return KBUS_INVALID_ARGUMENT;
        if (i >= p->n)
                return KBUS_NOT_FOUND;
        *namep = p->names[i];
        *valuep = p->values[i];
        return KBUS_OK;
}

/* ------------------------------------------------------------------ */
/* Environment                                                         */
/* ------------------------------------------------------------------ */

static const struct {
        const char *var;
        const char *key;
} env_keys[] = {
    {"KBUS_BOOTSTRAP", "bootstrap"},
    {"KBUS_GROUP", "group"},
    {"KBUS_LOG_LEVEL", "log_level"},
    {"KBUS_LOW_LATENCY", "low_latency"},
};

int kbus__config_apply_env(kbus_config *conf, char *errstr, size_t errlen) {
        kbus_config *tmp;
        char label[128];
        size_t i;
        int r;

        if (kbus__config_copy(conf, &tmp))
                return oom(errstr, errlen);

        for (i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++) {
                const char *val = getenv(env_keys[i].var);

                /* An empty variable counts as unset, as shells make it
                 * easy to export one by accident ("KBUS_GROUP= cmd"). */
                if (!val || !*val)
                        continue;
                snprintf(label, sizeof(label),
                         "environment variable %s (key '%s')", env_keys[i].var,
                         env_keys[i].key);
                if ((r = set_text(tmp, env_keys[i].key, val, label, errstr,
                                  errlen))) {
                        kbus_config_free(tmp);
                        return r;
                }
        }

        config_replace(conf, &tmp);
        return KBUS_OK;
}
