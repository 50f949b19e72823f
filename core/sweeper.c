#include "core/sweeper.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/calls.h"
#include "core/recordings.h"

struct sweeper {
	struct alloc_service *svc;
	struct recordings_sweep *rec; /* the sweeper thread's alone */
	pthread_t thread;
	pthread_mutex_t lock; /* guards stop */
	pthread_cond_t wake;
	bool stop;
};

static void *sweeper_main(void *arg)
{
	struct sweeper *sw = arg;

	pthread_mutex_lock(&sw->lock);
	while (!sw->stop) {
		struct config *cfg = config_current();
		int64_t interval = cfg->sweep_interval_ms > 0 ? cfg->sweep_interval_ms : 200;
		struct timespec until;

		pthread_mutex_unlock(&sw->lock);
		alloc_sweep(sw->svc, cfg, clock_now_ms());
		calls_purge(alloc_service_store(sw->svc), clock_now_ms());
		/* Reads no directory until something can be due; directories it
		 * cannot read it logs itself. */
		if (recordings_sweep_run(sw->rec, cfg, clock_now_ms()) < 0)
			log_err("sweep", "recordings sweep: out of memory");
		config_unref(cfg);
		pthread_mutex_lock(&sw->lock);

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += interval / 1000;
		until.tv_nsec += (interval % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!sw->stop && pthread_cond_timedwait(&sw->wake, &sw->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

int sweeper_start(struct sweeper **swp, struct alloc_service *svc)
{
	struct sweeper *sw = calloc(1, sizeof(*sw));
	pthread_condattr_t ca;
	int rc;

	if (!sw)
		return ENOMEM;
	sw->svc = svc;
	rc = recordings_sweep_new(&sw->rec);
	if (rc != 0) {
		free(sw);
		return rc;
	}
	pthread_mutex_init(&sw->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sw->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&sw->thread, NULL, sweeper_main, sw);
	if (rc != 0) {
		log_err("sweep", "cannot start the sweeper thread: %d", rc);
		recordings_sweep_free(sw->rec);
		free(sw);
		return rc;
	}
	*swp = sw;
	return 0;
}

void sweeper_stop(struct sweeper *sw)
{
	if (!sw)
		return;
	pthread_mutex_lock(&sw->lock);
	sw->stop = true;
	pthread_cond_signal(&sw->wake);
	pthread_mutex_unlock(&sw->lock);
	pthread_join(sw->thread, NULL);
	pthread_cond_destroy(&sw->wake);
	pthread_mutex_destroy(&sw->lock);
	recordings_sweep_free(sw->rec);
	free(sw);
}
