/* sdp_int: what sip/'s SDP files share and nobody else uses. */
#ifndef PB_SIP_SDP_INT_H
#define PB_SIP_SDP_INT_H

#include <stddef.h>

/* Writes the message to err (when given) and returns rc. */
int sdp_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The decimal number in s[0..n), at most 6 digits and max; -1 if not. */
long sdp_parse_num(const char *s, size_t n, long max);

#endif
