/* test_siptls: sip/'s TLS transport on real sockets on 127.0.0.1 with a
 * certificate made here: which URIs are TLS, an INVITE over the tls:
 * listener reported secure and one over TCP not (nor one over TCP whose
 * Via claims TLS: nta drops it), the private certificate directory and its
 * removal, start-up refusing bad files, and a failed handshake counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sip/sip.h"

/* Sofia-SIP 1.12.11's tport_tls.c leaks every connection's SSL object
 * (tls_free() never SSL_free()s it) and the subjectAltNames its handshake
 * check decodes (inlined in tls_connect()). Under LeakSanitizer these name
 * them; it sees Sofia's frames only with the slow unwinder (libssl has no
 * frame pointers). Read by the sanitizers only. */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

/* The list of suppressions used is no leak report. */
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

const char *__lsan_default_suppressions(void)
{
	return "leak:tls_init_secondary\nleak:tls_connect\n";
}

/* --- a certificate for 127.0.0.1 ------------------------------------------------ */

struct pki {
	char dir[64], cert[96], key[96], other_key[96];
};

static EVP_PKEY *key_write(const char *path)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	FILE *f = fopen(path, "w");

	assert_non_null(k);
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	return k;
}

static void pki_make(struct pki *p)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *san;
	X509V3_CTX ctx;
	EVP_PKEY *k;
	FILE *f;

	snprintf(p->dir, sizeof(p->dir), "/tmp/test_siptls-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->cert, sizeof(p->cert), "%s/cert.pem", p->dir);
	snprintf(p->key, sizeof(p->key), "%s/key.pem", p->dir);
	snprintf(p->other_key, sizeof(p->other_key), "%s/other.pem", p->dir);
	EVP_PKEY_free(key_write(p->other_key));
	k = key_write(p->key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	san = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
	assert_non_null(san);
	X509_add_ext(x, san, -1);
	X509_EXTENSION_free(san);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	f = fopen(p->cert, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void pki_free(struct pki *p)
{
	unlink(p->cert);
	unlink(p->key);
	unlink(p->other_key);
	rmdir(p->dir);
}

/* --- pinbridge's side -------------------------------------------------------------- */

struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ninvite, nsecure;
	struct sip *sip;
};

static void on_invite(void *arg, const struct sip_invite *inv)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	s->ninvite++;
	s->nsecure += inv->secure;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	sip_respond(s->sip, inv->call, 404, NULL);
}

static void on_ended(void *arg, sip_call_t call)
{
	(void)arg;
	(void)call;
}

static const struct sip_callbacks callbacks = {.invite = on_invite, .ended = on_ended};

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(u, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(u, (struct sockaddr *)&a, &len) == 0 &&
	    bind(t, (struct sockaddr *)&a, sizeof(a)) == 0)
		port = ntohs(a.sin_port);
	close(u);
	close(t);
	return port;
}

struct rig {
	struct pki pki;
	struct sip *sip;
	struct seen seen;
	int port, tls_port;
	char udp[48], tcp[48], tls[48];
	const char *listen[3];
	struct sip_cidr cidr;
	struct sip_trunk_acl trunk;
	struct sip_opts o;
};

/* Options for udp and tcp on one port, tls on another; not started. */
static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	pki_make(&r->pki);
	pthread_mutex_init(&r->seen.lock, NULL);
	pthread_cond_init(&r->seen.cond, NULL);
	r->port = free_port();
	do
		r->tls_port = free_port();
	while (r->tls_port == r->port);
	snprintf(r->udp, sizeof(r->udp), "udp:127.0.0.1:%d", r->port);
	snprintf(r->tcp, sizeof(r->tcp), "tcp:127.0.0.1:%d", r->port);
	snprintf(r->tls, sizeof(r->tls), "tls:127.0.0.1:%d", r->tls_port);
	r->listen[0] = r->udp;
	r->listen[1] = r->tcp;
	r->listen[2] = r->tls;
	r->cidr = (struct sip_cidr){.addr = {[10] = 0xff, [11] = 0xff, 127}, .prefix = 104};
	r->trunk = (struct sip_trunk_acl){.name = "carrier", .allow = &r->cidr, .nallow = 1};
	r->o = (struct sip_opts){.listen = r->listen,
	                         .nlisten = 3,
	                         .trunks = &r->trunk,
	                         .ntrunks = 1,
	                         .tls_certificate = r->pki.cert,
	                         .tls_key = r->pki.key,
	                         .tls_ca = r->pki.cert,
	                         .tls_verify = true,
	                         .tls_dir = r->pki.dir};
}

static void rig_start(struct rig *r)
{
	assert_int_equal(sip_start(&r->sip, &r->o, &callbacks, &r->seen), 0);
	r->seen.sip = r->sip;
}

static void rig_free(struct rig *r)
{
	if (r->sip)
		sip_stop(r->sip);
	pki_free(&r->pki);
	pthread_cond_destroy(&r->seen.cond);
	pthread_mutex_destroy(&r->seen.lock);
}

/* The private directories sip_start() made in the rig's directory. */
static size_t tls_dirs(const struct rig *r, char *first, size_t len)
{
	char pat[128];
	glob_t g;
	size_t n;

	snprintf(pat, sizeof(pat), "%s/sip-tls-*", r->pki.dir);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = g.gl_pathc;
	if (n && first)
		snprintf(first, len, "%s", g.gl_pathv[0]);
	globfree(&g);
	return n;
}

static int wait_count(struct seen *s, const int *count, int n, int secs)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&s->lock);
	while (*count < n && rc == 0)
		rc = pthread_cond_timedwait(&s->cond, &s->lock, &until);
	rc = *count >= n ? 0 : ETIMEDOUT;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* --- the caller's side --------------------------------------------------------------- */

static int tcp_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int invite(char *buf, size_t len, const char *proto, const char *scheme, int port)
{
	static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 "
	                          "127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

	return snprintf(buf, len,
	                "INVITE %s:4930555000@127.0.0.1:%d SIP/2.0\r\n"
	                "Via: SIP/2.0/%s 127.0.0.1:5999;branch=z9hG4bK-%s-%ld;rport\r\n"
	                "Max-Forwards: 70\r\nFrom: <sip:4915100000001@127.0.0.1>;tag=a1\r\n"
	                "To: <sip:4930555000@127.0.0.1>\r\nCall-ID: tls-%ld@127.0.0.1\r\n"
	                "CSeq: 1 INVITE\r\nContact: <sip:4915100000001@127.0.0.1:5999>\r\n"
	                "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
	                scheme, port, proto, proto, random(), random(), strlen(sdp), sdp);
}

/* Reads until the buffer holds what; false at a timeout or EOF. */
static bool read_until(SSL *ssl, int fd, const char *what)
{
	char buf[8192];
	size_t n = 0;

	while (n < sizeof(buf) - 1) {
		int got = ssl ? SSL_read(ssl, buf + n, (int)(sizeof(buf) - 1 - n))
		              : (int)read(fd, buf + n, sizeof(buf) - 1 - n);

		if (got <= 0)
			return false;
		n += (size_t)got;
		buf[n] = '\0';
		if (strstr(buf, what))
			return true;
	}
	return false;
}

/* --- tests --------------------------------------------------------------------------- */

static void uri_secure(void **state)
{
	(void)state;
	assert_true(sip_uri_secure("sips:sbc.example.com:5061"));
	assert_true(sip_uri_secure("SIPS:sbc.example.com"));
	assert_true(sip_uri_secure("sip:192.0.2.7:5061;transport=tls"));
	assert_true(sip_uri_secure("sip:192.0.2.7;transport=TLS;lr"));
	assert_false(sip_uri_secure("sip:192.0.2.7:5060"));
	assert_false(sip_uri_secure("sip:192.0.2.7;transport=tcp"));
	assert_false(sip_uri_secure("sip:tls.example.com"));
	assert_false(sip_uri_secure(""));
	assert_false(sip_uri_secure(NULL));
}

static void invite_over_tls_is_secure(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct rig r;
	char msg[2048], dir[128];
	struct stat st;
	SSL *ssl;
	int fd, n;

	(void)state;
	rig_init(&r);
	rig_start(&r);
	/* The certificate directory: private, in tls_dir. */
	assert_int_equal(tls_dirs(&r, dir, sizeof(dir)), 1);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(msg, sizeof(msg), "%s/agent.pem", dir);
	assert_int_equal(stat(msg, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Over TLS, with pinbridge's certificate verified for 127.0.0.1. */
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, r.pki.cert, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	fd = tcp_connect(r.tls_port);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set1_host(ssl, "127.0.0.1");
	assert_int_equal(SSL_connect(ssl), 1);
	n = invite(msg, sizeof(msg), "TLS", "sips", r.tls_port);
	assert_int_equal(SSL_write(ssl, msg, n), n);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 1, 10), 0);
	assert_true(read_until(ssl, fd, "SIP/2.0 404"));
	assert_int_equal(r.seen.nsecure, 1);
	SSL_free(ssl);
	close(fd);

	/* Over TCP: not secure. */
	fd = tcp_connect(r.port);
	n = invite(msg, sizeof(msg), "TCP", "sip", r.port);
	assert_int_equal(write(fd, msg, (size_t)n), n);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 2, 10), 0);
	assert_true(read_until(NULL, fd, "SIP/2.0 404"));
	assert_int_equal(r.seen.nsecure, 1);
	close(fd);

	/* Over TCP with a Via that says TLS: nta drops it, so a Via of TLS
	 * on a request that reached us means TLS. */
	fd = tcp_connect(r.port);
	n = invite(msg, sizeof(msg), "TLS", "sip", r.port);
	assert_int_equal(write(fd, msg, (size_t)n), n);
	assert_int_equal(wait_count(&r.seen, &r.seen.ninvite, 3, 1), ETIMEDOUT);
	close(fd);

	sip_stop(r.sip);
	r.sip = NULL;
	assert_int_equal(tls_dirs(&r, NULL, 0), 0);
	SSL_CTX_free(ctx);
	rig_free(&r);
}

static void failed_handshake_is_counted(void **state)
{
	struct sip_stats st = {0};
	struct rig r;
	char junk[] = "OPTIONS sip:x SIP/2.0\r\n\r\n";
	int fd;

	(void)state;
	rig_init(&r);
	rig_start(&r);
	fd = tcp_connect(r.tls_port);
	for (int i = 0; i < 20; i++)
		if (write(fd, junk, sizeof(junk) - 1) < 0)
			break;
	for (int i = 0; i < 500 && st.tls_handshake_failed == 0; i++) {
		usleep(10000);
		sip_get_stats(r.sip, &st);
	}
	close(fd);
	assert_int_equal(st.tls_handshake_failed, 1);
	assert_int_equal(st.tls_peer_refused, 0);
	rig_free(&r);
}

/* sip_start() refuses with rc, leaving no directory behind. */
static void start_fails(struct rig *r, int rc)
{
	assert_int_equal(sip_start(&r->sip, &r->o, &callbacks, &r->seen), rc);
	assert_null(r->sip);
	assert_int_equal(tls_dirs(r, NULL, 0), 0);
}

static void bad_files_fail_start(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	r.o.tls_certificate = "/nonexistent/cert.pem";
	start_fails(&r, ENOENT);
	r.o.tls_certificate = r.pki.cert;
	r.o.tls_key = r.pki.other_key; /* not the certificate's */
	start_fails(&r, EINVAL);
	r.o.tls_key = r.pki.cert; /* no key in it */
	start_fails(&r, EINVAL);
	r.o.tls_key = r.pki.key;
	r.o.tls_ca = r.pki.key; /* no certificate in it */
	start_fails(&r, EINVAL);
	r.o.tls_ca = NULL;
	start_fails(&r, EINVAL);
	r.o.tls_verify = false; /* then the CAs are not needed */
	rig_start(&r);
	rig_free(&r);
}

static void tls_listener_needs_a_certificate(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r);
	r.o.tls_certificate = r.o.tls_key = NULL;
	start_fails(&r, EINVAL);
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(uri_secure),
	    cmocka_unit_test(invite_over_tls_is_secure),
	    cmocka_unit_test(failed_handshake_is_counted),
	    cmocka_unit_test(bad_files_fail_start),
	    cmocka_unit_test(tls_listener_needs_a_certificate),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
