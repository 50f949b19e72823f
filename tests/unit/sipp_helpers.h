/* sipp_helpers: the SIP thread on real sockets on 127.0.0.1 (a rig) and
 * SIPp as the far end, for test_sipleg and test_sipleg2: starting both,
 * dialling, answering and hanging up on the SIP thread, and waiting for
 * what the callbacks saw. */
#ifndef PB_TEST_SIPP_HELPERS_H
#define PB_TEST_SIPP_HELPERS_H

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

static inline void on_invite(void *arg, const struct sip_invite *inv)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	s->ninvite++;
	s->call = inv->call;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static inline void on_ended(void *arg, sip_call_t call)
{
	struct seen *s = arg;

	(void)call;
	pthread_mutex_lock(&s->lock);
	s->nended++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static inline void on_leg(void *arg, const struct sip_leg_event *ev)
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
static inline int free_port(const char *ip)
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
static inline void sipp_dir(char *out, size_t len)
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
/* Whether something has bound ip:port (our own bind fails). */
static inline bool port_bound(const char *ip, int port, bool tcp)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	bool bound;

	inet_pton(AF_INET, ip, &sa.sin_addr);
	bound = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno == EADDRINUSE;
	if (fd >= 0)
		close(fd);
	return bound;
}

static inline void sipp_start(struct uas *u, const char *scenario, int target)
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
	if (target) {
		/* A caller: nothing listens for it. */
		usleep(150000);
		return;
	}
	/* A callee: wait until SIPp has bound its port (up to 5 s), so a
	 * loaded machine does not send the INVITE into nothing. */
	for (int i = 0; i < 500 && !port_bound(ip, u->port, u->tcp); i++)
		usleep(10000);
}

static inline void uas_start(struct uas *u, const char *scenario)
{
	sipp_start(u, scenario, 0);
}

/* Waits up to 15 s; returns SIPp's exit status (0: the scenario passed). */
static inline int uas_wait(struct uas *u)
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
static inline const char *uas_log(const struct uas *u)
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

/* sip_opts.advertise of the next rig; a "%d" in it is the rig's port. */
static const char *rig_advertise;
/* sip_opts.session_expires_ms and min_se_ms of the next rig. */
static int64_t rig_session_expires_ms, rig_min_se_ms;

static inline void rig_start_reg(struct rig *r, const struct sip_trunk_acl *trunk)
{
	char udp[48], tcp[48], adv[128];
	const char *listen[2] = {udp, tcp};
	struct sip_opts o = {.listen = listen,
	                     .nlisten = 2,
	                     .advertise = rig_advertise ? adv : NULL,
	                     .trunks = trunk,
	                     .ntrunks = !!trunk,
	                     .session_expires_ms = rig_session_expires_ms,
	                     .min_se_ms = rig_min_se_ms};

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->seen.lock, NULL);
	pthread_cond_init(&r->seen.cond, NULL);
	r->port = free_port("127.0.0.1");
	assert_true(r->port > 0);
	if (rig_advertise) {
		const char *pct = strstr(rig_advertise, "%d");

		if (pct)
			snprintf(adv, sizeof(adv), "%.*s%d%s", (int)(pct - rig_advertise),
			         rig_advertise, r->port, pct + 2);
		else
			snprintf(adv, sizeof(adv), "%s", rig_advertise);
	}
	snprintf(udp, sizeof(udp), "udp:127.0.0.1:%d", r->port);
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", r->port);
	assert_int_equal(sip_start(&r->sip, &o, &callbacks, &r->seen), 0);
}

/* Callers may come from anywhere in 127/8. */
static inline void rig_start(struct rig *r)
{
	static const struct sip_cidr loopback = {.addr = {[10] = 0xff, [11] = 0xff, [12] = 127},
	                                         .prefix = 104};
	static const struct sip_trunk_acl trunk = {
	    .name = "carrier", .allow = &loopback, .nallow = 1};

	rig_start_reg(r, &trunk);
}

static inline void rig_stop(struct rig *r)
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

static inline void on_thread_run(void *arg)
{
	struct on_thread *t = arg;

	t->fn(t);
	pthread_mutex_lock(&t->lock);
	t->done = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static inline void run_on_sip(struct sip *sip, struct on_thread *t)
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

static inline void do_dial(struct on_thread *t)
{
	t->rc = sip_dial(t->sip, &t->dial, &t->leg);
}

static inline void do_hangup(struct on_thread *t)
{
	sip_hangup(t->sip, t->leg, t->status);
}

static inline void do_answer(struct on_thread *t)
{
	t->rc = sip_answer(t->sip, t->leg, t->status, t->sdp);
}

static inline int answer(struct rig *r, sip_call_t call, int status, const char *sdp)
{
	struct on_thread t = {.fn = do_answer, .leg = call, .status = status, .sdp = sdp};

	run_on_sip(r->sip, &t);
	return t.rc;
}

static inline sip_call_t dial(struct rig *r, const struct uas *u, const char *user,
                              const char *pass, const char *realm)
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

static inline void hangup(struct rig *r, sip_call_t leg)
{
	struct on_thread t = {.fn = do_hangup, .leg = leg};

	run_on_sip(r->sip, &t);
}

/* Waits up to 10 s until *count reaches n. */
static inline int wait_count(struct seen *s, const int *count, int n)
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
static inline int wait_events(struct seen *s, int n)
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

#endif
