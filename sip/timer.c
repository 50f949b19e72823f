/* timer: one-shot timers on the SIP thread for core's call flow (ring
 * timeout, whole-hunt cap), on Sofia's su_timer so they fire from the same
 * su_root loop as every SIP event and need no lock. */
#include "sip/sip_int.h"

#include <assert.h>
#include <stdlib.h>

struct sip_timer {
	su_timer_t *t;
	void (*fn)(void *arg);
	void *arg;
};

/* su_timer's argument type is bound to struct sip_call in sip_int.h; a
 * timer's own struct travels through it as an opaque pointer. */
static void fired(struct sip *sip, su_timer_t *st, struct sip_call *opaque)
{
	struct sip_timer *t = (struct sip_timer *)(void *)opaque;
	void (*fn)(void *arg) = t->fn;
	void *arg = t->arg;

	(void)sip;
	(void)st;
	su_timer_destroy(t->t);
	free(t);
	fn(arg);
}

struct sip_timer *sip_timer_start(struct sip *sip, unsigned ms, void (*fn)(void *arg), void *arg)
{
	struct sip_timer *t;

	assert(sip_on_thread(sip));
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	t->t = su_timer_create(su_root_task(sip->root), ms ? ms : 1);
	if (!t->t || su_timer_set(t->t, fired, (struct sip_call *)(void *)t) != 0) {
		if (t->t)
			su_timer_destroy(t->t);
		free(t);
		return NULL;
	}
	return t;
}

void sip_timer_cancel(struct sip_timer *t)
{
	if (!t)
		return;
	su_timer_destroy(t->t); /* also resets it */
	free(t);
}
