/* number: phone numbers to E.164 by a tenant's rules (DESIGN §2 input rules),
 * and the country check. Pure functions. */
#ifndef PB_CORE_NUMBER_H
#define PB_CORE_NUMBER_H

#include <stdbool.h>
#include <stddef.h>

/* Normalises raw to "+<8..15 digits>" in out (17 bytes): "+" kept, "00" ->
 * "+", a trunk "0" dropped and the country prefixed, other digits prefixed
 * with "+" when longer than national_length and starting with country, else
 * with "+<country>". Spaces, dashes, dots and parentheses are ignored.
 * 0, or EINVAL when raw is not a valid number. */
int number_normalize(const char *raw, const char *country, int national_length, char out[17]);

/* Whether e164 starts with one of the n country codes (n == 0: any). */
bool number_country_allowed(const char *e164, const char *const *countries, size_t n);

#endif
