/* test_sipleg: outbound legs on real sockets, pinbridge on 127.0.0.1 and
 * SIPp as the callee's trunk on 127.0.0.3: answer with SDP, busy, early
 * media, digest challenge answered and refused, CANCEL (also crossed by a
 * 200), callee BYE, and REGISTER with a challenge. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sip/sip.h"

#define VN     "4930555000"
#define CALLEE "4915100000002"
#define OFFER                                                                                      \
	"v=0\r\no=pinbridge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"        \
	"m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"                                  \
	"a=rtpmap:101 telephone-event/8000\r\n"
#define MAX_EVENTS 8

struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int nev;
	struct sip_leg_event ev[MAX_EVENTS];
	char sdp[MAX_EVENTS][1024];
	int ninvite, nended;
	sip_call_t call; /* the last inbound INVITE */
};

static void on_invite(void *arg, const struct sip_invite *inv)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	s->ninvite++;
	s->call = inv->call;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_ended(void *arg, sip_call_t call)
{
	struct seen *s = arg;

	(void)call;
	pthread_mutex_lock(&s->lock);
	s->nended++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_leg(void *arg, const struct sip_leg_event *ev)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	if (s->nev < MAX_EVENTS) {
		s->ev[s->nev] = *ev;
		snprintf(s->sdp[s->nev], sizeof(s->sdp[0]), "%s", ev->sdp ? ev->sdp : "");
		s->ev[s->nev].sdp = ev->sdp ? s->sdp[s->nev] : NULL;
		s->nev++;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static const struct sip_callbacks callbacks = {
    .invite = on_invite, .ended = on_ended, .leg = on_leg};

/* A UDP port free on ip (racy, like every such helper). */
static int free_port(const char *ip)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t len = sizeof(a);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		int port = -1;

		inet_pton(AF_INET, ip, &a.sin_addr);
		if (bind(u, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(u, (struct sockaddr *)&a, &len) == 0 &&
		    bind(t, (struct sockaddr *)&a, sizeof(a)) == 0)
			port = ntohs(a.sin_port);
		close(u);
		close(t);
		if (port > 0)
			return port;
	}
	return -1;
}

/* tests/sipp/: PB_SIPP_DIR, else found from this file's path. */
static void sipp_dir(char *out, size_t len)
{
	char exe[PATH_MAX], src[PATH_MAX];
	const char *env = getenv("PB_SIPP_DIR");
	ssize_t n;

	if (env) {
		snprintf(out, len, "%s", env);
		return;
	}
	snprintf(src, sizeof(src), "%s", __FILE__);
	if (src[0] == '/') {
		snprintf(out, len, "%s/../sipp", dirname(src));
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(out, len, "%s/../../%s/../sipp", dirname(exe), dirname(src));
}

struct uas {
	pid_t pid;
	int port;
	bool tcp; /* set before starting: SIPp on TCP, dialled with ;transport=tcp */
	char msglog[96];
};

/* Starts SIPp running tests/sipp/<scenario>.xml once, logging every
 * message it sends and receives to msglog: as the callee's trunk (UAS) on
 * 127.0.0.3 when target is 0, else as a caller on 127.0.0.2 calling
 * 127.0.0.1:target. */
static void sipp_start(struct uas *u, const char *scenario, int target)
{
	char dir[PATH_MAX], file[PATH_MAX + 64], port[8], errlog[96], outlog[96], remote[32];
	const char *ip = target ? "127.0.0.2" : "127.0.0.3";

	if (system("command -v sipp >/dev/null 2>&1") != 0)
		fail_msg("sipp not found: install sip-tester (SIPp) to run the SIP tests");
	sipp_dir(dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/%s.xml", dir, scenario);
	if (access(file, R_OK) != 0)
		fail_msg("scenario %s not readable (set PB_SIPP_DIR)", file);
	u->port = free_port(ip);
	snprintf(remote, sizeof(remote), "127.0.0.1:%d", target);
	assert_true(u->port > 0);
	snprintf(port, sizeof(port), "%d", u->port);
	snprintf(u->msglog, sizeof(u->msglog), "/tmp/pb-sipp-%s-%d.msg", scenario, (int)getpid());
	snprintf(errlog, sizeof(errlog), "/tmp/pb-sipp-%s-%d.log", scenario, (int)getpid());
	snprintf(outlog, sizeof(outlog), "/tmp/pb-sipp-%s-%d.out", scenario, (int)getpid());
	unlink(u->msglog);
	u->pid = fork();
	if (u->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int out = open(outlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(null, 0);
		dup2(out >= 0 ? out : null, 1);
		dup2(out >= 0 ? out : null, 2);
		const char *argv[] = {"sipp",
		                      "-sf",
		                      file,
		                      "-s",
		                      VN,
		                      "-i",
		                      ip,
		                      "-bind_local",
		                      "-p",
		                      port,
		                      "-t",
		                      u->tcp ? "t1" : "u1",
		                      "-m",
		                      "1",
		                      "-timeout",
		                      "10s",
		                      "-timeout_error",
		                      "-nostdin",
		                      "-trace_msg",
		                      "-message_file",
		                      u->msglog,
		                      "-trace_err",
		                      "-error_file",
		                      errlog,
		                      target ? remote : NULL,
		                      NULL};

		execvp("sipp", (char **)argv);
		_exit(127);
	}
	assert_true(u->pid > 0);
	/* INVITE and REGISTER are retransmitted after 500 ms if SIPp is late;
	 * a short wait saves that. */
	usleep(150000);
}

static void uas_start(struct uas *u, const char *scenario)
{
	sipp_start(u, scenario, 0);
}

/* Waits up to 15 s; returns SIPp's exit status (0: the scenario passed). */
static int uas_wait(struct uas *u)
{
	int st = 0;

	for (int i = 0; i < 1500; i++) {
		pid_t r = waitpid(u->pid, &st, WNOHANG);

		if (r == u->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(u->pid, SIGKILL);
	waitpid(u->pid, &st, 0);
	return -1;
}

/* The whole message log, NUL-terminated (static; one at a time). */
static const char *uas_log(const struct uas *u)
{
	static char buf[65536];
	FILE *f = fopen(u->msglog, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

struct rig {
	struct sip *sip;
	struct seen seen;
	int port;
};

static const char *rig_advertise; /* sip_opts.advertise of the next rig */

static void rig_start_reg(struct rig *r, const struct sip_trunk_acl *trunk)
{
	char udp[48], tcp[48];
	const char *listen[2] = {udp, tcp};
	struct sip_opts o = {.listen = listen,
	                     .nlisten = 2,
	                     .advertise = rig_advertise,
	                     .trunks = trunk,
	                     .ntrunks = !!trunk};

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->seen.lock, NULL);
	pthread_cond_init(&r->seen.cond, NULL);
	r->port = free_port("127.0.0.1");
	assert_true(r->port > 0);
	snprintf(udp, sizeof(udp), "udp:127.0.0.1:%d", r->port);
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", r->port);
	assert_int_equal(sip_start(&r->sip, &o, &callbacks, &r->seen), 0);
}

/* Callers may come from anywhere in 127/8. */
static void rig_start(struct rig *r)
{
	static const struct sip_cidr loopback = {.addr = {[10] = 0xff, [11] = 0xff, [12] = 127},
	                                         .prefix = 104};
	static const struct sip_trunk_acl trunk = {
	    .name = "carrier", .allow = &loopback, .nallow = 1};

	rig_start_reg(r, &trunk);
}

static void rig_stop(struct rig *r)
{
	sip_stop(r->sip);
	pthread_cond_destroy(&r->seen.cond);
	pthread_mutex_destroy(&r->seen.lock);
}

/* Runs fn on the SIP thread and waits for it: sip_dial() and sip_hangup()
 * are SIP thread only, as they are for core. */
struct on_thread {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	void (*fn)(struct on_thread *);
	struct sip *sip;
	struct sip_dial dial;
	sip_call_t leg;
	int status;
	const char *sdp;
	int rc;
};

static void on_thread_run(void *arg)
{
	struct on_thread *t = arg;

	t->fn(t);
	pthread_mutex_lock(&t->lock);
	t->done = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void run_on_sip(struct sip *sip, struct on_thread *t)
{
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->sip = sip;
	t->done = false;
	assert_int_equal(sip_post(sip, on_thread_run, t), 0);
	pthread_mutex_lock(&t->lock);
	while (!t->done)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}

static void do_dial(struct on_thread *t)
{
	t->rc = sip_dial(t->sip, &t->dial, &t->leg);
}

static void do_hangup(struct on_thread *t)
{
	sip_hangup(t->sip, t->leg, t->status);
}

static void do_answer(struct on_thread *t)
{
	t->rc = sip_answer(t->sip, t->leg, t->status, t->sdp);
}

static int answer(struct rig *r, sip_call_t call, int status, const char *sdp)
{
	struct on_thread t = {.fn = do_answer, .leg = call, .status = status, .sdp = sdp};

	run_on_sip(r->sip, &t);
	return t.rc;
}

static sip_call_t dial(struct rig *r, const struct uas *u, const char *user, const char *pass,
                       const char *realm)
{
	char proxy[64];
	struct on_thread t = {.fn = do_dial};

	snprintf(proxy, sizeof(proxy), "sip:127.0.0.3:%d%s", u->port,
	         u->tcp ? ";transport=tcp" : "");
	t.dial = (struct sip_dial){.proxy = proxy,
	                           .to_user = CALLEE,
	                           .from_user = VN,
	                           .sdp = OFFER,
	                           .username = user,
	                           .password = pass,
	                           .realm = realm,
	                           .log_id = "CAtest"};
	run_on_sip(r->sip, &t);
	assert_int_equal(t.rc, 0);
	assert_int_not_equal(t.leg, 0);
	return t.leg;
}

static void hangup(struct rig *r, sip_call_t leg)
{
	struct on_thread t = {.fn = do_hangup, .leg = leg};

	run_on_sip(r->sip, &t);
}

/* Waits up to 10 s until *count reaches n. */
static int wait_count(struct seen *s, const int *count, int n)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&s->lock);
	while (*count < n && rc == 0)
		rc = pthread_cond_timedwait(&s->cond, &s->lock, &until);
	rc = *count >= n ? 0 : ETIMEDOUT;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Waits up to 10 s for the n-th leg event. */
static int wait_events(struct seen *s, int n)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&s->lock);
	while (s->nev < n && rc == 0)
		rc = pthread_cond_timedwait(&s->cond, &s->lock, &until);
	rc = s->nev >= n ? 0 : ETIMEDOUT;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

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
	    cmocka_unit_test(proxy_with_transport_tcp_is_dialled_over_tcp),
	    cmocka_unit_test(advertised_address_names_us_behind_nat),
	    cmocka_unit_test(early_media_then_answer),
	    cmocka_unit_test(reliable_early_media_is_pracked),
	    cmocka_unit_test(challenge_of_our_realm_is_answered_once),
	    cmocka_unit_test(challenge_of_another_realm_fails_the_leg),
	    cmocka_unit_test(second_challenge_fails_the_leg),
	    cmocka_unit_test(hangup_of_a_ringing_leg_cancels_it),
	    cmocka_unit_test(hangup_before_any_response_cancels_after_the_first_18x),
	    cmocka_unit_test(answer_crossing_the_cancel_is_acked_and_byed),
	    cmocka_unit_test(callee_bye_ends_the_leg),
	    cmocka_unit_test(register_answers_the_challenge_and_counts),
	    cmocka_unit_test(register_is_refreshed_by_nua),
	    cmocka_unit_test(refused_register_is_counted),
	    cmocka_unit_test(inbound_answered_with_our_sdp_then_byed),
	    cmocka_unit_test(inbound_hung_up_before_answer_gets_480),
	    cmocka_unit_test(reinvite_of_an_answered_leg_gets_our_sdp),
	    cmocka_unit_test(update_of_an_answered_leg_gets_200),
	    cmocka_unit_test(reinvite_of_an_answered_call_gets_our_sdp),
	    cmocka_unit_test(unreachable_trunk_fails_the_leg),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
