/* test_siptimer: RFC 4028 session timers, RFC 3262 reliable provisionals
 * and glare (491) on real sockets, pinbridge's SIP thread on 127.0.0.1 and
 * SIPp as caller (127.0.0.2) or callee's trunk (127.0.0.3): who refreshes,
 * what happens when nobody does, 422 below min_se, PRACK of our 180, and
 * refreshes that cross the peer's re-INVITE or UPDATE or get 491. The
 * intervals are 2 s, 4 s where the peer refreshes (nua's refresh timer
 * ticks once a second, so it may BYE 1 s early). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sipp_helpers.h" /* cmocka, sip/sip.h, the rig and SIPp */

#define ANSWER_SDP(port)                                                                           \
	"v=0\r\no=pinbridge 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"        \
	"m=audio " port " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How often needle occurs in hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A rig with session timers: session_expires and min_se in ms. */
static void rig_timers(struct rig *r, int64_t session_expires_ms, int64_t min_se_ms)
{
	rig_session_expires_ms = session_expires_ms;
	rig_min_se_ms = min_se_ms;
	rig_start(r);
	rig_session_expires_ms = rig_min_se_ms = 0;
}

/* SIPp calls in with scenario; pinbridge answers 200 with its SDP and
 * waits for the caller's BYE (the scenario's end). Returns the seconds
 * from the answer to the call's end. */
static double inbound_until_caller_ends(struct rig *r, struct uas *u, const char *scenario)
{
	double t0;

	sipp_start(u, scenario, r->port);
	assert_int_equal(wait_count(&r->seen, &r->seen.ninvite, 1), 0);
	assert_int_equal(answer(r, r->seen.call, 200, ANSWER_SDP("30200")), 0);
	t0 = now_s();
	assert_int_equal(wait_count(&r->seen, &r->seen.nended, 1), 0);
	return now_s() - t0;
}

/* (a) The caller asks for a 4 s session and refreshes it by UPDATE without
 * SDP every second: the 200 grants it, each UPDATE gets 200 with
 * Session-Expires, and the call lasts past the interval until the caller's
 * BYE. */
static void caller_refreshes_and_the_call_goes_on(void **state)
{
	struct rig r;
	struct uas u = {0};
	double took;

	(void)state;
	rig_timers(&r, 1800000, 1000);
	took = inbound_until_caller_ends(&r, &u, "st_in_uac");
	assert_int_equal(uas_wait(&u), 0);
	assert_true(took > 4.0); /* longer than one interval */
	assert_int_equal(count(uas_log(&u), "UPDATE sip:"), 5);
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 1);
}

/* (b) refresher=uas: pinbridge refreshes, by UPDATE without SDP, three
 * times before the caller hangs up. */
static void pinbridge_refreshes_when_the_caller_asks(void **state)
{
	struct rig r;
	struct uas u = {0};
	double took;

	(void)state;
	rig_timers(&r, 1800000, 1000);
	took = inbound_until_caller_ends(&r, &u, "st_in_uas");
	assert_int_equal(uas_wait(&u), 0);
	/* nua refreshes on a whole-second tick, the first one possibly right
	 * after the answer: three take a little over 2 s, maybe less. */
	assert_true(took > 1.5);
	assert_int_equal(count(uas_log(&u), "UPDATE sip:"), 3);
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 1);
}

/* (c) Nobody refreshes: nua BYEs the caller before the 2 s interval is
 * over (at 9/10 of it, on a 1 s tick) and core hears the call ended. */
static void unrefreshed_session_is_ended_with_bye(void **state)
{
	struct rig r;
	struct uas u = {0};
	double took;

	(void)state;
	rig_timers(&r, 1800000, 1000);
	took = inbound_until_caller_ends(&r, &u, "st_in_expire");
	assert_int_equal(uas_wait(&u), 0);
	assert_true(took >= 0.9);
	assert_true(took < 6.0);
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 1);
}

/* (d) A session interval below min_se: 422 with Min-SE before core sees
 * the call, with the default min_se (90 s) and a configured one below
 * RFC 4028's floor (Sofia still writes Min-SE: 90, stack.c). */
static void short_session_interval_gets_422(int64_t min_se_ms)
{
	struct rig r;
	struct uas u = {0};

	rig_timers(&r, 0, min_se_ms);
	sipp_start(&u, "st_in_422", r.port);
	assert_int_equal(uas_wait(&u), 0);
	assert_non_null(strstr(uas_log(&u), "SIP/2.0 422 "));
	rig_stop(&r);
	assert_int_equal(r.seen.ninvite, 0);
}

static void interval_below_default_min_se_gets_422(void **state)
{
	(void)state;
	short_session_interval_gets_422(0);
}

static void interval_below_configured_min_se_gets_422(void **state)
{
	(void)state;
	short_session_interval_gets_422(2000);
}

/* Without session_expires of our own and a caller asking for nothing, the
 * 200 carries no Session-Expires. */
static void no_timer_unless_asked(void **state)
{
	struct rig r;
	struct uas u = {0};

	(void)state;
	rig_timers(&r, 0, 0);
	sipp_start(&u, "leg_in_reinvite", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	assert_int_equal(answer(&r, r.seen.call, 200, ANSWER_SDP("30200")), 0);
	usleep(800000); /* the ACK, the re-INVITE and its ACK */
	hangup(&r, r.seen.call);
	assert_int_equal(uas_wait(&u), 0);
	assert_null(strstr(uas_log(&u), "Session-Expires"));
	rig_stop(&r);
}

/* (e) Our INVITE asks for session_expires; the callee makes us the
 * refresher and we refresh the leg by UPDATE until it hangs up. */
static void leg_is_refreshed_when_the_callee_asks(void **state)
{
	struct rig r;
	struct uas u = {0};
	const char *log;

	(void)state;
	rig_timers(&r, 2000, 1000);
	uas_start(&u, "st_out_uac");
	dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 2), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_ANSWERED);
	assert_int_equal(r.seen.ev[1].kind, SIP_LEG_ENDED); /* the callee's BYE */
	assert_int_equal(uas_wait(&u), 0);
	log = uas_log(&u);
	assert_non_null(strstr(log, "Session-Expires: 2\r\n"));
	assert_non_null(strstr(log, "Min-SE: 1\r\n"));
	assert_int_equal(count(log, "UPDATE sip:"), 2);
	rig_stop(&r);
}

/* The callee takes the refresher role and never refreshes: the leg is
 * BYEd and reported ended. */
static void unrefreshed_leg_is_ended_with_bye(void **state)
{
	struct rig r;
	struct uas u = {0};
	double t0;

	(void)state;
	rig_timers(&r, 2000, 1000);
	uas_start(&u, "st_out_expire");
	dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_ANSWERED);
	t0 = now_s();
	assert_int_equal(wait_events(&r.seen, 2), 0);
	assert_int_equal(r.seen.ev[1].kind, SIP_LEG_ENDED);
	assert_true(now_s() - t0 >= 0.9);
	assert_int_equal(uas_wait(&u), 0);
	rig_stop(&r);
}

/* A caller without timer support but allowing UPDATE: pinbridge runs its
 * own session (session_expires) and refreshes it by UPDATE. */
static void caller_without_timer_support_is_refreshed_by_update(void **state)
{
	struct rig r;
	struct uas u = {0};

	(void)state;
	rig_timers(&r, 2000, 1000);
	inbound_until_caller_ends(&r, &u, "st_in_notimer");
	assert_int_equal(uas_wait(&u), 0);
	assert_int_equal(count(uas_log(&u), "UPDATE sip:"), 2);
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 1);
}

/* A caller allowing no UPDATE and without timer support: no session timer
 * of ours (nua would refresh by UPDATE regardless and draw 405 each
 * second, or 501 and a BYE); the call lasts past the interval. */
static void caller_without_update_gets_no_timer_of_ours(void **state)
{
	struct rig r;
	struct uas u = {0};
	double took;

	(void)state;
	rig_timers(&r, 2000, 1000);
	took = inbound_until_caller_ends(&r, &u, "st_in_noupdate");
	assert_int_equal(uas_wait(&u), 0);
	assert_true(took > 3.0);
	assert_null(strstr(uas_log(&u), "Session-Expires"));
	assert_null(strstr(uas_log(&u), "UPDATE sip:"));
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 1);
}

/* A callee allowing no UPDATE and without timer support: pinbridge
 * refreshes the leg by re-INVITE with its own offer again. */
static void leg_without_update_is_refreshed_by_reinvite(void **state)
{
	struct rig r;
	struct uas u = {0};
	const char *log;

	(void)state;
	rig_timers(&r, 2000, 1000);
	uas_start(&u, "st_out_reinvite");
	dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 2), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_ANSWERED);
	assert_int_equal(r.seen.ev[1].kind, SIP_LEG_ENDED); /* the callee's BYE */
	assert_int_equal(uas_wait(&u), 0);
	log = uas_log(&u);
	assert_int_equal(count(log, "INVITE sip:"), 3);
	assert_null(strstr(log, "UPDATE sip:"));
	rig_stop(&r);
}

/* (f) A caller requiring 100rel: core's 180 with SDP goes out reliably
 * (RSeq), the caller PRACKs it, the 200 follows, pause_us after the 180
 * (0: a callee answering at once, the 200 possibly crossing the PRACK). */
static void reliable_180_then_200(unsigned pause_us)
{
	struct rig r;
	struct uas u = {0};
	const char *log;

	rig_start(&r);
	sipp_start(&u, "st_in_100rel", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	assert_int_equal(answer(&r, r.seen.call, 180, ANSWER_SDP("30180")), 0);
	if (pause_us)
		usleep(pause_us);
	assert_int_equal(answer(&r, r.seen.call, 200, ANSWER_SDP("30200")), 0);
	usleep(300000); /* the ACK */
	hangup(&r, r.seen.call);
	assert_int_equal(uas_wait(&u), 0);
	log = uas_log(&u);
	assert_non_null(strstr(log, "RSeq: "));
	assert_non_null(strstr(log, "PRACK sip:"));
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 0);
}

static void reliable_180_is_pracked_then_answered(void **state)
{
	(void)state;
	reliable_180_then_200(300000); /* the PRACK first */
}

static void answer_right_after_a_reliable_180(void **state)
{
	(void)state;
	reliable_180_then_200(0);
}

/* Glare: the caller's re-INVITE or UPDATE crosses our refresh UPDATE;
 * both complete and refreshing goes on until the caller hangs up. */
static void crossing_request_is_answered(const char *scenario)
{
	struct rig r;
	struct uas u = {0};

	rig_timers(&r, 1800000, 1000);
	inbound_until_caller_ends(&r, &u, scenario);
	assert_int_equal(uas_wait(&u), 0);
	assert_int_equal(count(uas_log(&u), "UPDATE sip:"),
	                 2 + !strcmp(scenario, "glare_in_update"));
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 1);
}

static void reinvite_crossing_our_refresh_is_answered(void **state)
{
	(void)state;
	crossing_request_is_answered("glare_in_reinvite");
}

static void update_crossing_our_refresh_is_answered(void **state)
{
	(void)state;
	crossing_request_is_answered("glare_in_update");
}

/* Our refresh gets 491: nua sends it again later (a new CSeq) and the call
 * goes on, on an inbound call and on an outbound leg. */
static void refresh_refused_with_491_is_retried(void **state)
{
	struct rig r;
	struct uas u = {0};

	(void)state;
	rig_timers(&r, 1800000, 1000);
	inbound_until_caller_ends(&r, &u, "glare_in_491");
	assert_int_equal(uas_wait(&u), 0);
	assert_int_equal(count(uas_log(&u), "UPDATE sip:"), 3);
	assert_int_equal(count(uas_log(&u), "SIP/2.0 491 "), 1);
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 1);
}

static void leg_refresh_refused_with_491_is_retried(void **state)
{
	struct rig r;
	struct uas u = {0};

	(void)state;
	rig_timers(&r, 2000, 1000);
	uas_start(&u, "glare_out_491");
	dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 2), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_ANSWERED);
	assert_int_equal(r.seen.ev[1].kind, SIP_LEG_ENDED); /* the callee's BYE */
	assert_int_equal(uas_wait(&u), 0);
	assert_int_equal(count(uas_log(&u), "UPDATE sip:"), 3);
	rig_stop(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(caller_refreshes_and_the_call_goes_on),
	    cmocka_unit_test(pinbridge_refreshes_when_the_caller_asks),
	    cmocka_unit_test(unrefreshed_session_is_ended_with_bye),
	    cmocka_unit_test(interval_below_default_min_se_gets_422),
	    cmocka_unit_test(interval_below_configured_min_se_gets_422),
	    cmocka_unit_test(no_timer_unless_asked),
	    cmocka_unit_test(leg_is_refreshed_when_the_callee_asks),
	    cmocka_unit_test(unrefreshed_leg_is_ended_with_bye),
	    cmocka_unit_test(caller_without_timer_support_is_refreshed_by_update),
	    cmocka_unit_test(caller_without_update_gets_no_timer_of_ours),
	    cmocka_unit_test(leg_without_update_is_refreshed_by_reinvite),
	    cmocka_unit_test(reliable_180_is_pracked_then_answered),
	    cmocka_unit_test(answer_right_after_a_reliable_180),
	    cmocka_unit_test(reinvite_crossing_our_refresh_is_answered),
	    cmocka_unit_test(update_crossing_our_refresh_is_answered),
	    cmocka_unit_test(refresh_refused_with_491_is_retried),
	    cmocka_unit_test(leg_refresh_refused_with_491_is_retried),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
