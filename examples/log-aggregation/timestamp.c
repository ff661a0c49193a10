/*
 * timestamp: reads the time a log line starts with (see timestamp.h).  A
 * small scanner over the line's first bytes: no locale, no time zone
 * database, no allocation, since it runs for every line shipped.
 */
#include "timestamp.h"

#include <stdbool.h>

/* Reads exactly \p n digits at \p s[*i]; returns -1 when they are not. */
static int digits(const char *s, size_t len, size_t *i, int n) {
        int v = 0;
        if (*i + (size_t)n > len)
                return -1;
        for (int k = 0; k < n; k++) {
                char c = s[*i + (size_t)k];
                if (c < '0' || c > '9')
                        return -1;
                v = v * 10 + (c - '0');
        }
        *i += (size_t)n;
        return v;
}

static bool is_alnum(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
               (c >= 'A' && c <= 'Z');
}

static bool leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to \p y-\p m-\p d of the proleptic Gregorian
 * calendar (valid for any year of four digits). */
static int64_t days_from_civil(int64_t y, int m, int d) {
        int64_t era, yoe, doy, doe;
        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

int timestamp_parse(const char *s, size_t len, int64_t *ms) {
        static const int mdays[] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
        size_t i = 0;
        int y, mo, d, h, mi, sec, frac = 0, scale = 100, off = 0;

        if (i < len && s[i] == '[')
                i++;
        if ((y = digits(s, len, &i, 4)) < 0 || i >= len || s[i++] != '-' ||
            (mo = digits(s, len, &i, 2)) < 0 || i >= len || s[i++] != '-' ||
            (d = digits(s, len, &i, 2)) < 0 || i >= len ||
            (s[i] != 'T' && s[i] != 't' && s[i] != ' ') ||
            (++i, h = digits(s, len, &i, 2)) < 0 || i >= len || s[i++] != ':' ||
            (mi = digits(s, len, &i, 2)) < 0 || i >= len || s[i++] != ':' ||
            (sec = digits(s, len, &i, 2)) < 0)
                return 0;
        if (mo < 1 || mo > 12 || d < 1 ||
            d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 ||
            sec > 60)
                return 0;
        if (sec == 60) /* a leap second: the last millisecond of its minute */
                sec = 59, frac = 999, scale = 0;
        if (i + 1 < len && (s[i] == '.' || s[i] == ',') && s[i + 1] >= '0' &&
            s[i + 1] <= '9') {
                for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                        frac += (s[i] - '0') * scale;
                        scale /= 10;
                }
        }
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
                i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
                int sign = s[i] == '-' ? -1 : 1, oh, om = 0;
                i++;
                if ((oh = digits(s, len, &i, 2)) < 0 || oh > 23)
                        return 0;
                if (i < len && s[i] == ':') {
                        i++;
                        if ((om = digits(s, len, &i, 2)) < 0)
                                return 0;
                } else if (i < len && s[i] >= '0' && s[i] <= '9' &&
                           (om = digits(s, len, &i, 2)) < 0) {
                        return 0;
                }
                if (om > 59)
                        return 0;
                off = sign * (oh * 60 + om);
        }
        if (i < len && is_alnum(s[i]))
                return 0;
        *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off) * 60000 +
              (int64_t)sec * 1000 + frac;
        return 1;
}
