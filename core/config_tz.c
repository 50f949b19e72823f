/* config_tz: a tenant's timezone as rules giving the UTC offset at any
 * instant: a fixed offset ("UTC", "Z", "+05:30") or an IANA zone read from its
 * TZif file (RFC 8536) under /usr/share/zoneinfo (or $TZDIR), including the
 * footer's POSIX TZ rule for instants past the last listed transition. We
 * parse the file ourselves because setenv("TZ")/localtime is process-global
 * and not thread-safe, and each tenant needs its own zone. */
#include "core/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One POSIX TZ rule date: Jn (1..365, no Feb 29), n (0..365), Mm.w.d. */
struct tz_date {
	char kind; /* 'J', 'n', 'M' */
	int a, b, c;
	int32_t time; /* seconds after local midnight (may be negative or > 24h) */
};

struct tz_posix {
	int32_t std_off, dst_off; /* seconds east */
	bool has_dst;
	struct tz_date start, end;
};

struct tz_rules {
	int32_t fixed; /* used when ntrans == 0 and !has_footer */
	size_t ntrans;
	int64_t *trans;     /* transition instants, ascending */
	int32_t *trans_off; /* offset in force from trans[i] on */
	int32_t first_off;  /* before the first transition */
	bool has_footer;
	struct tz_posix footer;
};

static int64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* "[+-]hh[:mm[:ss]]" as seconds; hours up to 167 (RFC 8536 extension). */
static const char *tz_parse_hms(const char *p, int32_t *out, int maxh)
{
	int sign = 1, h = 0, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		h = h * 10 + (*p++ - '0');
	if (*p == ':') {
		p++;
		if (sscanf(p, "%2d", &m) != 1)
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == ':') {
			p++;
			if (sscanf(p, "%2d", &s) != 1)
				return NULL;
			while (*p >= '0' && *p <= '9')
				p++;
		}
	}
	if (h > maxh || m > 59 || s > 59)
		return NULL;
	*out = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *tz_parse_name(const char *p)
{
	if (*p == '<') {
		const char *end = strchr(p, '>');
		return end ? end + 1 : NULL;
	}
	const char *start = p;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		p++;
	return p - start >= 3 ? p : NULL;
}

static const char *tz_parse_date(const char *p, struct tz_date *d)
{
	d->time = 7200; /* 02:00 local unless given */
	if (*p == 'M') {
		d->kind = 'M';
		int n = 0;
		if (sscanf(p + 1, "%d.%d.%d%n", &d->a, &d->b, &d->c, &n) != 3 || d->a < 1 ||
		    d->a > 12 || d->b < 1 || d->b > 5 || d->c < 0 || d->c > 6)
			return NULL;
		p += 1 + n;
	} else {
		d->kind = *p == 'J' ? 'J' : 'n';
		if (*p == 'J')
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		d->a = 0;
		while (*p >= '0' && *p <= '9')
			d->a = d->a * 10 + (*p++ - '0');
		if (d->a > 365 || (d->kind == 'J' && d->a < 1))
			return NULL;
	}
	if (*p == '/')
		p = tz_parse_hms(p + 1, &d->time, 167);
	return p;
}

/* "EST5EDT,M3.2.0,M11.1.0", "<+0530>-5:30", "IST-5:30". */
static bool tz_parse_posix(const char *p, struct tz_posix *r)
{
	int32_t west;

	memset(r, 0, sizeof(*r));
	if (!(p = tz_parse_name(p)) || !(p = tz_parse_hms(p, &west, 24)))
		return false;
	r->std_off = -west;
	if (!*p)
		return true;
	if (!(p = tz_parse_name(p)))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = tz_parse_hms(p, &west, 24)))
			return false;
		r->dst_off = -west;
	}
	if (*p != ',') {
		r->has_dst = false; /* no rule given: treat as standard time all year */
		return true;
	}
	if (!(p = tz_parse_date(p + 1, &r->start)) || *p != ',' ||
	    !(p = tz_parse_date(p + 1, &r->end)))
		return false;
	return *p == '\0';
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds since the epoch (of that offset) at which d falls in year y. */
static int64_t tz_date_local(const struct tz_date *d, int64_t y)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t day;

	if (d->kind == 'J')
		day = days_from_civil(y, 1, 1) + d->a - 1 + (leap(y) && d->a >= 60);
	else if (d->kind == 'n')
		day = days_from_civil(y, 1, 1) + d->a;
	else {
		int64_t first = days_from_civil(y, d->a, 1);
		int wday = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
		int mday = 1 + (d->c - wday + 7) % 7 + (d->b - 1) * 7;
		int len = mdays[d->a - 1] + (d->a == 2 && leap(y));
		while (mday > len)
			mday -= 7;
		day = first + mday - 1;
	}
	return day * 86400 + d->time;
}

static int32_t tz_posix_offset(const struct tz_posix *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_off;
	int64_t days = (t + r->std_off) / 86400 - ((t + r->std_off) % 86400 < 0);
	/* civil year of that day */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t y = yoe + era * 400 + (mp >= 10);

	int64_t start = tz_date_local(&r->start, y) - r->std_off; /* as UTC */
	int64_t end = tz_date_local(&r->end, y) - r->dst_off;
	bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? r->dst_off : r->std_off;
}

static int tz_parse_tzif(const unsigned char *buf, size_t len, struct tz_rules *tz)
{
	if (len < 44 || memcmp(buf, "TZif", 4) != 0)
		return EINVAL;
	int version = buf[4];
	const unsigned char *h = buf;
	int tsize = 4;
	size_t off = 0;

	for (int pass = 0; pass < 2; pass++) {
		if (off + 44 > len || memcmp(h, "TZif", 4) != 0)
			return EINVAL;
		uint32_t isut = (uint32_t)be(h + 20, 4), isstd = (uint32_t)be(h + 24, 4);
		uint32_t leapcnt = (uint32_t)be(h + 28, 4), timecnt = (uint32_t)be(h + 32, 4);
		uint32_t typecnt = (uint32_t)be(h + 36, 4), charcnt = (uint32_t)be(h + 40, 4);
		size_t body = (size_t)timecnt * (size_t)(tsize + 1) + typecnt * 6u + charcnt +
		              leapcnt * (size_t)(tsize + 4) + isstd + isut;
		if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || off + 44 + body > len)
			return EINVAL;
		if (pass == 0 && version >= '2') { /* skip the 32-bit block, use the 64-bit one */
			off += 44 + body;
			h = buf + off;
			tsize = 8;
			continue;
		}
		const unsigned char *times = h + 44, *idx = times + (size_t)timecnt * tsize;
		const unsigned char *types = idx + timecnt;
		tz->ntrans = timecnt;
		tz->trans = calloc(timecnt ? timecnt : 1, sizeof(*tz->trans));
		tz->trans_off = calloc(timecnt ? timecnt : 1, sizeof(*tz->trans_off));
		if (!tz->trans || !tz->trans_off)
			return ENOMEM;
		for (uint32_t i = 0; i < timecnt; i++) {
			if (idx[i] >= typecnt)
				return EINVAL;
			tz->trans[i] = be(times + (size_t)i * tsize, tsize);
			tz->trans_off[i] = (int32_t)be(types + idx[i] * 6u, 4);
		}
		tz->first_off = (int32_t)be(types, 4);
		tz->fixed = timecnt ? tz->trans_off[timecnt - 1] : tz->first_off;
		off += 44 + body;
		break;
	}
	if (version >= '2' && off < len && buf[off] == '\n') {
		const unsigned char *nl = memchr(buf + off + 1, '\n', len - off - 1);
		char footer[128];
		size_t n = nl ? (size_t)(nl - (buf + off + 1)) : 0;
		if (n > 0 && n < sizeof(footer)) {
			memcpy(footer, buf + off + 1, n);
			footer[n] = '\0';
			tz->has_footer = tz_parse_posix(footer, &tz->footer);
		}
	}
	return 0;
}

static int tz_load_file(const char *name, struct tz_rules *tz, char *why, size_t whylen)
{
	const char *dir = getenv("TZDIR");
	char path[512];

	/* An IANA name is "Area/City" style: no absolute paths, no "..". */
	for (const char *p = name; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		          (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-' ||
		          *p == '+' || *p == '.';
		if (!ok || (p == name && (*p == '/' || *p == '.')) || strncmp(p, "..", 2) == 0) {
			snprintf(why, whylen, "not a timezone name");
			return EINVAL;
		}
	}
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, whylen, "unknown timezone (%s: %s; is tzdata installed?)", path,
		         strerror(errno));
		return EINVAL;
	}
	unsigned char *buf = malloc(1 << 20);
	size_t len = buf ? fread(buf, 1, 1 << 20, f) : 0;
	fclose(f);
	if (!buf)
		return ENOMEM;
	int rc = tz_parse_tzif(buf, len, tz);
	free(buf);
	if (rc == EINVAL)
		snprintf(why, whylen, "%s is not a TZif timezone file", path);
	return rc;
}

int tz_rules_load(const char *spec, struct tz_rules **out, char *why, size_t whylen)
{
	struct tz_rules *tz = calloc(1, sizeof(*tz));
	int rc = 0;

	if (!tz)
		return ENOMEM;
	if (strcmp(spec, "UTC") == 0 || strcmp(spec, "Z") == 0) {
		tz->fixed = 0;
	} else if (spec[0] == '+' || spec[0] == '-') {
		/* "+HH:MM" east of UTC (ISO 8601 sign, unlike POSIX TZ) */
		const char *p = spec + 1;
		bool shape = strlen(spec) == 6 && p[2] == ':';
		for (int i = 0; shape && i < 5; i++)
			shape = i == 2 || (p[i] >= '0' && p[i] <= '9');
		int h = shape ? (p[0] - '0') * 10 + (p[1] - '0') : 99;
		int m = shape ? (p[3] - '0') * 10 + (p[4] - '0') : 99;
		if (h > 18 || m > 59) {
			snprintf(why, whylen, "expected UTC, Z, +HH:MM, -HH:MM or an IANA name");
			rc = EINVAL;
		} else {
			tz->fixed = (spec[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
		}
	} else if (!*spec) {
		snprintf(why, whylen, "expected UTC, Z, +HH:MM, -HH:MM or an IANA name");
		rc = EINVAL;
	} else {
		rc = tz_load_file(spec, tz, why, whylen);
	}
	if (rc) {
		tz_rules_free(tz);
		return rc;
	}
	*out = tz;
	return 0;
}

void tz_rules_free(struct tz_rules *tz)
{
	if (!tz)
		return;
	free(tz->trans);
	free(tz->trans_off);
	free(tz);
}

int tz_rules_offset(const struct tz_rules *tz, int64_t t)
{
	if (!tz)
		return 0;
	if (tz->ntrans == 0)
		return tz->has_footer ? tz_posix_offset(&tz->footer, t) : tz->fixed;
	if (t < tz->trans[0])
		return tz->first_off;
	if (t >= tz->trans[tz->ntrans - 1] && tz->has_footer)
		return tz_posix_offset(&tz->footer, t);
	size_t lo = 0, hi = tz->ntrans; /* last transition <= t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->trans_off[lo];
}

int config_tz_offset(const struct tenant *t, int64_t unix_s)
{
	return t ? tz_rules_offset(t->tz, unix_s) : 0;
}
