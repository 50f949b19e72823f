/* test_reinvite: offers after the first, on real sockets with SIPp as the
 * peer: re-INVITE and UPDATE with SDP on an answered inbound call or
 * outbound leg reach cb->reoffer and its answer is the 200's body (NULL:
 * 488); an UPDATE without SDP is a refresh (200); a late offer's answer,
 * and that to a re-INVITE without SDP, come from the ACK through
 * cb->ack_answer. pinbridge on 127.0.0.1,
 * callers on 127.0.0.2, the callee's trunk on 127.0.0.3. */
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

#define VN "4930555000"
#define SDP(port)                                                                                  \
	"v=0\r\no=pinbridge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"        \
	"m=audio " port " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
#define LATE_OFFER                                                                                 \
	"v=0\r\no=pinbridge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"        \
	"m=audio 30500 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"        \
	"a=rtpmap:101 telephone-event/8000\r\n"
#define MAX_OFFERS 4

/* What the callbacks saw; reoffer answers from answers[] in turn. */
struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ninvite, nleg, noffer, nack;
	sip_call_t call, leg_answered, offer_call[MAX_OFFERS], ack_call;
	bool invite_had_sdp;
	char offer[MAX_OFFERS][1024];
	const char *answers[MAX_OFFERS]; /* NULL: refuse (488) */
	char ack_sdp[1024];
	bool ack_had_sdp;
};

static void bump(struct seen *s, int *count)
{
	(*count)++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_invite(void *arg, const struct sip_invite *inv)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	s->call = inv->call;
	s->invite_had_sdp = inv->sdp != NULL;
	bump(s, &s->ninvite);
}

static void on_ended(void *arg, sip_call_t call)
{
	(void)arg;
	(void)call;
}

static void on_leg(void *arg, const struct sip_leg_event *ev)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	if (ev->kind == SIP_LEG_ANSWERED)
		s->leg_answered = ev->leg;
	bump(s, &s->nleg);
}

static char *on_reoffer(void *arg, sip_call_t call, const char *sdp, size_t len)
{
	struct seen *s = arg;
	char *answer = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->noffer < MAX_OFFERS) {
		s->offer_call[s->noffer] = call;
		snprintf(s->offer[s->noffer], sizeof(s->offer[0]), "%.*s", (int)len, sdp);
		if (s->answers[s->noffer])
			answer = strdup(s->answers[s->noffer]);
	}
	bump(s, &s->noffer);
	return answer;
}

static void on_ack_answer(void *arg, sip_call_t call, const char *sdp, size_t len)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	s->ack_call = call;
	s->ack_had_sdp = sdp != NULL;
	snprintf(s->ack_sdp, sizeof(s->ack_sdp), "%.*s", (int)len, sdp ? sdp : "");
	bump(s, &s->nack);
}

static const struct sip_callbacks callbacks = {.invite = on_invite,
                                               .ended = on_ended,
                                               .leg = on_leg,
                                               .reoffer = on_reoffer,
                                               .ack_answer = on_ack_answer};

static int free_port(const char *ip)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t len = sizeof(a);
		int u = socket(AF_INET, SOCK_DGRAM, 0), port = -1;

		inet_pton(AF_INET, ip, &a.sin_addr);
		if (bind(u, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(u, (struct sockaddr *)&a, &len) == 0)
			port = ntohs(a.sin_port);
		close(u);
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

struct peer {
	pid_t pid;
	int port;
	char msglog[96];
};

/* SIPp running tests/sipp/<scenario>.xml once: as the callee's trunk on
 * 127.0.0.3 (target 0), else as a caller on 127.0.0.2 calling
 * 127.0.0.1:target; every message logged to msglog. */
static void sipp_start(struct peer *u, const char *scenario, int target)
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
	assert_true(u->port > 0);
	snprintf(remote, sizeof(remote), "127.0.0.1:%d", target);
	snprintf(port, sizeof(port), "%d", u->port);
	snprintf(u->msglog, sizeof(u->msglog), "/tmp/pb-sipp-%s-%d.msg", scenario, (int)getpid());
	snprintf(errlog, sizeof(errlog), "/tmp/pb-sipp-%s-%d.log", scenario, (int)getpid());
	snprintf(outlog, sizeof(outlog), "/tmp/pb-sipp-%s-%d.out", scenario, (int)getpid());
	unlink(u->msglog);
	u->pid = fork();
	if (u->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int out = open(outlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
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
		                      "u1",
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

		dup2(null, 0);
		dup2(out >= 0 ? out : null, 1);
		dup2(out >= 0 ? out : null, 2);
		execvp("sipp", (char **)argv);
		_exit(127);
	}
	assert_true(u->pid > 0);
	usleep(150000);
}

/* Waits up to 15 s; SIPp's exit status (0: the scenario passed). */
static int sipp_wait(struct peer *u)
{
	int st = 0;

	for (int i = 0; i < 1500; i++) {
		if (waitpid(u->pid, &st, WNOHANG) == u->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(u->pid, SIGKILL);
	waitpid(u->pid, &st, 0);
	return -1;
}

static const char *sipp_log(const struct peer *u)
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

static void rig_start(struct rig *r)
{
	static const struct sip_cidr loopback = {.addr = {[10] = 0xff, [11] = 0xff, [12] = 127},
	                                         .prefix = 104};
	static const struct sip_trunk_acl trunk = {
	    .name = "carrier", .allow = &loopback, .nallow = 1};
	char udp[48];
	const char *listen[1] = {udp};
	struct sip_opts o = {.listen = listen, .nlisten = 1, .trunks = &trunk, .ntrunks = 1};

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->seen.lock, NULL);
	pthread_cond_init(&r->seen.cond, NULL);
	r->port = free_port("127.0.0.1");
	assert_true(r->port > 0);
	snprintf(udp, sizeof(udp), "udp:127.0.0.1:%d", r->port);
	assert_int_equal(sip_start(&r->sip, &o, &callbacks, &r->seen), 0);
}

static void rig_stop(struct rig *r)
{
	sip_stop(r->sip);
	pthread_cond_destroy(&r->seen.cond);
	pthread_mutex_destroy(&r->seen.lock);
}

/* fn on the SIP thread, waited for: sip_dial/answer/hangup are SIP thread
 * only, as they are for core. */
struct job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	void (*fn)(struct job *);
	struct sip *sip;
	struct sip_dial dial;
	sip_call_t call;
	int status;
	const char *sdp;
	int rc;
};

static void job_run(void *arg)
{
	struct job *j = arg;

	j->fn(j);
	pthread_mutex_lock(&j->lock);
	j->done = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

static void run_on_sip(struct rig *r, struct job *j)
{
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->sip = r->sip;
	assert_int_equal(sip_post(r->sip, job_run, j), 0);
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		pthread_cond_wait(&j->cond, &j->lock);
	pthread_mutex_unlock(&j->lock);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
}

static void do_answer(struct job *j)
{
	j->rc = sip_answer(j->sip, j->call, j->status, j->sdp);
}

static void do_hangup(struct job *j)
{
	sip_hangup(j->sip, j->call, 0);
}

static void do_dial(struct job *j)
{
	j->rc = sip_dial(j->sip, &j->dial, &j->call);
}

static int answer(struct rig *r, sip_call_t call, int status, const char *sdp)
{
	struct job j = {.fn = do_answer, .call = call, .status = status, .sdp = sdp};

	run_on_sip(r, &j);
	return j.rc;
}

static void hangup(struct rig *r, sip_call_t call)
{
	struct job j = {.fn = do_hangup, .call = call};

	run_on_sip(r, &j);
}

static sip_call_t dial(struct rig *r, const struct peer *u)
{
	char proxy[64];
	struct job j = {.fn = do_dial};

	snprintf(proxy, sizeof(proxy), "sip:127.0.0.3:%d", u->port);
	j.dial = (struct sip_dial){.proxy = proxy,
	                           .to_user = "4915100000002",
	                           .from_user = VN,
	                           .sdp = SDP("20000"),
	                           .log_id = "CAtest"};
	run_on_sip(r, &j);
	assert_int_equal(j.rc, 0);
	return j.call;
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

static void caller_offers_reach_core(void **state)
{
	struct rig r;
	struct peer u = {0};
	sip_call_t call;

	(void)state;
	rig_start(&r);
	r.seen.answers[0] = SDP("30300");
	r.seen.answers[1] = NULL; /* the second re-INVITE: 488 */
	r.seen.answers[2] = SDP("30400");
	sipp_start(&u, "reinvite_in_offers", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	call = r.seen.call;
	assert_int_equal(answer(&r, call, 200, SDP("30200")), 0);
	/* The scenario checks each answer: 30300, 488, 30400, a bare 200. */
	assert_int_equal(wait_count(&r.seen, &r.seen.noffer, 3), 0);
	usleep(300000); /* the bodiless UPDATE */
	hangup(&r, call);
	assert_int_equal(sipp_wait(&u), 0);
	rig_stop(&r);
	assert_int_equal(r.seen.ninvite, 1); /* offers inside the dialog are no new calls */
	assert_int_equal(r.seen.noffer, 3);  /* the refresh without SDP is not one */
	for (int i = 0; i < 3; i++)
		assert_int_equal(r.seen.offer_call[i], call);
	assert_non_null(strstr(r.seen.offer[0], "a=sendonly"));
	assert_null(strstr(r.seen.offer[1], "a=sendonly"));
	assert_non_null(strstr(r.seen.offer[2], "m=audio 6042 "));
	assert_int_equal(r.seen.nack, 0); /* the call had an offer: no late answer */
}

static void callee_offers_reach_core(void **state)
{
	struct rig r;
	struct peer u = {0};
	sip_call_t leg;

	(void)state;
	rig_start(&r);
	r.seen.answers[0] = SDP("30300");
	r.seen.answers[1] = SDP("30400");
	sipp_start(&u, "reinvite_leg_offers", 0);
	leg = dial(&r, &u);
	assert_int_equal(wait_count(&r.seen, &r.seen.nleg, 1), 0);
	assert_int_equal(r.seen.leg_answered, leg);
	assert_int_equal(wait_count(&r.seen, &r.seen.noffer, 2), 0);
	hangup(&r, leg);
	assert_int_equal(sipp_wait(&u), 0);
	rig_stop(&r);
	assert_int_equal(r.seen.offer_call[0], leg);
	assert_int_equal(r.seen.offer_call[1], leg);
	assert_non_null(strstr(r.seen.offer[0], "a=sendonly"));
	assert_non_null(strstr(r.seen.offer[1], "m=audio 40300 "));
}

static void late_offer_answer_comes_from_the_ack(void **state)
{
	struct rig r;
	struct peer u = {0};
	sip_call_t call;

	(void)state;
	rig_start(&r);
	sipp_start(&u, "reinvite_in_late", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	assert_false(r.seen.invite_had_sdp);
	call = r.seen.call;
	/* The scenario checks that the 200 carries this offer. */
	assert_int_equal(answer(&r, call, 200, LATE_OFFER), 0);
	assert_int_equal(wait_count(&r.seen, &r.seen.nack, 1), 0);
	assert_int_equal(r.seen.ack_call, call);
	assert_true(r.seen.ack_had_sdp);
	assert_non_null(strstr(r.seen.ack_sdp, "m=audio 36000 RTP/AVP 8 101"));
	hangup(&r, call);
	assert_int_equal(sipp_wait(&u), 0);
	assert_non_null(strstr(sipp_log(&u), "m=audio 30500 RTP/AVP 0 8 101"));
	rig_stop(&r);
	assert_int_equal(r.seen.nack, 1);
	assert_int_equal(r.seen.noffer, 0);
}

/* A re-INVITE without SDP gets the SDP we last sent as an offer; the ACK
 * answers it through cb->ack_answer, as a late offer's would. */
static void offerless_reinvite_answer_comes_from_the_ack(void **state)
{
	struct rig r;
	struct peer u = {0};
	sip_call_t call;

	(void)state;
	rig_start(&r);
	sipp_start(&u, "reinvite_in_offerless", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	assert_true(r.seen.invite_had_sdp);
	call = r.seen.call;
	assert_int_equal(answer(&r, call, 200, SDP("30200")), 0);
	/* The scenario checks that the re-INVITE's 200 carries 30200. */
	assert_int_equal(wait_count(&r.seen, &r.seen.nack, 1), 0);
	assert_int_equal(r.seen.ack_call, call);
	assert_non_null(strstr(r.seen.ack_sdp, "m=audio 36100 RTP/AVP 0"));
	hangup(&r, call);
	assert_int_equal(sipp_wait(&u), 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nack, 1);   /* the first ACK answered nothing */
	assert_int_equal(r.seen.noffer, 0); /* nothing to ask core before the 200 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(caller_offers_reach_core),
	    cmocka_unit_test(callee_offers_reach_core),
	    cmocka_unit_test(late_offer_answer_comes_from_the_ack),
	    cmocka_unit_test(offerless_reinvite_answer_comes_from_the_ack),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
