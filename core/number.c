/* number: raw phone numbers to E.164 by a tenant's country rules (DESIGN §2),
 * and the allowed-country check. Pure functions, no allocation. */
#include "core/number.h"

#include <errno.h>
#include <string.h>

#define E164_MIN 8
#define E164_MAX 15

static bool number_ignorable(char ch)
{
	return ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')';
}

int number_normalize(const char *raw, const char *country, int national_length, char out[17])
{
	char digits[E164_MAX + 4]; /* "00" + a long number still fits; longer is invalid */
	size_t n = 0;
	bool plus = false, seen = false;

	if (!raw)
		return EINVAL;
	if (!country)
		country = "";
	if (national_length <= 0)
		national_length = 10;
	for (const char *c = country; *c; c++)
		if (*c < '0' || *c > '9')
			return EINVAL;
	for (const char *p = raw; *p; p++) {
		if (number_ignorable(*p))
			continue;
		if (*p == '+' && !seen) {
			plus = true;
			seen = true;
			continue;
		}
		if (*p < '0' || *p > '9')
			return EINVAL; /* letters, a second or late "+", control bytes */
		if (n == sizeof(digits))
			return EINVAL;
		digits[n++] = *p;
		seen = true;
	}

	char e164[E164_MAX + 1];
	size_t len = 0, cc = strlen(country);
	const char *rest = digits;
	size_t nrest = n;
	bool add_cc = false;

	if (plus) {
		/* kept as given */
	} else if (n >= 2 && digits[0] == '0' && digits[1] == '0') {
		rest += 2;
		nrest -= 2;
	} else if (n >= 1 && digits[0] == '0') {
		rest += 1;
		nrest -= 1;
		add_cc = true;
	} else {
		/* A number longer than a national one that already starts with the
		 * country code was written internationally without its "+". */
		add_cc = !((int)n > national_length && n >= cc && memcmp(digits, country, cc) == 0);
	}
	if (add_cc) {
		if (cc > E164_MAX)
			return EINVAL;
		memcpy(e164, country, cc);
		len = cc;
	}
	if (len + nrest > E164_MAX || len + nrest < E164_MIN)
		return EINVAL;
	memcpy(e164 + len, rest, nrest);
	len += nrest;
	if (e164[0] == '0')
		return EINVAL; /* no country code starts with 0 */
	out[0] = '+';
	memcpy(out + 1, e164, len);
	out[len + 1] = '\0';
	return 0;
}

bool number_country_allowed(const char *e164, const char *const *countries, size_t n)
{
	if (n == 0)
		return true;
	if (!e164)
		return false;
	if (*e164 == '+')
		e164++;
	for (size_t i = 0; i < n; i++) {
		size_t len = countries[i] ? strlen(countries[i]) : 0;
		if (len > 0 && strncmp(e164, countries[i], len) == 0)
			return true;
	}
	return false;
}
