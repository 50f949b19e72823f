/* Unit tests for core/config*.c's SIP keys: sip.session_expires and
 * sip.min_se (defaults, durations, sub-second values, 0, and the errors),
 * sip.tls and the trunks' SRTP and TLS settings. The rest of config:
 * test_config. */
#include <errno.h>
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

static void defaults_are_1800s_and_90s(void **state)
{
	struct config *c = NULL;
	char err[256];

	(void)state;
	assert_int_equal(config_load(NULL, NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c->sip_session_expires_ms, 1800000);
	assert_int_equal(c->sip_min_se_ms, 90000);
	config_unref(c);
	/* A file without them, or with a sip group lacking them, too. */
	assert_int_equal(
	    load_config_text("sip = { drain = \"1s\"; };\n", NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c->sip_session_expires_ms, 1800000);
	assert_int_equal(c->sip_min_se_ms, 90000);
	config_unref(c);
}

static void durations_down_to_sub_second(void **state)
{
	struct config *c;
	char err[256];

	(void)state;
	assert_int_equal(
	    load_config_text("sip = { session_expires = \"10m\"; min_se = \"2m\"; };\n", NULL, &c,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(c->sip_session_expires_ms, 600000);
	assert_int_equal(c->sip_min_se_ms, 120000);
	config_unref(c);
	/* Tests go below RFC 4028's 90 s floor, as an explicit value only. */
	assert_int_equal(
	    load_config_text("sip = { session_expires = \"2s\"; min_se = \"500ms\"; };\n", NULL, &c,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(c->sip_session_expires_ms, 2000);
	assert_int_equal(c->sip_min_se_ms, 500);
	config_unref(c);
}

static void zero_session_expires_asks_for_none(void **state)
{
	struct config *c;
	char err[256];

	(void)state;
	/* 0 is allowed whatever min_se is: no timer of our own. */
	assert_int_equal(
	    load_config_text("sip = { session_expires = \"0s\"; };\n", NULL, &c, err, sizeof(err)),
	    0);
	assert_int_equal(c->sip_session_expires_ms, 0);
	assert_int_equal(c->sip_min_se_ms, 90000);
	config_unref(c);
}

static void bad_values_name_the_setting(void **state)
{
	(void)state;
	expect_error("sip = {\n session_expires = 1800; };\n", 2, "sip.session_expires",
	             "duration string");
	expect_error("sip = {\n min_se = \"ninety\"; };\n", 2, "sip.min_se", "not a duration");
	expect_error("sip = {\n min_se = \"0s\"; };\n", 2, "sip.min_se", "greater than 0");
	/* An interval we would ask for below the shortest we accept. */
	expect_error("sip = { min_se = \"90s\";\n session_expires = \"60s\"; };\n", 2,
	             "sip.session_expires", "at least sip.min_se");
	/* Only min_se given, above the default session_expires: it is named. */
	expect_error("sip = {\n min_se = \"1h\"; };\n", 2, "sip.min_se", "at least sip.min_se");
}

static void tls_and_srtp_defaults(void **state)
{
	struct config *c = NULL;
	char err[256];

	(void)state;
	assert_int_equal(config_load(NULL, NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->tls_certificate, "");
	assert_string_equal(c->tls_ca, "/etc/ssl/certs/ca-certificates.crt");
	assert_true(c->tls_verify);
	assert_int_equal(c->trunks[0].srtp, TRUNK_SRTP_OFF);
	assert_false(c->trunks[0].srtp_plain_transport);
	assert_string_equal(c->trunks[0].tls_subject, "");
	config_unref(c);
}

static void tls_and_srtp_set(void **state)
{
	struct config *c = NULL;
	char err[256];

	(void)state;
	assert_int_equal(
	    load_config_text(
	        "sip = { listen = [\"tls:127.0.0.1:5061\"];\n"
	        "  tls = { certificate = \"/x/c.pem\"; key = \"/x/k.pem\"; ca = \"/x/ca.pem\";\n"
	        "          verify = false; }; };\n"
	        "trunks = ( { name = \"a\"; srtp = \"mandatory\"; tls_subject = \"sbc.example\"; "
	        "},\n"
	        "           { name = \"b\"; srtp = \"optional\"; srtp_plain_transport = true; } "
	        ");\n"
	        "tenants = ( { id = \"t\"; api_key = \"k\"; api_token = \"x\"; trunk = \"a\"; } "
	        ");\n",
	        NULL, &c, err, sizeof(err)),
	    0);
	assert_string_equal(c->tls_certificate, "/x/c.pem");
	assert_string_equal(c->tls_key, "/x/k.pem");
	assert_string_equal(c->tls_ca, "/x/ca.pem");
	assert_false(c->tls_verify);
	assert_int_equal(c->trunks[0].srtp, TRUNK_SRTP_MANDATORY);
	assert_string_equal(c->trunks[0].tls_subject, "sbc.example");
	assert_int_equal(c->trunks[1].srtp, TRUNK_SRTP_OPTIONAL);
	assert_true(c->trunks[1].srtp_plain_transport);
	config_unref(c);
}

static void tls_and_srtp_errors(void **state)
{
	(void)state;
	expect_error("sip = { listen = [\"tls:127.0.0.1:5061\"]; };\n", 1, "sip.listen[0]",
	             "needs sip.tls.certificate");
	expect_error("sip = { tls = { certificate = \"c.pem\"; }; };\n", 1, "sip.tls.key",
	             "go together");
	expect_error("sip = {\n tls = { verify = true; ca = \"\"; }; };\n", 2, "sip.tls.ca",
	             "CA bundle");
	expect_error("trunks = ( { name = \"a\";\n srtp = \"always\"; } );\n", 2, "trunks[0].srtp",
	             "off, optional, mandatory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_are_1800s_and_90s),
	    cmocka_unit_test(durations_down_to_sub_second),
	    cmocka_unit_test(zero_session_expires_asks_for_none),
	    cmocka_unit_test(bad_values_name_the_setting),
	    cmocka_unit_test(tls_and_srtp_defaults),
	    cmocka_unit_test(tls_and_srtp_set),
	    cmocka_unit_test(tls_and_srtp_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
