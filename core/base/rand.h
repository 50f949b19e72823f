/* rand: the CSPRNG (getrandom) every secret in pinbridge comes from: PINs,
 * greenpin ids, request ids. */
#ifndef PB_BASE_RAND_H
#define PB_BASE_RAND_H

#include <stddef.h>
#include <stdint.h>

void rand_bytes(void *buf, size_t n);
/* Uniform in [0, n), no modulo bias. n > 0. */
uint64_t rand_below(uint64_t n);

#endif
