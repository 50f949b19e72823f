/* Unit tests for core/config*.c: the embedded default, partial files, each
 * kind of error message, pools, overrides, reference counting, timezones and
 * the shipped etc/pinbridge.conf. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config_file.h"
#include "core/config.h"

static void test_embedded_default(void **state)
{
	(void)state;
	struct config *c = NULL;
	char err[256];

	assert_int_equal(config_load(NULL, NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->source, "<embedded>");
	assert_string_equal(c->data_dir, "./var");
	assert_true(c->map_size == 8ULL << 30);
	assert_string_equal(c->http_listen, "127.0.0.1:8080");
	assert_int_equal(c->http_threads, 16);
	assert_string_equal(c->metrics_token, "");
	assert_string_equal(c->log_level, "info");
	assert_int_equal(c->nsip_listen, 2);
	assert_string_equal(c->sip_listen[0], "udp:127.0.0.1:5060");
	assert_string_equal(c->sip_listen[1], "tcp:127.0.0.1:5060");
	assert_string_equal(c->sip_advertise, "");
	assert_string_equal(c->media_ip, "127.0.0.1");
	assert_string_equal(c->media_advertise, "");
	assert_int_equal(c->port_min, 16384);
	assert_int_equal(c->port_max, 32767);
	assert_int_equal(c->port_quarantine_ms, 8000);
	assert_int_equal(c->sweep_interval_ms, 200);

	assert_int_equal(c->ntrunks, 1);
	const struct trunk *tr = &c->trunks[0];
	assert_string_equal(tr->name, "demo");
	assert_int_equal(tr->nallow, 1);
	static const uint8_t lo8[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 0};
	assert_memory_equal(tr->allow[0].addr, lo8, 16);
	assert_int_equal(tr->allow[0].prefix, 104);
	assert_string_equal(tr->outbound, "sip:127.0.0.1:5080");
	assert_string_equal(tr->dial_format, "e164");
	assert_string_equal(tr->latch, "learn");
	assert_false(tr->silent_deny);
	assert_false(tr->do_register);

	assert_int_equal(c->ntenants, 1);
	const struct tenant *t = &c->tenants[0];
	assert_ptr_equal(config_tenant(c, "demo"), t);
	assert_string_equal(t->api_key, "demo-key");
	assert_string_equal(t->api_token, "demo-token");
	static const uint8_t demo_sha[32] = {0x7c, 0x43, 0xef, 0x5a, 0xe2, 0x1d, 0x43, 0xce,
	                                     0x27, 0x43, 0xf7, 0x70, 0xc6, 0x8e, 0x24, 0xde,
	                                     0xf1, 0xa4, 0x3e, 0xe2, 0xf4, 0x16, 0xd2, 0x43,
	                                     0x84, 0x10, 0xc8, 0xaf, 0x7a, 0xf2, 0xff, 0x2c};
	assert_memory_equal(t->token_sha256, demo_sha, 32);
	assert_string_equal(t->country, "91");
	assert_int_equal(t->national_length, 10);
	assert_int_equal(t->ncountries, 1);
	assert_string_equal(t->countries[0], "91");
	assert_string_equal(t->timezone, "UTC");
	assert_string_equal(t->trunk, "demo");
	assert_ptr_equal(t->trunk_ref, tr);
	assert_int_equal(t->npool, 1);
	assert_true(t->pool[0].lo == 916292134400ULL && t->pool[0].hi == 916292134499ULL);
	assert_int_equal(t->pool[0].ndigits, 12);
	assert_true(t->pin.a);
	assert_false(t->pin.b);
	assert_int_equal(t->pin.max_attempts, 3);
	assert_int_equal(t->pin.first_digit_ms, 10000);
	assert_int_equal(t->pin.inter_digit_ms, 5000);
	assert_int_equal(t->pin.lockout_after, 10);
	assert_int_equal(t->pin.lockout_window_ms, 3600000);
	assert_int_equal(t->pin.lockout_for_ms, 900000);
	assert_int_equal(t->pin.cooloff_ms, 0);
	assert_int_equal(t->dealloc.default_ms, 180LL * 86400000);
	assert_int_equal(t->dealloc.max_ms, 180LL * 86400000);
	assert_int_equal(t->dealloc.retention_ms, 30LL * 86400000);
	assert_int_equal(t->ring_timeout_ms, 30000);
	assert_int_equal(t->max_hunt_ms, 60000);
	assert_int_equal(t->max_duration_ms, 4 * 3600000);
	assert_int_equal(t->rtp_timeout_ms, 60000);
	assert_int_equal(t->calls_retention_ms, 90LL * 86400000);
	assert_string_equal(t->recordings_dir, "./var/recordings");
	assert_int_equal(t->recordings_retention_ms, 90LL * 86400000);
	assert_int_equal(t->bulk_limit, 100);
	assert_string_equal(t->webhooks.secret, "change-me");
	assert_int_equal(t->webhooks.backoff_ms, 1000);
	assert_int_equal(t->webhooks.max_age_ms, 24 * 3600000);
	assert_int_equal(t->webhooks.concurrency, 8);
	assert_int_equal(t->webhooks.retention_ms, 7LL * 86400000);
	assert_string_equal(t->webhooks.call_completed, "");
	assert_string_equal(t->webhooks.deallocation, "");
	assert_string_equal(t->webhooks.verification_success, "");
	assert_string_equal(t->webhooks.verification_failure, "");
	config_unref(c);
}

static void test_empty_file_is_default(void **state)
{
	(void)state;
	struct config *c = load_text("# nothing here\n", NULL);
	assert_string_equal(c->source, tmp_path);
	assert_int_equal(c->http_threads, 16);
	assert_int_equal(c->ntenants, 1);
	assert_string_equal(c->tenants[0].id, "demo");
	assert_non_null(config_vn_owner(c, "+916292134450"));
	config_unref(c);
}

static void test_subset_file(void **state)
{
	(void)state;
	struct config *c =
	    load_text("data_dir = \"/tmp/pb\";\n"
	              "http = { threads = 4; metrics_token = \"m\"; };\n"
	              "media = { port_min = 20000; port_max = 20100; };\n"
	              "sweep_interval = \"50ms\";\n"
	              "tenants = ( { id = \"acme\"; api_key = \"k\";\n"
	              "  api_token_sha256 = "
	              "\"1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0\";\n"
	              "  country = \"1\"; vns = [\"+14155550100-+14155550199\", "
	              "\"4155550300\"];\n"
	              "  pin = { b = true; inter_digit = \"0.5s\"; };\n"
	              "  webhooks = { call_completed = \"http://127.0.0.1:9/x\"; "
	              "secret = \"s\"; };\n"
	              "  deallocation = { default = \"1h\"; };\n"
	              "  bulk_limit = 5; timezone = \"+05:30\"; } );\n",
	              NULL);
	assert_string_equal(c->data_dir, "/tmp/pb");
	assert_int_equal(c->http_threads, 4);
	assert_string_equal(c->metrics_token, "m");
	assert_string_equal(c->http_listen, "127.0.0.1:8080");
	assert_int_equal(c->port_min, 20000);
	assert_int_equal(c->port_max, 20100);
	assert_int_equal(c->sweep_interval_ms, 50);
	assert_int_equal(c->ntrunks, 1); /* the default trunk */
	const struct tenant *t = config_tenant(c, "acme");
	assert_non_null(t);
	assert_null(config_tenant(c, "demo"));
	assert_ptr_equal(t->trunk_ref, &c->trunks[0]);
	assert_string_equal(t->trunk, "demo");
	assert_string_equal(t->api_token, "");
	assert_int_equal(t->token_sha256[0], 0x1e);
	assert_int_equal(t->token_sha256[31], 0xa0);
	assert_int_equal(t->ncountries, 1);
	assert_string_equal(t->countries[0], "1"); /* defaults to the tenant's country */
	assert_true(t->pin.a && t->pin.b);
	assert_int_equal(t->pin.inter_digit_ms, 500);
	assert_int_equal(t->pin.first_digit_ms, 10000);
	assert_int_equal(t->dealloc.default_ms, 3600000);
	assert_int_equal(t->dealloc.max_ms, 180LL * 86400000);
	assert_int_equal(t->bulk_limit, 5);
	assert_string_equal(t->webhooks.call_completed, "http://127.0.0.1:9/x");
	assert_string_equal(t->recordings_dir, "/tmp/pb/recordings");
	assert_int_equal(config_pool_size(t), 101);
	char vn[17];
	config_pool_vn(t, 0, vn);
	assert_string_equal(vn, "+14155550100");
	config_pool_vn(t, 99, vn);
	assert_string_equal(vn, "+14155550199");
	config_pool_vn(t, 100, vn);
	assert_string_equal(vn, "+14155550300");
	config_pool_vn(t, 101, vn);
	assert_string_equal(vn, "");
	assert_int_equal(config_tz_offset(t, 0), 19800);
	config_unref(c);
}

static void test_sizes_and_addresses(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t bytes;
	} sizes[] = {{"\"8G\"", 8ULL << 30}, {"\"512M\"", 512ULL << 20}, {"\"64K\"", 64ULL << 10},
	             {"\"1T\"", 1ULL << 40}, {"1048576", 1048576},       {"\"65536\"", 65536}};
	char text[256];
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(text, sizeof(text), "store = { map_size = %s; };\n", sizes[i].text);
		struct config *c = load_text(text, NULL);
		assert_true(c->map_size == sizes[i].bytes);
		config_unref(c);
	}
	expect_error("store = { map_size = \"0\"; };\n", 1, "store.map_size", NULL);
	expect_error("store = { map_size = \"8GB\"; };\n", 1, "store.map_size", NULL);
	expect_error("store = { map_size = \"99999999999T\"; };\n", 1, "store.map_size",
	             "too large");

	struct config *c =
	    load_text("media = { ip = \"::1\"; advertise = \"203.0.113.7\"; };\n"
	              "http = { listen = \"[::1]:8080\"; };\n"
	              "sip = { listen = [\"tls:[::1]:5061\", \"udp:sip.example.com:5060\"]; "
	              "advertise = \"203.0.113.7\"; tls = { certificate = \"c.pem\"; key = "
	              "\"k.pem\"; }; };\n",
	              NULL);
	assert_string_equal(c->media_ip, "::1");
	assert_string_equal(c->media_advertise, "203.0.113.7");
	assert_string_equal(c->sip_listen[0], "tls:[::1]:5061");
	assert_int_equal(c->nsip_listen, 2);
	config_unref(c);
}

static void test_syntax_and_io_errors(void **state)
{
	(void)state;
	char err[512];
	struct config *c = NULL;

	expect_error("http = { threads = 4; };\nsip = { listen = [ };\n", 2, "syntax", NULL);
	assert_int_equal(config_load("/nonexistent/pinbridge.conf", NULL, &c, err, sizeof(err)),
	                 ENOENT);
	assert_null(c);
	assert_non_null(strstr(err, "/nonexistent/pinbridge.conf"));
	/* libconfig's scanner exit()s on a read error: a directory must not get there */
	assert_int_equal(config_load("/tmp", NULL, &c, err, sizeof(err)), EISDIR);
	assert_null(c);
}

static void test_type_and_range_errors(void **state)
{
	(void)state;
	expect_error("http = { threads = \"4\"; };\n", 1, "http.threads", "integer");
	expect_error("\nhttp = { threads = 0; };\n", 2, "http.threads", "1..1024");
	expect_error("http = { threads = 2000; };\n", 1, "http.threads", NULL);
	expect_error("http = { listen = \"127.0.0.1:0\"; };\n", 1, "http.listen", "port");
	expect_error("http = { listen = \"127.0.0.1\"; };\n", 1, "http.listen", NULL);
	expect_error("http = \"x\";\n", 1, "http", "group");
	expect_error("media = {\n port_min = 70000; };\n", 2, "media.port_min", "1..65535");
	expect_error("media = { port_min = 30000;\n port_max = 20000; };\n", 2, "media.port_max",
	             "below");
	expect_error("media = { port_min = 40000; };\n", 1, "media.port_min", "below");
	expect_error("media = { ip = \"localhost\"; };\n", 1, "media.ip", "address");
	expect_error("media = { port_quarantine = 8; };\n", 1, "media.port_quarantine", "duration");
	expect_error("media = { port_quarantine = \"8 s\"; };\n", 1, "media.port_quarantine",
	             "\"8 s\"");
	expect_error("sweep_interval = \"0s\";\n", 1, "sweep_interval", "greater than 0");
	expect_error("log_level = \"loud\";\n", 1, "log_level", NULL);
	expect_error("data_dir = \"\";\n", 1, "data_dir", NULL);
	expect_error("store = { map_size = \"8X\"; };\n", 1, "store.map_size", NULL);
	expect_error("sip = { listen = [\"udp:127.0.0.1:5060\",\n \"sctp:127.0.0.1:5060\"]; };\n",
	             2, "sip.listen[1]", "udp:");
	expect_error("sip = { listen = []; };\n", 1, "sip.listen", NULL);
	expect_error("sip = { listen = [\"tcp:1.2.3.4:5\", \"tcp:1.2.3.4:5\"]; };\n", 1,
	             "sip.listen[1]", "twice");
}

static const char two_trunks[] =
    "trunks = ( { name = \"a\"; allow = [\"10.0.0.0/8\", \"2001:db8::/32\"]; },\n"
    "           { name = \"b\"; outbound = \"sip:gw.example.com\"; } );\n";

static void test_trunk_errors(void **state)
{
	(void)state;
	expect_error("trunks = ( { name = \"a\";\n allow = [\"10.0.0.0/33\"]; } );\n", 2,
	             "trunks[0].allow[0]", "prefix");
	expect_error("trunks = ( { name = \"a\"; allow = [\"10.0.0.300\"]; } );\n", 1,
	             "trunks[0].allow[0]", NULL);
	expect_error("trunks = ( { name = \"a\"; },\n { name = \"a\"; } );\n", 2, "trunks[1].name",
	             "twice");
	expect_error("trunks = ( { name = \"a\"; latch = \"loose\"; } );\n", 1, "trunks[0].latch",
	             NULL);
	expect_error("trunks = ( { name = \"a\"; outbound = \"http://x\"; } );\n", 1,
	             "trunks[0].outbound", NULL);
	expect_error("trunks = ( { name = \"a\"; register = true; } );\n", 1, "trunks[0].register",
	             NULL);
	expect_error("trunks = ( {\n allow = []; } );\n", 1, "trunks[0].name", "needs a name");

	/* the built-in demo tenant under a file's single trunk uses that trunk */
	struct config *c = load_text("trunks = ( { name = \"gw\"; } );\n", NULL);
	assert_ptr_equal(c->tenants[0].trunk_ref, &c->trunks[0]);
	assert_string_equal(c->tenants[0].trunk, "gw");
	config_unref(c);

	char text[1024];
	snprintf(text, sizeof(text), "%s%s", two_trunks,
	         "tenants = ( { id = \"a\"; api_key = \"k\"; api_token = \"x\"; trunk = \"b\"; } "
	         ");\n");
	c = load_text(text, NULL);
	assert_ptr_equal(c->tenants[0].trunk_ref, &c->trunks[1]);
	assert_int_equal(c->ntrunks, 2);
	assert_int_equal(c->trunks[0].nallow, 2);
	assert_int_equal(c->trunks[0].allow[0].prefix, 104);
	assert_int_equal(c->trunks[0].allow[1].prefix, 32);
	assert_int_equal(c->trunks[0].allow[1].addr[0], 0x20);
	config_unref(c);
}

static void test_tenant_errors(void **state)
{
	(void)state;
	char text[2048];
#define T(body) "tenants = ( {\n id = \"t1\"; api_key = \"k1\"; api_token = \"x\";\n" body " } );\n"
	expect_error(T(" national_length = 3;"), 3, "tenants[0].national_length", "4..14");
	expect_error(T(" pin = { max_attempts = 0; };"), 3, "tenants[0].pin.max_attempts", NULL);
	expect_error(T(" deallocation = { default = \"200d\"; };"), 3,
	             "tenants[0].deallocation.default", "max");
	expect_error(T(" ring_timeout = \"30\";"), 3, "tenants[0].ring_timeout", "\"30\"");
	expect_error(T(" timezone = \"Mars/Olympus\";"), 3, "tenants[0].timezone", "unknown");
	expect_error(T(" timezone = \"+5:30\";"), 3, "tenants[0].timezone", NULL);
	expect_error(T(" timezone = \"../etc/passwd\";"), 3, "tenants[0].timezone", NULL);
	expect_error(T(" webhooks = { deallocation = \"ftp://x\"; };"), 3,
	             "tenants[0].webhooks.deallocation", NULL);
	expect_error(T(" country = \"+91\";"), 3, "tenants[0].country", NULL);
	expect_error(T(" countries = [\"91\", \"x\"];"), 3, "tenants[0].countries[1]", NULL);
	expect_error(T(" vns = [\"+916292134400-+91629213449\"];"), 3, "tenants[0].vns[0]",
	             "same number of digits");
	expect_error(T(" vns = [\"+916292134499-+916292134400\"];"), 3, "tenants[0].vns[0]",
	             "above");
	expect_error(T(" vns = [\"VN-1\"];"), 3, "tenants[0].vns[0]", NULL);
	expect_error(T(" trunk = \"nope\";"), 3, "tenants[0].trunk", "nope");
	expect_error("tenants = ( {\n id = \"bad id\"; api_key = \"k\"; api_token = \"x\"; } );\n",
	             2, "tenants[0].id", NULL);
	expect_error("tenants = ( {\n id = \"a\"; api_key = \"k\"; } );\n", 1,
	             "tenants[0].api_token", NULL);
	expect_error(
	    "tenants = ( {\n id = \"a\"; api_key = \"k\";\n api_token_sha256 = \"abc\"; } );\n", 3,
	    "tenants[0].api_token_sha256", "64 hex");
	expect_error("tenants = ( {\n id = \"a\";\n api_key = \"k:1\"; api_token = \"x\"; } );\n",
	             3, "tenants[0].api_key", NULL);
	expect_error("tenants = ( { id = \"a\"; api_key = \"k\"; api_token = \"x\"; },\n"
	             "  { id = \"a\"; api_key = \"k2\"; api_token = \"x\"; } );\n",
	             2, "tenants[1].id", "twice");
	expect_error("tenants = ( { id = \"a\"; api_key = \"k\"; api_token = \"x\"; },\n"
	             "  { id = \"b\";\n api_key = \"k\"; api_token = \"x\"; } );\n",
	             3, "tenants[1].api_key", "\"a\" and \"b\"");
	/* two trunks and a tenant that names none: ambiguous */
	snprintf(text, sizeof(text), "%s%s", two_trunks,
	         "tenants = ( { id = \"a\"; api_key = \"k\"; api_token = \"x\"; } );\n");
	expect_error(text, 3, "tenants[0].trunk", "2 trunks");
	snprintf(text, sizeof(text), "%s%s", "trunks = ();\n",
	         "tenants = ( { id = \"a\"; api_key = \"k\"; api_token = \"x\"; } );\n");
	expect_error(text, 2, "tenants[0].trunk", "none");
#undef T
}

static void test_pools_overlap(void **state)
{
	(void)state;
	expect_error("tenants = (\n"
	             " { id = \"alpha\"; api_key = \"ka\"; api_token = \"x\";\n"
	             "   vns = [\"+916292134400-+916292134499\"]; },\n"
	             " { id = \"beta\"; api_key = \"kb\"; api_token = \"x\";\n"
	             "   vns = [\"+916292134600\",\n"
	             "          \"06292134450 - 06292134460\"]; } );\n",
	             6, "tenants[1].vns[1]", "tenant \"beta\" overlaps pool of tenant \"alpha\"");
	/* the same, other order in the file: still the later entry is blamed */
	expect_error("tenants = (\n"
	             " { id = \"alpha\"; api_key = \"ka\"; api_token = \"x\";\n"
	             "   vns = [\"+916292134450\"]; },\n"
	             " { id = \"beta\"; api_key = \"kb\"; api_token = \"x\";\n"
	             "   vns = [\"+916292134400-+916292134499\"]; } );\n",
	             5, "tenants[1].vns[0]", "+916292134450");
	expect_error("tenants = ( { id = \"alpha\"; api_key = \"ka\"; api_token = \"x\";\n"
	             "   vns = [\"+916292134400-+916292134499\",\n \"+916292134499\"]; } );\n",
	             3, "tenants[0].vns[1]", "overlaps vns[0]");
}

static void test_vn_lookups(void **state)
{
	(void)state;
	struct config *c = load_text(
	    "tenants = (\n"
	    " { id = \"alpha\"; api_key = \"ka\"; api_token = \"x\";\n"
	    "   vns = [\"+916292134400-+916292134499\", \"+14155550100\"]; },\n"
	    " { id = \"beta\"; api_key = \"kb\"; api_token = \"x\"; country = \"44\";\n"
	    "   vns = [\"020 7946 0000-020 7946 0099\", \"+916292134500-+916292134599\"]; } );\n",
	    NULL);
	const struct tenant *a = config_tenant(c, "alpha"), *b = config_tenant(c, "beta");
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_equal(config_vn_owner(c, "+916292134400"), a);
	assert_ptr_equal(config_vn_owner(c, "+916292134499"), a);
	assert_ptr_equal(config_vn_owner(c, "+916292134500"), b);
	assert_ptr_equal(config_vn_owner(c, "+14155550100"), a);
	assert_ptr_equal(config_vn_owner(c, "+442079460042"), b);
	assert_null(config_vn_owner(c, "+916292134399"));
	assert_null(config_vn_owner(c, "+916292134600"));
	assert_null(config_vn_owner(c, "+14155550101"));
	assert_null(config_vn_owner(c, "+1"));
	assert_null(config_vn_owner(c, "916292134450"));
	assert_null(config_vn_owner(c, "+9162921344500")); /* one digit more */
	assert_true(config_tenant_has_vn(a, "+916292134450"));
	assert_false(config_tenant_has_vn(b, "+916292134450"));
	assert_true(config_tenant_has_vn(b, "+442079460000"));
	assert_int_equal(config_pool_size(a), 101);
	assert_int_equal(config_pool_size(b), 200);
	config_unref(c);
}

struct removed {
	char vns[300][17];
	int n;
	int stop_after;
};

static int collect(void *arg, const char *vn)
{
	struct removed *r = arg;
	snprintf(r->vns[r->n++], 17, "%s", vn);
	return r->n == r->stop_after ? 42 : 0;
}

static void test_removed_vns(void **state)
{
	(void)state;
	struct config *old =
	    load_text("tenants = (\n"
	              " { id = \"alpha\"; api_key = \"ka\"; api_token = \"x\";\n"
	              "   vns = [\"+916292134400-+916292134409\", \"+14155550100\"]; },\n"
	              " { id = \"gone\"; api_key = \"kb\"; api_token = \"x\"; vns = "
	              "[\"+916292134600\"]; } );\n",
	              NULL);
	struct config *new =
	    load_text("tenants = (\n"
	              " { id = \"alpha\"; api_key = \"ka\"; api_token = \"x\";\n"
	              "   vns = [\"+916292134403\", \"+916292134405-+916292134406\",\n"
	              "          \"+916292134409-+916292134420\"]; } );\n",
	              NULL);
	struct removed *r = calloc(1, sizeof(*r));
	assert_int_equal(config_removed_vns(old, new, collect, r), 0);
	const char *want[] = {"+916292134400", "+916292134401", "+916292134402", "+916292134404",
	                      "+916292134407", "+916292134408", "+14155550100",  "+916292134600"};
	assert_int_equal(r->n, 8);
	for (int i = 0; i < 8; i++)
		assert_string_equal(r->vns[i], want[i]);
	memset(r, 0, sizeof(*r));
	assert_int_equal(config_removed_vns(old, old, collect, r), 0);
	assert_int_equal(r->n, 0);
	r->stop_after = 2;
	assert_int_equal(config_removed_vns(old, new, collect, r), 42);
	assert_int_equal(r->n, 2);
	free(r);
	config_unref(old);
	config_unref(new);
}

static void test_overrides(void **state)
{
	(void)state;
	struct config_overrides ov = {.data_dir = "/tmp/pbdata",
	                              .http_listen = "127.0.0.1:18080",
	                              .sip_listen = "127.0.0.2:15060",
	                              .port_min = 40000,
	                              .port_max = 40100};
	struct config *c = load_text("media = { port_min = 1000; port_max = 2000; };\n", &ov);
	assert_string_equal(c->data_dir, "/tmp/pbdata");
	assert_string_equal(c->http_listen, "127.0.0.1:18080");
	assert_int_equal(c->nsip_listen, 2);
	assert_string_equal(c->sip_listen[0], "udp:127.0.0.2:15060");
	assert_string_equal(c->sip_listen[1], "tcp:127.0.0.2:15060");
	assert_int_equal(c->port_min, 40000);
	assert_int_equal(c->port_max, 40100);
	assert_string_equal(c->tenants[0].recordings_dir, "/tmp/pbdata/recordings");
	config_unref(c);

	char err[256];
	struct config_overrides bad = {.port_min = 5000, .port_max = 4000};
	c = NULL;
	assert_int_equal(config_load(NULL, &bad, &c, err, sizeof(err)), EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, "--rtp-ports"));
	struct config_overrides bad_sip = {.sip_listen = "127.0.0.1"};
	assert_int_equal(config_load(NULL, &bad_sip, &c, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "--sip"));
	struct config_overrides bad_http = {.http_listen = "[::1:80"};
	assert_int_equal(config_load(NULL, &bad_http, &c, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "--http"));
	struct config_overrides v6 = {.http_listen = "[::1]:8081"};
	assert_int_equal(config_load(NULL, &v6, &c, err, sizeof(err)), 0);
	assert_string_equal(c->http_listen, "[::1]:8081");
	config_unref(c);
}

static void test_refcount_and_install(void **state)
{
	(void)state;
	struct config *a = NULL, *b = NULL;
	char err[256];

	assert_null(config_current());
	assert_int_equal(config_load(NULL, NULL, &a, err, sizeof(err)), 0);
	assert_int_equal(config_load(NULL, NULL, &b, err, sizeof(err)), 0);
	assert_int_equal(atomic_load(&a->refs), 1);
	config_install(a); /* takes our reference */
	struct config *cur = config_current();
	assert_ptr_equal(cur, a);
	assert_int_equal(atomic_load(&a->refs), 2);
	config_install(b); /* a lives on through cur */
	assert_int_equal(atomic_load(&a->refs), 1);
	assert_string_equal(cur->tenants[0].id, "demo");
	config_unref(cur); /* frees a (ASan checks) */
	struct config *cur2 = config_current();
	assert_ptr_equal(cur2, b);
	assert_ptr_equal(config_ref(cur2), b);
	assert_int_equal(atomic_load(&b->refs), 3);
	config_unref(cur2);
	config_unref(cur2);
	config_install(NULL);
	assert_null(config_current());
}

static const struct tenant *tz_tenant(struct config **c, const char *tz)
{
	char text[512];
	snprintf(text, sizeof(text),
	         "tenants = ( { id = \"t\"; api_key = \"k\"; api_token = \"x\"; timezone = \"%s\"; "
	         "} );\n",
	         tz);
	*c = load_text(text, NULL);
	return &(*c)->tenants[0];
}

static void test_timezones(void **state)
{
	(void)state;
	struct config *c;
	const struct tenant *t;

	t = tz_tenant(&c, "UTC");
	assert_int_equal(config_tz_offset(t, 1719835200), 0);
	config_unref(c);
	t = tz_tenant(&c, "Z");
	assert_int_equal(config_tz_offset(t, 1719835200), 0);
	config_unref(c);
	t = tz_tenant(&c, "+05:30");
	assert_int_equal(config_tz_offset(t, 1719835200), 19800);
	config_unref(c);
	t = tz_tenant(&c, "-03:30");
	assert_int_equal(config_tz_offset(t, 1719835200), -12600);
	config_unref(c);
	t = tz_tenant(&c, "Asia/Kolkata");
	assert_int_equal(config_tz_offset(t, 1719835200), 19800);
	assert_int_equal(config_tz_offset(t, 1705320000), 19800);
	config_unref(c);

	t = tz_tenant(&c, "America/New_York");
	assert_int_equal(config_tz_offset(t, 1719835200), -4 * 3600);     /* 2024-07-01: EDT */
	assert_int_equal(config_tz_offset(t, 1705320000), -5 * 3600);     /* 2024-01-15: EST */
	assert_int_equal(config_tz_offset(t, 1710054000 - 1), -5 * 3600); /* 2024-03-10 07:00Z */
	assert_int_equal(config_tz_offset(t, 1710054000), -4 * 3600);
	/* 2100, past the file's transitions: the footer's POSIX rule */
	assert_int_equal(config_tz_offset(t, 4108690800 - 1), -5 * 3600);
	assert_int_equal(config_tz_offset(t, 4108690800), -4 * 3600);
	assert_int_equal(config_tz_offset(t, 4129250400 - 1), -4 * 3600);
	assert_int_equal(config_tz_offset(t, 4129250400), -5 * 3600);
	config_unref(c);

	t = tz_tenant(&c, "Australia/Sydney"); /* southern: DST spans the new year */
	assert_int_equal(config_tz_offset(t, 1705320000), 11 * 3600);
	assert_int_equal(config_tz_offset(t, 1719835200), 10 * 3600);
	assert_int_equal(config_tz_offset(t, 4110451200 - 1), 11 * 3600);
	assert_int_equal(config_tz_offset(t, 4110451200), 10 * 3600);
	assert_int_equal(config_tz_offset(t, 4126176000), 11 * 3600);
	config_unref(c);
}

/* etc/pinbridge.conf from the source tree: meson test sets MESON_SOURCE_ROOT;
 * else look relative to this binary (build/tests/unit) or the working dir. */
static bool find_sample(char *out, size_t len)
{
	const char *root = getenv("MESON_SOURCE_ROOT");
	char exe[PATH_MAX] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
	}
	const char *cands[][2] = {{root, "/etc/pinbridge.conf"},
	                          {exe, "/../../etc/pinbridge.conf"},
	                          {exe, "/../../../etc/pinbridge.conf"},
	                          {".", "/etc/pinbridge.conf"},
	                          {"..", "/etc/pinbridge.conf"}};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (!cands[i][0] || !*cands[i][0])
			continue;
		snprintf(out, len, "%s%s", cands[i][0], cands[i][1]);
		if (access(out, R_OK) == 0)
			return true;
	}
	return false;
}

static void test_sample_config(void **state)
{
	(void)state;
	char path[PATH_MAX + 64], err[512];
	struct config *c = NULL;

	if (!find_sample(path, sizeof(path)))
		fail_msg("etc/pinbridge.conf not found (set MESON_SOURCE_ROOT)");
	int rc = config_load(path, NULL, &c, err, sizeof(err));
	if (rc)
		fail_msg("%s", err);
	assert_true(c->ntenants >= 1);
	assert_true(c->ntrunks >= 1);
	config_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_embedded_default),
	    cmocka_unit_test(test_empty_file_is_default),
	    cmocka_unit_test(test_subset_file),
	    cmocka_unit_test(test_sizes_and_addresses),
	    cmocka_unit_test(test_syntax_and_io_errors),
	    cmocka_unit_test(test_type_and_range_errors),
	    cmocka_unit_test(test_trunk_errors),
	    cmocka_unit_test(test_tenant_errors),
	    cmocka_unit_test(test_pools_overlap),
	    cmocka_unit_test(test_vn_lookups),
	    cmocka_unit_test(test_removed_vns),
	    cmocka_unit_test(test_overrides),
	    cmocka_unit_test(test_refcount_and_install),
	    cmocka_unit_test(test_timezones),
	    cmocka_unit_test(test_sample_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
