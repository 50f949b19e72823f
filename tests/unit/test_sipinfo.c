/* test_sipinfo: DTMF by SIP INFO (sip/info.c): the body parser on its own,
 * then end to end with SIPp as a caller on 127.0.0.2 whose call the test
 * answers: dtmf-relay and dtmf digits reported and answered 200, other
 * types 415, bodies without a digit 400. */
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

#include "sip/sip_int.h"

/* --- the parser ------------------------------------------------------------ */

static int parse(const char *ctype, const char *body, char *digit)
{
	*digit = 0;
	return sip_info_parse(ctype, body, body ? strlen(body) : 0, digit);
}

static void expect_digit(const char *ctype, const char *body, char want)
{
	char d;
	int rc = parse(ctype, body, &d);

	if (rc != 0 || d != want)
		fail_msg("%s \"%s\": rc %d digit '%c', want '%c'", ctype, body, rc, d ? d : '-',
		         want);
}

static void relay_bodies_give_their_signal(void **state)
{
	(void)state;
	const char *relay = "application/dtmf-relay";
	expect_digit(relay, "Signal=5\r\nDuration=160\r\n", '5');
	expect_digit(relay, "Duration=250\r\nSignal=#\r\n", '#');
	expect_digit(relay, "signal = *\n", '*');
	expect_digit(relay, "  SIGNAL=\t0", '0');
	expect_digit(relay, "Signal= 10\r\nDuration=100", '*');
	expect_digit(relay, "Signal=11", '#');
	expect_digit(relay, "Signal=a", 'A');
	expect_digit(relay, "Signal=D\r\n", 'D');
	expect_digit("Application/DTMF-Relay", "Signal=9", '9');
	expect_digit("application/dtmf-relay;charset=utf-8", "Signal=3", '3');
}

static void dtmf_bodies_are_the_digit(void **state)
{
	(void)state;
	expect_digit("application/dtmf", "7", '7');
	expect_digit("application/dtmf", "#\r\n", '#');
	expect_digit("application/dtmf", " 10 ", '*');
	expect_digit("application/dtmf", "11", '#');
	expect_digit("application/dtmf", "c", 'C');
}

static void other_bodies_are_refused(void **state)
{
	char d;

	(void)state;
	assert_int_equal(parse("text/plain", "Signal=5", &d), ENOTSUP);
	assert_int_equal(parse("application/sdp", "v=0", &d), ENOTSUP);
	assert_int_equal(parse("application/dtmfx", "5", &d), ENOTSUP);
	assert_int_equal(parse(NULL, "5", &d), ENOTSUP);
	assert_int_equal(parse(NULL, NULL, &d), ENODATA);
	assert_int_equal(parse("application/dtmf-relay", "Duration=160", &d), EINVAL);
	assert_int_equal(parse("application/dtmf-relay", "Signal=", &d), EINVAL);
	assert_int_equal(parse("application/dtmf-relay", "Signal=E", &d), EINVAL);
	assert_int_equal(parse("application/dtmf-relay", "Signal=12", &d), EINVAL);
	assert_int_equal(parse("application/dtmf-relay", "Signal=55", &d), EINVAL);
	assert_int_equal(parse("application/dtmf-relay", "Signalling=5", &d), EINVAL);
	assert_int_equal(parse("application/dtmf-relay", "", &d), EINVAL);
	assert_int_equal(parse("application/dtmf", "", &d), EINVAL);
	assert_int_equal(parse("application/dtmf", "12", &d), EINVAL);
	assert_int_equal(parse("application/dtmf", "5 5", &d), EINVAL);
	assert_int_equal(d, 0);
}

/* A body that is not NUL-terminated is read only up to len. */
static void body_is_read_to_its_length(void **state)
{
	char d = 0;

	(void)state;
	assert_int_equal(sip_info_parse("application/dtmf", "45", 1, &d), 0);
	assert_int_equal(d, '4');
	assert_int_equal(sip_info_parse("application/dtmf-relay", "Signal=5", 7, &d), EINVAL);
}

/* --- end to end with SIPp -------------------------------------------------- */

#define VN "4930555000"
#define ANSWER_SDP                                                                                 \
	"v=0\r\no=pinbridge 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"        \
	"m=audio 30200 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ninvite, nended;
	sip_call_t call;
	char digits[16];
	sip_call_t digit_call;
	struct sip *sip; /* to answer from the SIP thread */
};

/* Answered at once on the SIP thread, as core does after its checks. */
static void on_invite(void *arg, const struct sip_invite *inv)
{
	struct seen *s = arg;

	assert_int_equal(sip_answer(s->sip, inv->call, 200, ANSWER_SDP), 0);
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

static void on_digit(void *arg, sip_call_t call, char digit)
{
	struct seen *s = arg;
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = strlen(s->digits);
	if (n + 1 < sizeof(s->digits))
		s->digits[n] = digit;
	s->digit_call = call;
	pthread_mutex_unlock(&s->lock);
}

static const struct sip_callbacks callbacks = {
    .invite = on_invite, .ended = on_ended, .info_digit = on_digit};

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

/* SIPp on 127.0.0.2 running tests/sipp/<scenario>.xml once against
 * 127.0.0.1:target; returns its pid. */
static pid_t sipp_call(const char *scenario, int target)
{
	char dir[PATH_MAX], file[PATH_MAX + 64], port[8], remote[32], out[96], errs[96];
	int lport = free_port("127.0.0.2");

	if (system("command -v sipp >/dev/null 2>&1") != 0)
		fail_msg("sipp not found: install sip-tester (SIPp) to run the SIP tests");
	sipp_dir(dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/%s.xml", dir, scenario);
	if (access(file, R_OK) != 0)
		fail_msg("scenario %s not readable (set PB_SIPP_DIR)", file);
	assert_true(lport > 0);
	snprintf(port, sizeof(port), "%d", lport);
	snprintf(remote, sizeof(remote), "127.0.0.1:%d", target);
	snprintf(out, sizeof(out), "/tmp/pb-sipp-%s-%d.out", scenario, (int)getpid());
	snprintf(errs, sizeof(errs), "/tmp/pb-sipp-%s-%d.log", scenario, (int)getpid());
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(null, 0);
		dup2(fd >= 0 ? fd : null, 1);
		dup2(fd >= 0 ? fd : null, 2);
		const char *argv[] = {"sipp",
		                      "-sf",
		                      file,
		                      "-s",
		                      VN,
		                      "-i",
		                      "127.0.0.2",
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
		                      "-trace_err",
		                      "-error_file",
		                      errs,
		                      remote,
		                      NULL};
		execvp("sipp", (char **)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

/* Waits up to 15 s; SIPp's exit status (0: the scenario passed). */
static int sipp_wait(pid_t pid)
{
	int st = 0;

	for (int i = 0; i < 1500; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void info_digits_end_to_end(void **state)
{
	static const struct sip_cidr loopback = {.addr = {[10] = 0xff, [11] = 0xff, [12] = 127},
	                                         .prefix = 104};
	static const struct sip_trunk_acl trunk = {
	    .name = "carrier", .allow = &loopback, .nallow = 1};
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	char udp[48];
	const char *listen[1] = {udp};
	struct sip_opts o = {.listen = listen, .nlisten = 1, .trunks = &trunk, .ntrunks = 1};
	int port = free_port("127.0.0.1");

	(void)state;
	assert_true(port > 0);
	snprintf(udp, sizeof(udp), "udp:127.0.0.1:%d", port);
	assert_int_equal(sip_start(&s.sip, &o, &callbacks, &s), 0);
	pid_t pid = sipp_call("info_dtmf", port);
	int rc = sipp_wait(pid); /* the scenario checks each response code */
	usleep(100000);          /* the BYE's report */
	sip_stop(s.sip);
	if (rc != 0)
		fail_msg("SIPp's scenario failed (%d): see /tmp/pb-sipp-info_dtmf-%d.log", rc,
		         (int)getpid());
	assert_int_equal(s.ninvite, 1);
	assert_string_equal(s.digits, "5#*D");
	assert_int_equal(s.digit_call, s.call);
	assert_int_equal(s.nended, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(relay_bodies_give_their_signal),
	    cmocka_unit_test(dtmf_bodies_are_the_digit),
	    cmocka_unit_test(other_bodies_are_refused),
	    cmocka_unit_test(body_is_read_to_its_length),
	    cmocka_unit_test(info_digits_end_to_end),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
