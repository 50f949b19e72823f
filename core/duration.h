/* duration: "1200s", "20m", "1h", "180d" and, in config, "250ms", "0.5s". */
#ifndef PB_CORE_DURATION_H
#define PB_CORE_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* strict (the API's deallocation_policy.duration): a positive integer and one
 * of s, m, h, d. Otherwise (config timers): a non-negative decimal and one of
 * ms, s, m, h, d. 0 and *ms, or EINVAL (ERANGE when it overflows). */
int duration_parse(const char *s, bool strict, int64_t *ms);

/* Formats ms the way it parses back ("1500ms", "90s", "15m", "2h", "7d"). */
void duration_format(int64_t ms, char *buf, int len);

#endif
