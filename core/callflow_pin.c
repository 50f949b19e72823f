/* callflow_pin: DESIGN §3 step 4 on the SIP thread: the caller is answered,
 * hears "enter PIN", keys digits by whichever route comes first (RFC 4733,
 * in-band, SIP INFO), and the PIN picks the allocation side: success joins
 * an open side when needed (with the verification-success event, in one
 * write) and dials as a direct call would; failure replays the wrong-PIN
 * prompt up to pin.max_attempts, then the verification-failure event, the
 * goodbye prompt and BYE. The brute-force guard refuses locked-out callers. */
#include "core/callflow_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc_int.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/events.h"

enum cf_after {
	AFTER_NONE = 0,
	AFTER_DIGITS, /* start the first-digit timer */
	AFTER_RING,   /* "please wait" is over: ringback, while nobody answered */
	AFTER_BYE,    /* the last prompt: end the call */
};

#define STEP_MS(v) ((unsigned)((v) > 0 ? (v) : 1))

static struct pin_guard_cfg guard_cfg(const struct tenant *t)
{
	return (struct pin_guard_cfg){.after = t->pin.lockout_after,
	                              .window_ms = t->pin.lockout_window_ms,
	                              .lock_ms = t->pin.lockout_for_ms};
}

static void play(struct cf_call *c, enum media_prompt_id id, bool barge, enum cf_after after)
{
	c->prompt_cookie = ++c->cf->next_serial;
	c->after_prompt = after;
	if (media_session_play(c->media, 0, config_prompt(c->t, id), barge, c->prompt_cookie) !=
	    0) {
		/* Nothing to wait for: act as if it had played. */
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "prompt %s not played",
		        media_prompt_name(id));
		c->prompt_cookie = 0;
	}
}

void cf_say_goodbye(struct cf_call *c, enum media_prompt_id id, enum store_call_type type,
                    enum cf_outcome out)
{
	sip_timer_cancel(c->digit_timer);
	c->digit_timer = NULL;
	c->state = CF_VERIFYING;
	c->end_type = type;
	c->end_outcome = out;
	media_session_collect(c->media, 0, false);
	play(c, id, false, AFTER_BYE);
	if (!c->prompt_cookie)
		cf_end(c, type, 0, out);
}

void cf_pin_free(struct cf_call *c)
{
	sip_timer_cancel(c->digit_timer);
	c->digit_timer = NULL;
}

/* --- the write of a verdict: join + success event, or failure event ------ */

struct verdict_job {
	struct config *cfg;
	const struct tenant *t;
	struct events *ev;
	struct callflow *cf;
	bool success, join;
	uint8_t id[STORE_ID_LEN];
	int side;
	char caller[STORE_NUM_LEN], vn[STORE_NUM_LEN], pin[STORE_PIN_MAX + 1];
	char sid[STORE_SID_LEN + 1];
	int64_t started_ms, now_ms;
	int rc;
};

/* R2: the caller joins side s, unless the side filled up meanwhile or the
 * join would break R1 (the call goes ahead either way). */
static int join_side(struct store_txn *txn, struct verdict_job *j, struct store_alloc *a)
{
	struct store_side *s = &a->side[j->side];
	bool pinned[2] = {a->side[0].pin[0] != '\0', a->side[1].pin[0] != '\0'};
	struct alloc_err e = {0};
	int rc;

	if (a->state != STORE_ACTIVE || s->nnumbers >= STORE_MAX_NUMS)
		return 0;
	for (uint8_t i = 0; i < s->nnumbers; i++)
		if (strcmp(s->numbers[i], j->caller) == 0)
			return 0;
	snprintf(s->numbers[s->nnumbers++], STORE_NUM_LEN, "%s", j->caller);
	rc = alloc_check_r1(txn, a, pinned, &e);
	if (rc < 0) {
		log_msg(LVL_WARN, CF_MOD, j->sid, "%s not added to the open side: %s", j->caller,
		        e.msg);
		atomic_fetch_add(&j->cf->m.join_refused_r1, 1);
		s->nnumbers--;
		return store_alloc_get(txn, j->id, a);
	}
	if (rc > 0)
		return rc;
	return store_alloc_put(txn, a);
}

static int verdict_step(struct store_txn *txn, void *arg, size_t step)
{
	struct verdict_job *j = arg;
	struct store_alloc a;

	(void)step;
	if (!j->success) {
		j->rc = pin_event_failure(txn, j->t, j->caller, j->vn, j->pin, j->sid,
		                          j->started_ms, j->now_ms);
		return j->rc;
	}
	j->rc = store_alloc_get(txn, j->id, &a);
	if (!j->rc && j->join)
		j->rc = join_side(txn, j, &a);
	if (!j->rc)
		j->rc =
		    pin_event_success(txn, j->t, &a, j->caller, j->vn, j->pin, j->sid, j->now_ms);
	return j->rc;
}

static void verdict_done(void *arg, int rc)
{
	struct verdict_job *j = arg;

	if (rc || j->rc)
		log_msg(LVL_ERR, CF_MOD, j->sid, "verification not stored: %s",
		        strerror(rc ? rc : j->rc));
	else
		events_kick(j->ev);
	config_unref(j->cfg);
	free(j);
}

static void verdict_write(struct cf_call *c, bool success, const char *pin)
{
	struct verdict_job *j = calloc(1, sizeof(*j));

	if (!j) {
		log_msg(LVL_ERR, CF_MOD, c->rec.call_sid, "no memory for the verification");
		return;
	}
	*j = (struct verdict_job){.cfg = config_ref(c->cfg),
	                          .t = c->t,
	                          .ev = c->cf->ev,
	                          .cf = c->cf,
	                          .success = success,
	                          .join = c->rd.join,
	                          .side = c->rd.side,
	                          .started_ms = c->rec.started_ms,
	                          .now_ms = clock_now_ms()};
	memcpy(j->id, c->rd.alloc.id, STORE_ID_LEN);
	snprintf(j->caller, sizeof(j->caller), "%s", c->rec.from);
	snprintf(j->vn, sizeof(j->vn), "%s", c->rec.vn);
	snprintf(j->pin, sizeof(j->pin), "%s", pin);
	snprintf(j->sid, sizeof(j->sid), "%s", c->rec.call_sid);
	if (store_write_async(c->cf->st, verdict_step, j, 1, verdict_done) != 0) {
		log_msg(LVL_ERR, CF_MOD, c->rec.call_sid, "verification not queued");
		config_unref(j->cfg);
		free(j);
	}
}

/* --- collecting and verifying ---------------------------------------------- */

static void digit_timeout(void *arg);

static void arm_digit_timer(struct cf_call *c, int64_t ms)
{
	sip_timer_cancel(c->digit_timer);
	c->digit_timer = sip_timer_start(c->cf->sip, STEP_MS(ms), digit_timeout, c);
}

static enum route_pin_state match(void *arg, const char *digits)
{
	struct cf_call *c = arg;
	struct store_txn *txn;
	enum route_pin_state st = ROUTE_PIN_NONE;

	if (store_read_begin(c->cf->st, &txn) != 0)
		return ROUTE_PIN_NONE;
	if (route_pin_match(txn, c->rec.vn, digits, &st) != 0)
		st = ROUTE_PIN_NONE;
	store_read_end(txn);
	return st;
}

static void wrong(struct cf_call *c, const char *pin)
{
	struct pin_guard_cfg g = guard_cfg(c->t);

	atomic_fetch_add(&c->cf->m.pin_failure, 1);
	if (pin_guard_fail(c->cf->guard, &g, c->rec.vn, c->rec.from, clock_now_ms())) {
		atomic_fetch_add(&c->cf->m.pin_lockouts, 1);
		log_msg(LVL_WARN, CF_MOD, c->rec.call_sid, "%s locked out of PIN entry for %lld ms",
		        c->rec.from, (long long)g.lock_ms);
	}
	c->attempts++;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "wrong PIN (attempt %d of %d)", c->attempts,
	        c->t->pin.max_attempts);
	if (c->attempts >= c->t->pin.max_attempts) {
		verdict_write(c, false, pin);
		cf_say_goodbye(c, MEDIA_PROMPT_GOODBYE, STORE_CT_CALL_ATTEMPT, CF_OUT_CALL_ATTEMPT);
		return;
	}
	pin_collect_reset(&c->pc);
	c->state = CF_PIN;
	play(c, MEDIA_PROMPT_WRONG_PIN, true, AFTER_DIGITS);
	if (!c->prompt_cookie)
		arm_digit_timer(c, c->t->pin.first_digit_ms);
}

static void accepted(struct cf_call *c, const struct route_decision *rd, const char *pin)
{
	c->rd = *rd;
	c->rec.has_alloc = true;
	memcpy(c->rec.greenpin_id, rd->alloc.id, STORE_ID_LEN);
	atomic_fetch_add(&c->cf->m.pin_success, 1);
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "PIN accepted%s: %u to dial",
	        rd->join ? " (joins the open side)" : "", rd->ndial);
	verdict_write(c, true, pin);
	media_session_collect(c->media, 0, false);
	/* Dialled at once: "please wait" plays while the callee's INVITE goes
	 * out, ringback follows it, and an answer cuts it short. */
	play(c, MEDIA_PROMPT_PLEASE_WAIT, false, AFTER_RING);
	cf_pin_start_hunt(c, !c->prompt_cookie);
}

static void verify(struct cf_call *c)
{
	struct route_decision *rd = malloc(sizeof(*rd));
	struct store_txn *txn;
	char pin[STORE_PIN_MAX + 1];
	int rc;

	sip_timer_cancel(c->digit_timer);
	c->digit_timer = NULL;
	c->state = CF_VERIFYING;
	snprintf(pin, sizeof(pin), "%s", c->pc.digits);
	if (pin_guard_locked(c->cf->guard, c->rec.vn, c->rec.from, clock_now_ms())) {
		free(rd);
		atomic_fetch_add(&c->cf->m.pin_locked_refused, 1);
		cf_say_goodbye(c, MEDIA_PROMPT_NOT_ALLOWED, STORE_CT_CALL_ATTEMPT,
		               CF_OUT_CALL_ATTEMPT);
		return;
	}
	rc = rd ? store_read_begin(c->cf->st, &txn) : ENOMEM;
	if (!rc) {
		rc = route_by_pin(txn, c->cfg, c->rec.from, c->rec.vn, pin, rd);
		store_read_end(txn);
	}
	if (rc) {
		log_msg(LVL_ERR, CF_MOD, c->rec.call_sid, "PIN check failed: %s", strerror(rc));
		free(rd);
		cf_say_goodbye(c, MEDIA_PROMPT_NOBODY, STORE_CT_CALL_ATTEMPT, CF_OUT_CALL_ATTEMPT);
		return;
	}
	switch (rd->kind) {
	case ROUTE_PIN_ACCEPTED:
		accepted(c, rd, pin);
		break;
	case ROUTE_PIN_WRONG:
		wrong(c, pin);
		break;
	case ROUTE_PIN_REFUSED:
		if (rd->foreign) { /* someone else's PIN: indistinguishable from a wrong one */
			log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "PIN refused: %s", rd->reason);
			wrong(c, pin);
			break;
		}
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "PIN refused: %s", rd->reason);
		cf_say_goodbye(c, MEDIA_PROMPT_NOT_ALLOWED, STORE_CT_CALL_ATTEMPT,
		               CF_OUT_CALL_ATTEMPT);
		break;
	case ROUTE_NOBODY:
		c->rec.has_alloc = rd->has_alloc;
		memcpy(c->rec.greenpin_id, rd->alloc.id, STORE_ID_LEN);
		cf_say_goodbye(c, MEDIA_PROMPT_NOBODY, STORE_CT_CALL_ATTEMPT, CF_OUT_CALL_ATTEMPT);
		break;
	default: /* refused: usage, a full open side, a cooling PIN */
		log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "PIN refused: %s",
		        rd->reason ? rd->reason : route_kind_name(rd->kind));
		cf_say_goodbye(c, MEDIA_PROMPT_NOT_ALLOWED, STORE_CT_CALL_ATTEMPT,
		               CF_OUT_CALL_ATTEMPT);
		break;
	}
	free(rd);
}

static void digit_timeout(void *arg)
{
	struct cf_call *c = arg;

	c->digit_timer = NULL;
	if (c->state != CF_PIN)
		return;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "PIN entry timed out after \"%s\"",
	        c->pc.digits);
	verify(c);
}

void cf_pin_digit(struct cf_call *c, char digit, enum pin_route route)
{
	enum pin_feed r;

	if (c->state != CF_PIN)
		return;
	r = pin_collect_feed(&c->pc, digit, route, match, c);
	switch (r) {
	case PIN_FEED_IGNORED:
		return;
	case PIN_FEED_MORE:
	case PIN_FEED_RESTART:
		if (c->prompt_cookie && route == PIN_ROUTE_INFO)
			media_session_play(c->media, 0, NULL, false, 0); /* barge-in */
		arm_digit_timer(c, c->t->pin.inter_digit_ms);
		return;
	case PIN_FEED_COMPLETE:
		if (c->prompt_cookie)
			media_session_play(c->media, 0, NULL, false, 0);
		verify(c);
		return;
	}
}

/* --- media events, posted from the workers -------------------------------- */

struct media_job {
	struct callflow *cf;
	uint64_t serial;
	struct media_event ev;
};

#define BYE_GRACE_MS 200

static void bye_now(void *arg)
{
	struct cf_call *c = arg;

	c->digit_timer = NULL;
	cf_end(c, c->end_type, 0, c->end_outcome);
}

static void prompt_done(struct cf_call *c, const struct media_event *ev)
{
	int after = c->after_prompt;

	if (ev->cookie != c->prompt_cookie)
		return; /* a replaced prompt */
	c->prompt_cookie = 0;
	c->after_prompt = AFTER_NONE;
	switch (after) {
	case AFTER_DIGITS:
		if (c->state == CF_PIN && !c->digit_timer)
			arm_digit_timer(c, c->pc.n ? c->t->pin.inter_digit_ms
			                           : c->t->pin.first_digit_ms);
		break;
	case AFTER_RING:
		if (c->state == CF_HUNTING)
			media_session_ringback(c->media, 0, true);
		break;
	case AFTER_BYE:
		/* The last frame was just sent: let the caller hear it out. */
		sip_timer_cancel(c->digit_timer);
		c->digit_timer = sip_timer_start(c->cf->sip, BYE_GRACE_MS, bye_now, c);
		if (!c->digit_timer)
			cf_end(c, c->end_type, 0, c->end_outcome);
		break;
	default:
		break;
	}
}

static void media_job_run(void *arg)
{
	struct media_job *j = arg;
	struct cf_call *c = cf_find_serial(j->cf, j->serial);

	if (c && j->ev.kind == MEDIA_EV_RTP_TIMEOUT) {
		cf_rtp_timeout(c, j->ev.leg);
	} else if (c && j->ev.leg == 0) {
		if (j->ev.kind == MEDIA_EV_DIGIT)
			cf_pin_digit(c, j->ev.digit,
			             j->ev.route == MEDIA_DTMF_INBAND ? PIN_ROUTE_INBAND
			                                              : PIN_ROUTE_RFC4733);
		else if (j->ev.kind == MEDIA_EV_PROMPT_DONE)
			prompt_done(c, &j->ev);
	}
	free(j);
}

void cf_media_event(void *engine_arg, void *session_arg, const struct media_event *ev)
{
	struct callflow *cf = engine_arg;
	struct media_job *j = malloc(sizeof(*j));

	if (!j)
		return;
	*j = (struct media_job){.cf = cf, .serial = (uint64_t)(uintptr_t)session_arg, .ev = *ev};
	if (sip_post(cf->sip, media_job_run, j) != 0)
		free(j);
}

/* --- the start ------------------------------------------------------------- */

void cf_pin_begin(struct callflow *cf, struct config *cfg, const struct sip_invite *inv,
                  const struct route_decision *rd, const char *caller, const char *vn)
{
	struct cf_call *c;

	if (pin_guard_locked(cf->guard, vn, caller, clock_now_ms())) {
		/* Only a PIN could route this caller: refused before answering. */
		atomic_fetch_add(&cf->m.pin_locked_refused, 1);
		cf_refuse(cf, inv->call, 403, "PIN entry locked", CF_OUT_FORBIDDEN, inv->call_id);
		return;
	}
	c = cf_call_new(cf, cfg, rd->tenant, inv, caller, vn);
	if (!c)
		return;
	log_msg(LVL_INFO, CF_MOD, c->rec.call_sid, "INVITE %s -> %s (Call-ID %s): PIN entry",
	        caller, vn, inv->call_id ? inv->call_id : "?");
	if (cf_call_media(c, inv) != 0)
		return;
	c->answered_in = true;
	cf_answer_caller(c);
	cf_call_link(c);
	c->state = CF_PIN;
	media_session_collect(c->media, 0, true);
	if (!c->late_offer) /* else once the ACK brings the caller's address */
		cf_pin_greet(c);
}

void cf_pin_greet(struct cf_call *c)
{
	play(c, MEDIA_PROMPT_ENTER_PIN, true, AFTER_DIGITS);
	if (!c->prompt_cookie)
		arm_digit_timer(c, c->t->pin.first_digit_ms);
}

void cf_pin_prompt_stop(struct cf_call *c)
{
	if (!c->prompt_cookie)
		return;
	c->prompt_cookie = 0;
	c->after_prompt = AFTER_NONE;
	media_session_play(c->media, 0, NULL, false, 0);
}

void cf_pin_start_hunt(struct cf_call *c, bool ringback)
{
	c->state = CF_HUNTING;
	if (ringback)
		media_session_ringback(c->media, 0, true);
	if (cf_hunt_begin(c) != 0)
		cf_say_goodbye(c, MEDIA_PROMPT_NOBODY, STORE_CT_INCOMPLETE, CF_OUT_INCOMPLETE);
}
