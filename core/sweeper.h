/* sweeper: the timer thread that runs alloc_sweep() every sweep_interval, so
 * allocations leave at their deallocation_time (within a second) and vault
 * records leave at the end of retention. */
#ifndef PB_CORE_SWEEPER_H
#define PB_CORE_SWEEPER_H

#include "core/alloc.h"

struct sweeper;

int sweeper_start(struct sweeper **swp, struct alloc_service *svc);
void sweeper_stop(struct sweeper *sw);

#endif
