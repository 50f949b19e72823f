/* api_range: the Range request header (RFC 9110 §14.2) for files the API
 * serves. One byte range is honoured; anything else is ignored and the
 * whole file sent, which the RFC allows ("A server MAY ignore the Range
 * header field"): a player asks for one range at a time, and a multipart/
 * byteranges reply is not worth its code here. */
#include "api/api_int.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* 1*DIGIT from *p into *v, saturating at UINT64_MAX (a first-pos that
 * large is past any file, a last-pos or suffix that large means "to the
 * end"). false when there is no digit. */
static bool digits(const char **p, uint64_t *v)
{
	const char *s = *p;

	*v = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		*v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
	}
	*p = s;
	return true;
}

/* One range-spec between s and end (OWS already trimmed). */
static enum api_range_kind one_range(const char *s, const char *end, uint64_t size, uint64_t *first,
                                     uint64_t *last)
{
	uint64_t a, b;

	if (*s == '-') { /* suffix-range: the last b bytes */
		s++;
		if (!digits(&s, &b) || s != end)
			return API_RANGE_NONE;
		if (b == 0)
			return API_RANGE_UNSATISFIABLE;
		/* Satisfiable by the RFC, but an empty file has no byte to
		 * name in Content-Range: send it whole (and empty). */
		if (size == 0)
			return API_RANGE_NONE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return API_RANGE_OK;
	}
	if (!digits(&s, &a) || *s++ != '-')
		return API_RANGE_NONE;
	if (s == end) {
		b = UINT64_MAX;
	} else if (!digits(&s, &b) || s != end || b < a) {
		return API_RANGE_NONE; /* "5-3" is invalid, not unsatisfiable */
	}
	if (a >= size)
		return API_RANGE_UNSATISFIABLE;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return API_RANGE_OK;
}

enum api_range_kind api_range_parse(const char *header, uint64_t size, uint64_t *first,
                                    uint64_t *last)
{
	const char *p, *spec = NULL, *spec_end = NULL;

	if (!header)
		return API_RANGE_NONE;
	while (is_ows(*header))
		header++;
	if (strncasecmp(header, "bytes=", 6) != 0)
		return API_RANGE_NONE; /* another unit, or not a range at all */
	/* range-set = 1#range-spec: elements split at ',', OWS around them,
	 * empty elements allowed (RFC 9110 §5.6.1). Exactly one must be
	 * left. */
	p = header + 6;
	for (;;) {
		const char *s = p, *e = strchr(p, ',');

		if (!e)
			e = p + strlen(p);
		while (s < e && is_ows(*s))
			s++;
		while (e > s && is_ows(e[-1]))
			e--;
		if (s < e) {
			if (spec)
				return API_RANGE_NONE; /* several ranges */
			spec = s;
			spec_end = e;
		}
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	if (!spec)
		return API_RANGE_NONE;
	return one_range(spec, spec_end, size, first, last);
}
