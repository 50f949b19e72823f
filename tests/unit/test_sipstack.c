/* test_sipstack: the SIP thread on real sockets on 127.0.0.1 with SIPp as
 * the far end: OPTIONS 200, MESSAGE and REFER 403, INVITE handed to the
 * callback and refused by it, INVITE from a source no trunk allows. */
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
#define CALLER "4915100000001"

struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ninvite, nended;
	sip_call_t call, ended_call;
	char ruri[64], from[64], pai[64], src[64], trunk[64];
	char sdp[2048];
	int answer_inline; /* nonzero: respond from the callback (SIP thread) */
	struct sip *sip;
};

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void on_invite(void *arg, const struct sip_invite *inv)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	s->ninvite++;
	s->call = inv->call;
	copy(s->ruri, sizeof(s->ruri), inv->ruri_user);
	copy(s->from, sizeof(s->from), inv->from_user);
	copy(s->pai, sizeof(s->pai), inv->pai_user);
	copy(s->src, sizeof(s->src), inv->src_ip);
	copy(s->trunk, sizeof(s->trunk), inv->trunk);
	copy(s->sdp, sizeof(s->sdp), inv->sdp);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->answer_inline)
		sip_respond(s->sip, inv->call, s->answer_inline, NULL);
}

static void on_ended(void *arg, sip_call_t call)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	s->nended++;
	s->ended_call = call;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static const struct sip_callbacks callbacks = {.invite = on_invite, .ended = on_ended};

/* A port free for both UDP and TCP on 127.0.0.1 (racy, like every such
 * helper, but the window is short). */
static int free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t len = sizeof(a);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		int port = -1;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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

/* tests/sipp/: PB_SIPP_DIR, else found from this file's path (meson passes
 * it relative to the build root, which is two levels above the binary's folder). */
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

static int sipp_found(void)
{
	return system("command -v sipp >/dev/null 2>&1") == 0;
}

/* Starts SIPp as a UAC running tests/sipp/<scenario>.xml once against
 * 127.0.0.1:port; stdin, stdout and stderr go nowhere but the error log. */
static pid_t sipp_spawn_on(const char *scenario, int port, const char *transport)
{
	char dir[PATH_MAX], file[PATH_MAX + 64], target[32], errlog[64], outlog[64], lport[8];
	pid_t pid;

	if (!sipp_found())
		fail_msg("sipp not found: install sip-tester (SIPp) to run the SIP tests");
	sipp_dir(dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/%s.xml", dir, scenario);
	if (access(file, R_OK) != 0)
		fail_msg("scenario %s not readable (set PB_SIPP_DIR)", file);
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	/* SIPp's own default is 5060, which a running pinbridge may hold. */
	snprintf(lport, sizeof(lport), "%d", free_port());
	snprintf(errlog, sizeof(errlog), "/tmp/pb-sipp-%s-%d.log", scenario, (int)getpid());
	snprintf(outlog, sizeof(outlog), "/tmp/pb-sipp-%s-%d.out", scenario, (int)getpid());
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int out = open(outlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(null, 0);
		dup2(out >= 0 ? out : null, 1);
		dup2(out >= 0 ? out : null, 2);
		execlp("sipp", "sipp", target, "-sf", file, "-s", VN, "-i", "127.0.0.1", "-p",
		       lport, "-t", transport, "-m", "1", "-timeout", "10s", "-timeout_error",
		       "-nostdin", "-trace_err", "-error_file", errlog, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

static pid_t sipp_spawn(const char *scenario, int port)
{
	return sipp_spawn_on(scenario, port, "u1");
}

/* Waits up to 15 s; returns SIPp's exit status (0: the scenario passed). */
static int sipp_wait(pid_t pid)
{
	int st = 0;

	for (int i = 0; i < 1500; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int sipp_run(const char *scenario, int port)
{
	return sipp_wait(sipp_spawn(scenario, port));
}

struct rig {
	struct sip *sip;
	struct seen seen;
	int port;
};

static void rig_start(struct rig *r, const char *allow4, int prefix4, bool silent)
{
	char udp[48], tcp[48];
	const char *listen[2] = {udp, tcp};
	struct sip_cidr cidr = {.addr = {[10] = 0xff, [11] = 0xff}, .prefix = 96 + prefix4};
	struct sip_trunk_acl trunk = {
	    .name = "carrier", .allow = &cidr, .nallow = 1, .silent_deny = silent};
	struct sip_opts o = {.listen = listen, .nlisten = 2, .trunks = &trunk, .ntrunks = 1};

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->seen.lock, NULL);
	pthread_cond_init(&r->seen.cond, NULL);
	assert_int_equal(inet_pton(AF_INET, allow4, cidr.addr + 12), 1);
	r->port = free_port();
	assert_true(r->port > 0);
	snprintf(udp, sizeof(udp), "udp:127.0.0.1:%d", r->port);
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", r->port);
	assert_int_equal(sip_start(&r->sip, &o, &callbacks, &r->seen), 0);
	r->seen.sip = r->sip;
}

static void rig_stop(struct rig *r)
{
	sip_stop(r->sip);
	pthread_cond_destroy(&r->seen.cond);
	pthread_mutex_destroy(&r->seen.lock);
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

static void options_get_200(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, "127.0.0.1", 32, false);
	assert_int_equal(sipp_run("options_200", r.port), 0);
	assert_int_equal(r.seen.ninvite, 0);
	rig_stop(&r);
}

static void options_over_tcp_get_200(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, "127.0.0.1", 32, false);
	assert_int_equal(sipp_wait(sipp_spawn_on("options_200", r.port, "t1")), 0);
	rig_stop(&r);
}

static void message_and_refer_get_403(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, "127.0.0.1", 32, false);
	assert_int_equal(sipp_run("message_403", r.port), 0);
	assert_int_equal(sipp_run("refer_403", r.port), 0);
	assert_int_equal(r.seen.ninvite, 0);
	rig_stop(&r);
}

static void allowed_invite_reaches_core_and_its_404_the_caller(void **state)
{
	struct rig r;
	pid_t pid;

	(void)state;
	rig_start(&r, "127.0.0.0", 8, false);
	pid = sipp_spawn("invite_404", r.port);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1), 0);
	assert_string_equal(r.seen.ruri, VN);
	assert_string_equal(r.seen.from, CALLER);
	assert_string_equal(r.seen.pai, "");
	assert_string_equal(r.seen.src, "127.0.0.1");
	assert_string_equal(r.seen.trunk, "carrier");
	assert_non_null(strstr(r.seen.sdp, "m=audio "));
	assert_non_null(strstr(r.seen.sdp, "a=rtpmap:101 telephone-event/8000"));
	/* From the test thread: queued onto the SIP thread. */
	assert_int_equal(sip_respond(r.sip, r.seen.call, 404, "Not Found"), 0);
	assert_int_equal(sipp_wait(pid), 0);
	assert_int_equal(r.seen.nended, 0);
	rig_stop(&r);
}

static void respond_from_the_callback_works(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, "127.0.0.1", 32, false);
	r.seen.answer_inline = 404;
	assert_int_equal(sipp_run("invite_404", r.port), 0);
	assert_int_equal(r.seen.ninvite, 1);
	rig_stop(&r);
}

static void cancel_before_answer_ends_the_call(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, "127.0.0.1", 32, false);
	assert_int_equal(sipp_run("invite_cancel", r.port), 0);
	assert_int_equal(wait_count(&r.seen, &r.seen.nended, 1), 0);
	assert_int_equal(r.seen.ninvite, 1);
	assert_int_equal(r.seen.ended_call, r.seen.call);
	/* Core answering a call that has ended is harmless. */
	assert_int_equal(sip_respond(r.sip, r.seen.call, 480, NULL), 0);
	rig_stop(&r);
	assert_int_equal(r.seen.nended, 1);
}

static void invite_from_elsewhere_gets_403(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, "127.0.0.9", 32, false);
	assert_int_equal(sipp_run("invite_403", r.port), 0);
	assert_int_equal(r.seen.ninvite, 0);
	rig_stop(&r);
}

static void invite_from_elsewhere_silent_gets_no_final(void **state)
{
	struct rig r;

	(void)state;
	rig_start(&r, "127.0.0.9", 32, true);
	/* The scenario waits for a 403 that never comes: SIPp times out. */
	assert_int_not_equal(sipp_run("invite_403", r.port), 0);
	assert_int_equal(r.seen.ninvite, 0);
	rig_stop(&r);
}

static void bad_listen_entry_fails_start(void **state)
{
	const char *listen[1] = {"sctp:127.0.0.1:5060"};
	struct sip_opts o = {.listen = listen, .nlisten = 1};
	struct sip *sip = NULL;

	(void)state;
	assert_int_equal(sip_start(&sip, &o, &callbacks, NULL), EINVAL);
	assert_null(sip);
}

static void post_runs_on_the_sip_thread(void **state);

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_listen_entry_fails_start),
	    cmocka_unit_test(post_runs_on_the_sip_thread),
	    cmocka_unit_test(options_get_200),
	    cmocka_unit_test(options_over_tcp_get_200),
	    cmocka_unit_test(message_and_refer_get_403),
	    cmocka_unit_test(allowed_invite_reaches_core_and_its_404_the_caller),
	    cmocka_unit_test(respond_from_the_callback_works),
	    cmocka_unit_test(cancel_before_answer_ends_the_call),
	    cmocka_unit_test(invite_from_elsewhere_gets_403),
	    cmocka_unit_test(invite_from_elsewhere_silent_gets_no_final),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

struct post_probe {
	pthread_t self;
	int runs;
};

static void probe(void *arg)
{
	struct post_probe *p = arg;

	p->self = pthread_self();
	p->runs++;
}

static void post_runs_on_the_sip_thread(void **state)
{
	struct rig r;
	struct post_probe p = {0};

	(void)state;
	rig_start(&r, "127.0.0.1", 32, false);
	assert_int_equal(sip_post(r.sip, probe, &p), 0);
	/* sip_stop() runs every job accepted before it. */
	rig_stop(&r);
	assert_int_equal(p.runs, 1);
	assert_false(pthread_equal(p.self, pthread_self()));
}
