/* test_sipleg2: pinbridge on 127.0.0.1 and SIPp on 127.0.0.2/3 on real
 * sockets: REGISTER with a challenge, refused and refreshed; inbound
 * INVITEs answered with our SDP, hung up before the answer, re-INVITEd;
 * re-INVITE and UPDATE from the callee of an answered outbound leg.
 * Outbound legs themselves: test_sipleg. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "sipp_helpers.h" /* cmocka, sip/sip.h, the rig and SIPp */

/* Starts a REGISTERing trunk against scenario and waits until register_ok
 * reaches n; returns the stats then. */
static struct sip_stats register_until(struct rig *r, struct uas *u, const char *scenario, int n)
{
	struct sip_stats st = {0};
	static char proxy[64];
	static const struct sip_trunk_acl trunk = {.name = "carrier",
	                                           .outbound = proxy,
	                                           .username = "pbuser",
	                                           .password = "s3cret",
	                                           .realm = "trunk.example",
	                                           .do_register = true,
	                                           .register_expires = 120};

	uas_start(u, scenario);
	snprintf(proxy, sizeof(proxy), "sip:127.0.0.3:%d", u->port);
	rig_start_reg(r, &trunk);
	for (int i = 0; i < 1000 && st.register_ok < (uint64_t)n; i++) {
		usleep(10000);
		sip_get_stats(r->sip, &st);
	}
	return st;
}

static void refused_register_is_counted(void **state)
{
	struct rig r;
	struct uas u = {0};
	struct sip_stats st = {0};

	(void)state;
	register_until(&r, &u, "leg_register_403", 0);
	assert_int_equal(uas_wait(&u), 0);
	for (int i = 0; i < 500 && st.register_failed == 0; i++) {
		usleep(10000);
		sip_get_stats(r.sip, &st);
	}
	assert_int_equal(st.register_failed, 1);
	assert_int_equal(st.register_ok, 0);
	rig_stop(&r);
}

static void register_is_refreshed_by_nua(void **state)
{
	struct rig r;
	struct uas u = {0};
	struct sip_stats st;

	(void)state;
	/* The registrar grants 4 s and challenges the refresh afresh. */
	st = register_until(&r, &u, "leg_register_refresh", 2);
	assert_int_equal(st.register_ok, 2);
	assert_int_equal(st.register_failed, 0);
	/* nua answers the refresh's challenge itself, from the credentials
	 * it cached for that realm: core's answer is counted once. */
	assert_int_equal(st.auth_answered, 1);
	rig_stop(&r);
	assert_int_equal(uas_wait(&u), 0);
}

static void register_answers_the_challenge_and_counts(void **state)
{
	struct rig r;
	struct uas u = {0};
	struct sip_stats st;

	(void)state;
	st = register_until(&r, &u, "leg_register", 1);
	assert_int_equal(st.register_ok, 1);
	assert_int_equal(st.register_failed, 0);
	assert_int_equal(st.auth_answered, 1);
	/* Stopping un-REGISTERs; the scenario waits for it. */
	rig_stop(&r);
	assert_int_equal(uas_wait(&u), 0);
	assert_non_null(strstr(uas_log(&u), "Expires: 120"));
}

#define ANSWER_SDP(port)                                                                           \
	"v=0\r\no=pinbridge 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"        \
	"m=audio " port " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

static void inbound_answered_with_our_sdp_then_byed(void **state)
{
	struct rig r;
	struct uas u = {0};
	struct sip_stats st;

	(void)state;
	rig_start(&r);
	sipp_start(&u, "leg_in_answer", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	/* The scenario checks both bodies. */
	assert_int_equal(answer(&r, r.seen.call, 183, ANSWER_SDP("30183")), 0);
	assert_int_equal(answer(&r, r.seen.call, 200, ANSWER_SDP("30200")), 0);
	assert_int_equal(answer(&r, r.seen.call, 200, ANSWER_SDP("30200")), ENOENT);
	usleep(300000); /* the ACK */
	hangup(&r, r.seen.call);
	assert_int_equal(uas_wait(&u), 0);
	sip_get_stats(r.sip, &st);
	assert_int_equal(st.invites_in, 1);
	assert_int_equal(st.acl_refused, 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 0); /* our own BYE is not reported */
}

/* The callee sends an in-dialog request to an answered leg; the scenario
 * checks the answer, then waits for our BYE. */
static void in_dialog_request_on_answered_leg(const char *scenario)
{
	struct rig r;
	struct uas u = {0};
	sip_call_t leg;

	rig_start(&r);
	uas_start(&u, scenario);
	leg = dial(&r, &u, NULL, NULL, NULL);
	assert_int_equal(wait_events(&r.seen, 1), 0);
	assert_int_equal(r.seen.ev[0].kind, SIP_LEG_ANSWERED);
	usleep(800000);
	hangup(&r, leg);
	assert_int_equal(uas_wait(&u), 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nev, 1);
}

/* The scenario checks for our own SDP in the 200. */
static void reinvite_of_an_answered_leg_gets_our_sdp(void **state)
{
	(void)state;
	in_dialog_request_on_answered_leg("leg_reinvite");
}

/* An RFC 4028 refresh by UPDATE without SDP: nua answers it by itself. */
static void update_of_an_answered_leg_gets_200(void **state)
{
	(void)state;
	in_dialog_request_on_answered_leg("leg_update");
}

static void reinvite_of_an_answered_call_gets_our_sdp(void **state)
{
	struct rig r;
	struct uas u = {0};

	(void)state;
	rig_start(&r);
	sipp_start(&u, "leg_in_reinvite", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	assert_int_equal(answer(&r, r.seen.call, 200, ANSWER_SDP("30200")), 0);
	usleep(800000); /* the ACK, the re-INVITE and its ACK */
	hangup(&r, r.seen.call);
	assert_int_equal(uas_wait(&u), 0);
	assert_int_equal(r.seen.ninvite, 1); /* the re-INVITE is no new call */
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 0);
}

/* Behind NAT (public port = listen port): our responses to an inbound
 * INVITE carry Contact with the advertised host:port, and our BYE a Via
 * naming it. */
static void inbound_answer_names_the_advertised_address(void **state)
{
	struct rig r;
	struct uas u = {0};
	char want[128];
	const char *log, *ok;

	(void)state;
	rig_advertise = "pb.example:%d";
	rig_start(&r);
	rig_advertise = NULL;
	sipp_start(&u, "leg_in_answer", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	assert_int_equal(answer(&r, r.seen.call, 183, ANSWER_SDP("30183")), 0);
	assert_int_equal(answer(&r, r.seen.call, 200, ANSWER_SDP("30200")), 0);
	usleep(300000); /* the ACK */
	hangup(&r, r.seen.call);
	assert_int_equal(uas_wait(&u), 0);
	rig_stop(&r);
	log = uas_log(&u);
	ok = strstr(log, "SIP/2.0 200 OK");
	assert_non_null(ok);
	snprintf(want, sizeof(want), "Contact: <sip:pb.example:%d", r.port);
	assert_non_null(strstr(ok, want));
	assert_non_null(strstr(log, "BYE sip:"));
	snprintf(want, sizeof(want), "Via: SIP/2.0/UDP pb.example:%d;", r.port);
	assert_non_null(strstr(strstr(log, "BYE sip:"), want));
	assert_null(strstr(log, "Contact: <sip:127.0.0.1"));
}

static void inbound_hung_up_before_answer_gets_480(void **state)
{
	struct rig r;
	struct uas u = {0};

	(void)state;
	rig_start(&r);
	sipp_start(&u, "leg_in_reject", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	hangup(&r, r.seen.call);
	assert_int_equal(uas_wait(&u), 0);
	assert_int_equal(answer(&r, r.seen.call, 200, ANSWER_SDP("30200")), ENOENT);
	hangup(&r, 12345); /* unknown: ignored */
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(register_answers_the_challenge_and_counts),
	    cmocka_unit_test(register_is_refreshed_by_nua),
	    cmocka_unit_test(refused_register_is_counted),
	    cmocka_unit_test(inbound_answered_with_our_sdp_then_byed),
	    cmocka_unit_test(inbound_hung_up_before_answer_gets_480),
	    cmocka_unit_test(inbound_answer_names_the_advertised_address),
	    cmocka_unit_test(reinvite_of_an_answered_leg_gets_our_sdp),
	    cmocka_unit_test(update_of_an_answered_leg_gets_200),
	    cmocka_unit_test(reinvite_of_an_answered_call_gets_our_sdp),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
