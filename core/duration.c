/* duration: "<number><unit>" strings to milliseconds and back. The API takes
 * whole s/m/h/d only; config timers also take decimals and ms (DESIGN §5). */
#include "core/duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int64_t duration_unit_ms(const char *u, bool strict)
{
	if (strcmp(u, "s") == 0)
		return 1000;
	if (strcmp(u, "m") == 0)
		return 60 * 1000;
	if (strcmp(u, "h") == 0)
		return 3600 * 1000;
	if (strcmp(u, "d") == 0)
		return 86400 * 1000;
	if (!strict && strcmp(u, "ms") == 0)
		return 1;
	return 0;
}

static bool duration_digit(char c)
{
	return c >= '0' && c <= '9';
}

int duration_parse(const char *s, bool strict, int64_t *ms)
{
	const char *p = s;
	int64_t whole = 0;
	bool overflow = false;

	if (!s || !duration_digit(*p))
		return EINVAL; /* "", sign, space, ".5s" */
	for (; duration_digit(*p); p++) {
		if (__builtin_mul_overflow(whole, 10, &whole) ||
		    __builtin_add_overflow(whole, *p - '0', &whole))
			overflow = true; /* keep scanning: "99…9x" is still EINVAL */
	}

	/* The fraction as frac / 10^fdig, trailing zeros dropped. */
	int64_t frac = 0, scale = 1;
	int fdig = 0;
	if (*p == '.') {
		if (strict)
			return EINVAL;
		p++;
		if (!duration_digit(*p))
			return EINVAL;
		const char *f = p;
		while (duration_digit(*p))
			p++;
		const char *end = p;
		while (end > f && end[-1] == '0')
			end--;
		for (; f < end; f++) {
			/* 10 digits is as fine as any unit can make a whole ms */
			if (++fdig > 10)
				return EINVAL;
			frac = frac * 10 + (*f - '0');
			scale *= 10;
		}
	}

	int64_t unit = duration_unit_ms(p, strict);
	if (unit == 0)
		return EINVAL;
	if (overflow)
		return ERANGE;

	int64_t total;
	if (__builtin_mul_overflow(whole, unit, &total))
		return ERANGE;
	if (fdig > 0) {
		int64_t part = frac * unit; /* < 10^10 * 86400000: fits */
		if (part % scale != 0)
			return EINVAL; /* finer than a millisecond */
		if (__builtin_add_overflow(total, part / scale, &total))
			return ERANGE;
	}
	if (strict && total == 0)
		return EINVAL;
	*ms = total;
	return 0;
}

void duration_format(int64_t ms, char *buf, int len)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

	if (!buf || len <= 0)
		return;
	if (ms == 0) {
		snprintf(buf, (size_t)len, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms % units[i].ms == 0) {
			snprintf(buf, (size_t)len, "%" PRId64 "%s", ms / units[i].ms,
			         units[i].unit);
			return;
		}
	}
	snprintf(buf, (size_t)len, "%" PRId64 "ms", ms);
}
