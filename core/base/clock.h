/* clock: wall-clock and monotonic time in milliseconds. */
#ifndef PB_BASE_CLOCK_H
#define PB_BASE_CLOCK_H

#include <stdint.h>

int64_t clock_now_ms(void);  /* Unix epoch, realtime */
int64_t clock_mono_ms(void); /* monotonic, for timeouts */
int64_t clock_mono_us(void);

#endif
