#include "core/base/rand.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

void rand_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* Without entropy no PIN is safe to hand out. */
			abort();
		}
		p += r;
		n -= (size_t)r;
	}
}

uint64_t rand_below(uint64_t n)
{
	uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
	uint64_t v;

	do
		rand_bytes(&v, sizeof(v));
	while (v >= limit);
	return v % n;
}
