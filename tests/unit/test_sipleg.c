/* test_sipleg: outbound legs on real sockets, pinbridge on 127.0.0.1 and
 * SIPp as the callee's trunk on 127.0.0.3: answer with SDP, busy, early
 * media, digest challenge answered and refused, CANCEL (also crossed by a
 * 200), callee BYE, bad dial requests and an unreachable trunk. REGISTER,
 * inbound calls and in-dialog requests: test_sipleg2. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "sipp_helpers.h" /* cmocka, sip/sip.h, the rig and SIPp */

static void answered_leg_carries_our_identity_and_their_sdp(void **state)
{
	struct rig r;
	struct uas u = {0};
	struct sip_stats st;
	sip_call_t leg;
	const char *log;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_answer");
	leg = dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 2), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_PROGRESS);
	assert_int_equal(r.seen.ev[0].status, 180);
	assert_null(r.seen.ev[0].sdp);
	assert_int_equal(r.seen.ev[1].kind, SIP_LEG_ANSWERED);
	assert_int_equal(r.seen.ev[1].leg, leg);
	assert_int_equal(r.seen.ev[1].status, 200);
	assert_non_null(r.seen.ev[1].sdp);
	assert_non_null(strstr(r.seen.ev[1].sdp, "m=audio 40200 RTP/AVP 0 101"));
	assert_int_equal(r.seen.ev[1].sdp_len, strlen(r.seen.ev[1].sdp));
	hangup(&r, leg); /* BYE, which the scenario waits for */
	assert_int_equal(uas_wait(&u), 0);
	log = uas_log(&u);
	assert_non_null(strstr(log, "INVITE sip:" CALLEE "@127.0.0.3:"));
	assert_non_null(strstr(log, "P-Asserted-Identity: <sip:" VN "@127.0.0.1:"));
	assert_non_null(strstr(log, "From: <sip:" VN "@127.0.0.1:"));
	assert_non_null(strstr(log, "To: <sip:" CALLEE "@127.0.0.3:"));
	assert_non_null(strstr(log, "m=audio 20000 RTP/AVP 0 101"));
	assert_non_null(strstr(log, "ACK sip:"));
	sip_get_stats(r.sip, &st);
	assert_int_equal(st.legs_out, 1);
	assert_int_equal(st.auth_answered, 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 2); /* our own BYE is not reported */
}

static void advertised_address_names_us_behind_nat(void **state)
{
	struct rig r;
	struct uas u = {0};
	char via[96];

	(void)state;
	rig_advertise = "pb.example:5070";
	rig_start(&r);
	rig_advertise = NULL;
	uas_start(&u, "leg_advertise");
	dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].status, 486);
	/* The scenario checks From, P-Asserted-Identity and Contact. */
	assert_int_equal(uas_wait(&u), 0);
	assert_null(strstr(uas_log(&u), "@127.0.0.1"));
	/* Via names the advertised host too, but with the port Sofia bound
	 * (stack.c advertise_url()): an advertised port of its own cannot
	 * reach Via. */
	snprintf(via, sizeof(via), "Via: SIP/2.0/UDP pb.example:%d;", r.port);
	assert_non_null(strstr(uas_log(&u), via));
	assert_null(strstr(uas_log(&u), "Via: SIP/2.0/UDP 127.0.0.1"));
	rig_stop(&r);
}

/* The usual NAT set-up, the public port forwarded to the same local one:
 * every request names pinbridge by the advertised host:port, in Via as in
 * Contact, and the callee's responses come back through the socket bound
 * on the private address (maddr). */
static void advertised_host_and_port_name_us_in_via_and_contact(void **state)
{
	struct rig r;
	struct uas u = {0};
	char want[128];
	const char *log;

	(void)state;
	rig_advertise = "pb.example:%d";
	rig_start(&r);
	rig_advertise = NULL;
	uas_start(&u, "st_advertise");
	dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].status, 486);
	assert_int_equal(uas_wait(&u), 0);
	log = uas_log(&u);
	snprintf(want, sizeof(want), "Via: SIP/2.0/UDP pb.example:%d;", r.port);
	assert_non_null(strstr(log, want));
	assert_non_null(strstr(strstr(log, want) + 1, want)); /* the ACK's too */
	snprintf(want, sizeof(want), "Contact: <sip:" VN "@pb.example:%d>", r.port);
	assert_non_null(strstr(log, want));
	assert_null(strstr(log, "@127.0.0.1"));
	rig_stop(&r);
}

static void proxy_with_transport_tcp_is_dialled_over_tcp(void **state)
{
	struct rig r;
	struct uas u = {.tcp = true};
	sip_call_t leg;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_answer");
	leg = dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 2), 0);
	assert_int_equal(r.seen.ev[1].kind, SIP_LEG_ANSWERED);
	hangup(&r, leg);
	assert_int_equal(uas_wait(&u), 0);
	assert_non_null(strstr(uas_log(&u), "INVITE sip:" CALLEE "@127.0.0.3:"));
	assert_non_null(strstr(uas_log(&u), ";transport=tcp SIP/2.0"));
	assert_non_null(strstr(uas_log(&u), "Via: SIP/2.0/TCP 127.0.0.1:"));
	rig_stop(&r);
}

static void busy_callee_fails_the_leg_with_486(void **state)
{
	struct rig r;
	struct uas u = {0};

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_busy");
	dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_FAILED);
	assert_int_equal(r.seen.ev[0].status, 486);
	assert_int_equal(uas_wait(&u), 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 1);
}

static void early_media_then_answer_in(const char *scenario)
{
	struct rig r;
	struct uas u = {0};
	sip_call_t leg;

	rig_start(&r);
	uas_start(&u, scenario);
	leg = dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 2), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_PROGRESS);
	assert_int_equal(r.seen.ev[0].status, 183);
	assert_non_null(r.seen.ev[0].sdp);
	assert_non_null(strstr(r.seen.ev[0].sdp, "m=audio 40183 "));
	assert_int_equal(r.seen.ev[1].kind, SIP_LEG_ANSWERED);
	assert_non_null(r.seen.ev[1].sdp);
	assert_non_null(strstr(r.seen.ev[1].sdp, "m=audio 40200 "));
	hangup(&r, leg);
	assert_int_equal(uas_wait(&u), 0);
	rig_stop(&r);
}

static void early_media_then_answer(void **state)
{
	(void)state;
	early_media_then_answer_in("leg_early");
}

/* The scenario checks the PRACK's RAck. */
static void reliable_early_media_is_pracked(void **state)
{
	(void)state;
	early_media_then_answer_in("leg_early_100rel");
}

static void challenge_of_our_realm_is_answered_once(void **state)
{
	struct rig r;
	struct uas u = {0};
	struct sip_stats st;
	sip_call_t leg;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_auth");
	leg = dial(&r, &u, "pbuser", "s3cret", "trunk.example");
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_ANSWERED);
	hangup(&r, leg);
	/* The scenario checks the retry's Proxy-Authorization. */
	assert_int_equal(uas_wait(&u), 0);
	assert_null(strstr(uas_log(&u), "s3cret"));
	sip_get_stats(r.sip, &st);
	assert_int_equal(st.auth_answered, 1);
	rig_stop(&r);
}

static void challenge_of_another_realm_fails_the_leg(void **state)
{
	struct rig r;
	struct uas u = {0};
	struct sip_stats st;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_auth_refused");
	dial(&r, &u, "pbuser", "s3cret", "trunk.example");
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_FAILED);
	assert_int_equal(r.seen.ev[0].status, 407);
	/* The scenario fails on a retried INVITE. */
	assert_int_equal(uas_wait(&u), 0);
	sip_get_stats(r.sip, &st);
	assert_int_equal(st.auth_answered, 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 1);
}

static void second_challenge_fails_the_leg(void **state)
{
	struct rig r;
	struct uas u = {0};
	struct sip_stats st;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_auth_twice");
	dial(&r, &u, "pbuser", "wrong", NULL); /* no realm: any is answered */
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_FAILED);
	assert_int_equal(r.seen.ev[0].status, 407);
	/* The scenario fails on a third INVITE. */
	assert_int_equal(uas_wait(&u), 0);
	sip_get_stats(r.sip, &st);
	assert_int_equal(st.auth_answered, 1);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 1);
}

static void hangup_of_a_ringing_leg_cancels_it(void **state)
{
	struct rig r;
	struct uas u = {0};
	sip_call_t leg;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_cancel");
	leg = dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_PROGRESS);
	hangup(&r, leg);
	assert_int_equal(uas_wait(&u), 0);
	assert_non_null(strstr(uas_log(&u), "CANCEL sip:" CALLEE "@127.0.0.3:"));
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 1); /* no FAILED 487 after our own CANCEL */
}

/* nta holds a CANCEL back until the callee's first provisional response
 * (RFC 3261 9.1): the scenario answers 180 after 1 s and expects the
 * CANCEL only then. Over TCP, so no INVITE retransmission lands in that
 * pause. */
static void hangup_before_any_response_cancels_after_the_first_18x(void **state)
{
	struct rig r;
	struct uas u = {.tcp = true};
	sip_call_t leg;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_cancel_early");
	leg = dial(&r, &u, NULL, NULL, NULL);
	usleep(100000);
	hangup(&r, leg);
	assert_int_equal(uas_wait(&u), 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 0); /* not the 180, not the 487 */
}

static void answer_crossing_the_cancel_is_acked_and_byed(void **state)
{
	struct rig r;
	struct uas u = {0};
	sip_call_t leg;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_cancel_200");
	leg = dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 1), 0);
	hangup(&r, leg);
	/* The scenario waits for the ACK and the BYE. */
	assert_int_equal(uas_wait(&u), 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 1); /* never ANSWERED */
}

static void callee_bye_ends_the_leg(void **state)
{
	struct rig r;
	struct uas u = {0};
	sip_call_t leg;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_bye");
	leg = dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 2), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_ANSWERED);
	assert_int_equal(r.seen.ev[1].kind, SIP_LEG_ENDED);
	assert_int_equal(r.seen.ev[1].leg, leg);
	assert_int_equal(uas_wait(&u), 0);
	/* The handle is gone: hanging up is ignored, nothing is sent. */
	hangup(&r, leg);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 2);
}

static void bad_dial_requests_are_refused(void **state)
{
	struct rig r;
	struct uas u = {.port = 5060};
	struct on_thread t = {.fn = do_dial};

	(void)state;
	rig_start(&r);
	t.dial = (struct sip_dial){
	    .proxy = "http://example.com/", .to_user = CALLEE, .from_user = VN, .sdp = OFFER};
	run_on_sip(r.sip, &t);
	assert_int_equal(t.rc, EINVAL);
	t.dial.proxy = "sip:127.0.0.3:5060";
	t.dial.to_user = "49 1510>";
	run_on_sip(r.sip, &t);
	assert_int_equal(t.rc, EINVAL);
	(void)u;
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 0);
}

/* A forking proxy: two 180s, then two 200s with different tags. The first
 * is the leg's answer; the second is ACKed and BYEd by the stack (nta's
 * orphan-2xx handling) and never reported (the scenario checks the tags). */
static void second_forked_200_is_acked_and_byed(void **state)
{
	struct rig r;
	struct uas u = {0};
	sip_call_t leg;
	int answered = 0;

	(void)state;
	rig_start(&r);
	uas_start(&u, "leg_fork");
	leg = dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 3), 0);
	usleep(300000); /* the second 200 and its BYE come and go */
	for (int i = 0; i < r.seen.nev; i++)
		answered += r.seen.ev[i].kind == SIP_LEG_ANSWERED;
	assert_int_equal(answered, 1);
	assert_int_equal(r.seen.ev[r.seen.nev - 1].kind, SIP_LEG_ANSWERED);
	assert_non_null(strstr(r.seen.ev[r.seen.nev - 1].sdp, "m=audio 40200 "));
	hangup(&r, leg);
	assert_int_equal(uas_wait(&u), 0);
	rig_stop(&r);
}

static void unreachable_trunk_fails_the_leg(void **state)
{
	struct rig r;
	struct uas u = {0};

	(void)state;
	rig_start(&r);
	u.port = free_port("127.0.0.3"); /* nothing listens: ICMP refused */
	dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_FAILED);
	assert_true(r.seen.ev[0].status == 503 || r.seen.ev[0].status == 408);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_dial_requests_are_refused),
	    cmocka_unit_test(answered_leg_carries_our_identity_and_their_sdp),
	    cmocka_unit_test(busy_callee_fails_the_leg_with_486),
	    cmocka_unit_test(second_forked_200_is_acked_and_byed),
	    cmocka_unit_test(proxy_with_transport_tcp_is_dialled_over_tcp),
	    cmocka_unit_test(advertised_address_names_us_behind_nat),
	    cmocka_unit_test(advertised_host_and_port_name_us_in_via_and_contact),
	    cmocka_unit_test(early_media_then_answer),
	    cmocka_unit_test(reliable_early_media_is_pracked),
	    cmocka_unit_test(challenge_of_our_realm_is_answered_once),
	    cmocka_unit_test(challenge_of_another_realm_fails_the_leg),
	    cmocka_unit_test(second_challenge_fails_the_leg),
	    cmocka_unit_test(hangup_of_a_ringing_leg_cancels_it),
	    cmocka_unit_test(hangup_before_any_response_cancels_after_the_first_18x),
	    cmocka_unit_test(answer_crossing_the_cancel_is_acked_and_byed),
	    cmocka_unit_test(callee_bye_ends_the_leg),
	    cmocka_unit_test(unreachable_trunk_fails_the_leg),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
