/* alloc_time: the text forms clients see and send: greenpin ids (UUID),
 * deallocation times in the tenant's timezone, and list filters' dates. */
#include "core/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void alloc_id_format(const uint8_t id[STORE_ID_LEN], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int o = 0;

	for (int i = 0; i < STORE_ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 15];
	}
	out[o] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int alloc_id_parse(const char *s, uint8_t id[STORE_ID_LEN])
{
	int n = 0;

	if (strlen(s) != 36)
		return EINVAL;
	for (int i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return EINVAL;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return EINVAL;
		id[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return 0;
}

void alloc_time_format(const struct tenant *t, int64_t ms, char out[32])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	secs += config_tz_offset(t, (int64_t)secs);
	gmtime_r(&secs, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

int alloc_time_parse(const struct tenant *t, const char *s, bool end_of_day, int64_t *ms)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	int64_t secs;
	int off = 0, hh, mm;
	bool has_time = false, has_zone = false;

	if (!p)
		return EINVAL;
	if (*p == ' ' || *p == 'T') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			return EINVAL;
		has_time = true;
	}
	if (*p == 'Z') {
		off = 0;
		has_zone = true;
		p++;
	} else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2 &&
	           strlen(p) == 6) {
		off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
		has_zone = true;
		p += 6;
	}
	if (*p != '\0')
		return EINVAL;
	if (!has_time && end_of_day) {
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 59;
	}
	secs = (int64_t)timegm(&tm);
	if (!has_zone)
		off = config_tz_offset(t, secs);
	*ms = (secs - off) * 1000 + (!has_time && end_of_day ? 999 : 0);
	return 0;
}
