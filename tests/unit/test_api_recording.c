/* Tests GET and HEAD /v1/tenants/{t}/calls/{call_sid}/recording on a real
 * HTTP API over a temporary store, with call records written straight to
 * the store (the call flow records nothing yet): the file whole and by
 * range, 416 with the size, ignored ranges, HEAD without a body (also on a
 * kept-alive connection), the 404s of calls without a file, tenant
 * isolation, 405 and 401, and the route in /metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "api/api.h"
#include "core/calls.h"
#include "core/recordings.h"
#include "fixture.h"

#define WAV_LEN 1044
/* 2024-03-10T23:59:59.500Z: the file lives under 20240310. */
#define ANSWERED 1710115199500LL

static struct fixture f;
static struct api *api;
static int port;
static char recdir[128];
static unsigned char wav[WAV_LEN];
static const struct tenant *tt;
/* call_sids: a served recording, and calls without one. */
static char sid_ok[STORE_SID_LEN + 1], sid_none[STORE_SID_LEN + 1],
    sid_recording[STORE_SID_LEN + 1], sid_failed[STORE_SID_LEN + 1], sid_deleted[STORE_SID_LEN + 1],
    sid_other[STORE_SID_LEN + 1];

#define AUTH_T "Authorization: Basic dDE6czE=\r\n" /* t1:s1 */
#define AUTH_Q "Authorization: Basic cTE6czI=\r\n" /* q1:s2 */

struct put_job {
	const struct store_call *c;
	int rc;
};

static int put_step(struct store_txn *txn, void *arg, size_t i)
{
	struct put_job *j = arg;

	(void)i;
	j->rc = store_call_put(txn, j->c);
	return j->rc;
}

static void put_call(const char *tenant, char *sid, enum store_rec_status rs)
{
	struct store_call c;
	struct put_job j = {.c = &c};

	memset(&c, 0, sizeof(c));
	calls_new_sid(c.call_sid);
	snprintf(c.tenant, sizeof(c.tenant), "%s", tenant);
	snprintf(c.vn, sizeof(c.vn), "%s", "+916292134401");
	snprintf(c.from, sizeof(c.from), "%s", "+917987686144");
	snprintf(c.to, sizeof(c.to), "%s", "+917987686145");
	c.state = STORE_CALL_COMPLETED;
	c.call_type = STORE_CT_COMPLETED;
	c.dial_status = STORE_DIAL_COMPLETED;
	c.started_ms = ANSWERED - 4000;
	c.answered_ms = ANSWERED;
	c.ended_ms = ANSWERED + 60000;
	c.rec_status = (uint8_t)rs;
	assert_int_equal(store_write(f.st, put_step, &j, 1), 0);
	assert_int_equal(j.rc, 0);
	strcpy(sid, c.call_sid);
}

static void write_file(const struct tenant *t, const char *sid)
{
	char path[512], dir[512], *slash;
	int fd;

	assert_int_equal(recordings_path(t, sid, ANSWERED, path, sizeof(path)), 0);
	assert_non_null(strstr(path, "/20240310/"));
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = dir + strlen(recdir) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
		*slash = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, wav, sizeof(wav)), (ssize_t)sizeof(wav));
	close(fd);
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0), p;

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	p = ntohs(sa.sin_port);
	close(s);
	return p;
}

static int setup(void **state)
{
	char conf[1024], listen[32];
	struct api_services svcs;
	const struct tenant *tq;

	(void)state;
	strcpy(recdir, "/tmp/pb-rec-api-XXXXXX");
	if (!mkdtemp(recdir))
		return -1;
	snprintf(conf, sizeof(conf),
	         "tenants = ( { id = \"t\"; api_key = \"t1\"; api_token = \"s1\"; country = "
	         "\"91\";\n"
	         "  vns = [\"+916292134400-+916292134409\"];\n"
	         "  recordings = { dir = \"%s\"; }; },\n"
	         " { id = \"q\"; api_key = \"q1\"; api_token = \"s2\"; country = \"91\";\n"
	         "  vns = [\"+916292134410-+916292134419\"];\n"
	         "  recordings = { dir = \"%s\"; }; } );\n",
	         recdir, recdir);
	if (fixture_open(&f, conf) != 0)
		return -1;
	tt = config_tenant(f.cfg, "t");
	tq = config_tenant(f.cfg, "q");
	if (!tt || !tq)
		return -1;
	config_install(config_ref(f.cfg));
	for (size_t i = 0; i < sizeof(wav); i++)
		wav[i] = (unsigned char)(i * 7 + i / 256);
	memcpy(wav, "RIFF", 4);
	put_call("t", sid_ok, STORE_RECST_COMPLETED);
	write_file(tt, sid_ok);
	put_call("t", sid_none, STORE_RECST_NONE);
	put_call("t", sid_recording, STORE_RECST_RECORDING);
	put_call("t", sid_failed, STORE_RECST_FAILED);
	put_call("t", sid_deleted, STORE_RECST_COMPLETED); /* no file: swept */
	put_call("q", sid_other, STORE_RECST_COMPLETED);
	write_file(tq, sid_other);
	port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	memset(&svcs, 0, sizeof(svcs));
	svcs.svc = f.svc;
	return api_start(&api, &svcs, listen, 2) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	api_stop(api);
	config_install(NULL);
	fixture_close(&f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", recdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- a small HTTP/1.1 client ---- */

struct resp {
	int status;
	char head[4096]; /* status line and headers */
	unsigned char body[256 * 1024];
	size_t blen;
};

static int connect_api(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return s;
}

static void send_all(int s, const char *text)
{
	size_t n = strlen(text);

	assert_int_equal(send(s, text, n, 0), (ssize_t)n);
}

/* The value of header name in r (case-insensitive name), or NULL. */
static const char *header(const struct resp *r, const char *name, char *out, size_t n)
{
	const char *p = strstr(r->head, "\r\n");
	size_t nl = strlen(name);

	while (p && p[2]) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			end = line + strlen(line);
		if ((size_t)(end - line) > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;

			while (*v == ' ')
				v++;
			snprintf(out, n, "%.*s", (int)(end - v), v);
			return out;
		}
		p = *end ? end : NULL;
	}
	return NULL;
}

/* Reads one response's head from s; the body: Content-Length bytes
 * (none for HEAD), or, with to_eof, everything until the server closes
 * (which shows that nothing follows a HEAD reply). */
static void read_resp(int s, bool head_only, bool to_eof, struct resp *r)
{
	char buf[sizeof(r->head)], cl[32];
	size_t have = 0, hlen;
	char *end = NULL;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	while (!end) {
		assert_true(have < sizeof(buf) - 1);
		n = recv(s, buf + have, 1, 0); /* byte by byte: leave the next reply unread */
		assert_true(n == 1);
		have++;
		buf[have] = '\0';
		end = have >= 4 && !memcmp(buf + have - 4, "\r\n\r\n", 4) ? buf + have : NULL;
	}
	hlen = have - 2;
	assert_true(hlen < sizeof(r->head));
	memcpy(r->head, buf, hlen);
	r->head[hlen] = '\0';
	assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
	if (to_eof) {
		while ((n = recv(s, r->body + r->blen, sizeof(r->body) - r->blen, 0)) > 0)
			r->blen += (size_t)n;
		return;
	}
	if (head_only || !header(r, "Content-Length", cl, sizeof(cl)))
		return;
	size_t want = strtoul(cl, NULL, 10);

	assert_true(want <= sizeof(r->body));
	while (r->blen < want) {
		n = recv(s, r->body + r->blen, want - r->blen, 0);
		assert_true(n > 0);
		r->blen += (size_t)n;
	}
}

/* One request on a fresh connection that closes after it. */
static void request(const char *method, const char *sid, const char *extra, struct resp *r)
{
	char req[1024];
	int s = connect_api();

	snprintf(req, sizeof(req),
	         "%s /v1/tenants/t/calls/%s/recording HTTP/1.1\r\nHost: x\r\nConnection: "
	         "close\r\n%s\r\n",
	         method, sid, extra ? extra : AUTH_T);
	send_all(s, req);
	read_resp(s, false, true, r);
	close(s);
}

#define assert_header(r, name, want)                                                               \
	do {                                                                                       \
		char v_[256];                                                                      \
		const char *got_ = header(r, name, v_, sizeof(v_));                                \
		if (!got_ || strcmp(got_, want))                                                   \
			fail_msg("%s: %s, want %s\n%s", name, got_ ? got_ : "(absent)", want,      \
			         (r)->head);                                                       \
	} while (0)

static void expect_bytes(const struct resp *r, size_t first, size_t len)
{
	char cl[32];

	snprintf(cl, sizeof(cl), "%zu", len);
	assert_header(r, "Content-Length", cl);
	assert_int_equal(r->blen, len);
	assert_memory_equal(r->body, wav + first, len);
}

/* ---- tests ---- */

static void test_whole_file(void **state)
{
	struct resp r;
	char id[64];

	(void)state;
	request("GET", sid_ok, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "audio/wav");
	assert_header(&r, "Accept-Ranges", "bytes");
	assert_header(&r, "Cache-Control", "no-store");
	assert_null(header(&r, "Content-Range", id, sizeof(id)));
	assert_non_null(header(&r, "X-Request-Id", id, sizeof(id)));
	assert_int_equal(strlen(id), 16);
	expect_bytes(&r, 0, WAV_LEN);
}

static void test_ranges(void **state)
{
	static const struct {
		const char *range, *content_range;
		size_t first, len;
	} cases[] = {
	    {"bytes=10-19", "bytes 10-19/1044", 10, 10},
	    {"bytes=0-0", "bytes 0-0/1044", 0, 1},
	    {"bytes=1000-", "bytes 1000-1043/1044", 1000, 44},
	    {"bytes=-4", "bytes 1040-1043/1044", 1040, 4},
	    {"bytes=-5000", "bytes 0-1043/1044", 0, WAV_LEN},
	    {"bytes=44-999999", "bytes 44-1043/1044", 44, 1000},
	};
	char extra[256];
	struct resp r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(extra, sizeof(extra), AUTH_T "Range: %s\r\n", cases[i].range);
		request("GET", sid_ok, extra, &r);
		if (r.status != 206)
			fail_msg("%s: status %d", cases[i].range, r.status);
		assert_header(&r, "Content-Range", cases[i].content_range);
		assert_header(&r, "Content-Type", "audio/wav");
		assert_header(&r, "Accept-Ranges", "bytes");
		expect_bytes(&r, cases[i].first, cases[i].len);
	}
}

static void test_unsatisfiable_range(void **state)
{
	struct resp r;

	(void)state;
	request("GET", sid_ok, AUTH_T "Range: bytes=1044-\r\n", &r);
	assert_int_equal(r.status, 416);
	assert_header(&r, "Content-Range", "bytes */1044");
	assert_header(&r, "Content-Type", "application/json");
	r.body[r.blen < sizeof(r.body) ? r.blen : sizeof(r.body) - 1] = '\0';
	assert_non_null(strstr((char *)r.body, "\"status\":416"));
	assert_non_null(strstr((char *)r.body, "\"success\":false"));
	request("GET", sid_ok, AUTH_T "Range: bytes=-0\r\n", &r);
	assert_int_equal(r.status, 416);
}

static void test_ignored_ranges(void **state)
{
	static const char *const ignored[] = {"bytes=0-1,4-5", "bytes=5-3", "bytes=x", "lines=1-2"};
	char extra[256], v[64];
	struct resp r;

	(void)state;
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		snprintf(extra, sizeof(extra), AUTH_T "Range: %s\r\n", ignored[i]);
		request("GET", sid_ok, extra, &r);
		if (r.status != 200)
			fail_msg("%s: status %d", ignored[i], r.status);
		assert_null(header(&r, "Content-Range", v, sizeof(v)));
		expect_bytes(&r, 0, WAV_LEN);
	}
}

static void test_head(void **state)
{
	char req[512];
	struct resp r;
	int s;

	(void)state;
	request("HEAD", sid_ok, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Length", "1044");
	assert_header(&r, "Content-Type", "audio/wav");
	assert_header(&r, "Accept-Ranges", "bytes");
	assert_int_equal(r.blen, 0); /* the server closed right after the head */
	/* Range does not apply to HEAD. */
	request("HEAD", sid_ok, AUTH_T "Range: bytes=0-9\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Length", "1044");
	assert_int_equal(r.blen, 0);
	/* Kept alive: the GET after a HEAD reads exactly its own reply. */
	s = connect_api();
	snprintf(req, sizeof(req),
	         "HEAD /v1/tenants/t/calls/%s/recording HTTP/1.1\r\nHost: x\r\n" AUTH_T "\r\n",
	         sid_ok);
	send_all(s, req);
	read_resp(s, true, false, &r);
	assert_int_equal(r.status, 200);
	snprintf(req, sizeof(req),
	         "GET /v1/tenants/t/calls/%s/recording HTTP/1.1\r\nHost: x\r\n" AUTH_T
	         "Range: bytes=2-5\r\n\r\n",
	         sid_ok);
	send_all(s, req);
	read_resp(s, false, false, &r);
	assert_int_equal(r.status, 206);
	expect_bytes(&r, 2, 4);
	close(s);
}

static void expect_404(const char *sid, const char *auth, const char *msg)
{
	struct resp r;

	request("GET", sid, auth, &r);
	r.body[r.blen < sizeof(r.body) ? r.blen : sizeof(r.body) - 1] = '\0';
	if (r.status != 404 || !strstr((char *)r.body, "\"code\":1") ||
	    !strstr((char *)r.body, msg))
		fail_msg("%s: %d %s, want 404 code 1 with \"%s\"", sid, r.status, (char *)r.body,
		         msg);
	assert_header(&r, "Content-Type", "application/json");
}

static void test_no_file_to_serve(void **state)
{
	char msg[128];

	(void)state;
	snprintf(msg, sizeof(msg), "call %s has no recording", sid_none);
	expect_404(sid_none, NULL, msg);
	snprintf(msg, sizeof(msg), "call %s has no recording yet", sid_recording);
	expect_404(sid_recording, NULL, msg);
	snprintf(msg, sizeof(msg), "call %s has no recording: recording it failed", sid_failed);
	expect_404(sid_failed, NULL, msg);
	snprintf(msg, sizeof(msg), "the recording of call %s was deleted: past retention",
	         sid_deleted);
	expect_404(sid_deleted, NULL, msg);
}

static void test_tenant_isolation(void **state)
{
	char msg[128], path_q[256], req[512];
	struct resp r;
	int s;

	(void)state;
	/* q's call, asked for on t's path with t's credentials: a missing
	 * call, word for word. */
	snprintf(msg, sizeof(msg), "no call with call_sid %s", sid_other);
	expect_404(sid_other, NULL, msg);
	expect_404("0123456789abcdef0123456789abcdef", NULL,
	           "no call with call_sid 0123456789abcdef0123456789abcdef");
	expect_404("not-a-sid", NULL, "no call with call_sid not-a-sid");
	/* q's credentials on t's path: 403. */
	request("GET", sid_ok, AUTH_Q, &r);
	assert_int_equal(r.status, 403);
	/* and q reads its own. */
	snprintf(path_q, sizeof(path_q), "/v1/tenants/q/calls/%s/recording", sid_other);
	s = connect_api();
	snprintf(req, sizeof(req),
	         "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" AUTH_Q "\r\n", path_q);
	send_all(s, req);
	read_resp(s, false, true, &r);
	close(s);
	assert_int_equal(r.status, 200);
	expect_bytes(&r, 0, WAV_LEN);
}

static void test_methods_and_auth(void **state)
{
	struct resp r;

	(void)state;
	request("DELETE", sid_ok, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_header(&r, "Allow", "GET, HEAD");
	request("POST", sid_ok, AUTH_T "Content-Length: 0\r\n", &r);
	assert_int_equal(r.status, 405);
	assert_header(&r, "Allow", "GET, HEAD");
	request("GET", sid_ok, "", &r);
	assert_int_equal(r.status, 401);
	assert_header(&r, "WWW-Authenticate", "Basic realm=\"pinbridge\"");
	request("GET", sid_ok, "Authorization: Basic dDE6bm9wZQ==\r\n", &r); /* t1:nope */
	assert_int_equal(r.status, 401);
}

static void test_metrics_route(void **state)
{
	struct resp r, m;
	int s;

	(void)state;
	request("GET", sid_ok, AUTH_T "Range: bytes=0-1\r\n", &r);
	assert_int_equal(r.status, 206);
	s = connect_api();
	send_all(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	read_resp(s, false, true, &m);
	close(s);
	assert_int_equal(m.status, 200);
	m.body[m.blen < sizeof(m.body) ? m.blen : sizeof(m.body) - 1] = '\0';
	if (!strstr((char *)m.body, "route=\"/v1/tenants/{t}/calls/{call_sid}/recording\","
	                            "method=\"GET\",status=\"206\""))
		fail_msg("no 206 of the recording route in /metrics:\n%s", (char *)m.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole_file),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_unsatisfiable_range),
	    cmocka_unit_test(test_ignored_ranges),
	    cmocka_unit_test(test_head),
	    cmocka_unit_test(test_no_file_to_serve),
	    cmocka_unit_test(test_tenant_isolation),
	    cmocka_unit_test(test_methods_and_auth),
	    cmocka_unit_test(test_metrics_route),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
