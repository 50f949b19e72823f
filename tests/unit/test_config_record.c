/* Unit tests for core/config*.c's recording settings: a tenant's record
 * flag, http.public_url (its default from http.listen and --http, the
 * trailing '/', the forms refused, and the length that leaves room for
 * recording URLs), and tenant ids that would name "." or "..". The rest
 * of config: test_config. */
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
#include "store/store.h"

/* The longest path recordings_url() appends: 125 bytes. */
#define LONGEST_PATH                                                                               \
	"/v1/tenants/"                                                                             \
	"tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"                         \
	"/calls/0123456789abcdef0123456789abcdef/recording"

static const char *public_url(const char *value, char *text, size_t n)
{
	snprintf(text, n, "data_dir = \"/tmp\";\nhttp = { public_url = \"%s\"; };\n", value);
	return text;
}

static void defaults(void **state)
{
	struct config *c = NULL;
	char err[256];

	(void)state;
	assert_int_equal(config_load(NULL, NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->http_public_url, "http://127.0.0.1:8080");
	assert_false(config_tenant(c, "demo")->record);
	config_unref(c);
	/* The embedded default spells both out. */
	assert_non_null(strstr(config_default_text, "  record = false;\n"));
	assert_non_null(strstr(config_default_text, "public_url = \"\";"));
}

static void default_follows_listen_and_http_override(void **state)
{
	struct config_overrides ov = {.http_listen = "[::1]:9001"};
	char text[512];
	struct config *c;

	(void)state;
	c = load_text("http = { listen = \"10.1.2.3:8443\"; };\n", NULL);
	assert_string_equal(c->http_public_url, "http://10.1.2.3:8443");
	config_unref(c);
	c = load_text("http = { listen = \"10.1.2.3:8443\"; public_url = \"\"; };\n", &ov);
	assert_string_equal(c->http_public_url, "http://[::1]:9001");
	config_unref(c);
	/* Given, it is not touched by --http. */
	c = load_text(public_url("https://pb.example.com", text, sizeof(text)), &ov);
	assert_string_equal(c->http_public_url, "https://pb.example.com");
	assert_string_equal(c->http_listen, "[::1]:9001");
	config_unref(c);
}

static void trailing_slashes_stripped(void **state)
{
	static const struct {
		const char *given, *kept;
	} cases[] = {
	    {"https://pb.example.com/", "https://pb.example.com"},
	    {"https://pb.example.com/api/pinbridge//", "https://pb.example.com/api/pinbridge"},
	    {"http://[2001:db8::1]:8080/", "http://[2001:db8::1]:8080"},
	    {"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = load_text(public_url(cases[i].given, text, sizeof(text)), NULL);

		assert_string_equal(c->http_public_url, cases[i].kept);
		config_unref(c);
	}
}

static void bad_forms_refused(void **state)
{
	static const char *const bad[] = {"pb.example.com",
	                                  "ftp://pb.example.com",
	                                  "https://",
	                                  "https:///x",
	                                  "http://:8080",
	                                  "http://pb.example.com?x=1",
	                                  "http://pb.example.com/#top",
	                                  "http://pb example.com"};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(public_url(bad[i], text, sizeof(text)), 2, "http.public_url",
		             "expected http:// or https:// and a host");
	expect_error("http = {\n  public_url = 8080;\n};\n", 2, "http.public_url",
	             "expected a string");
}

/* 130 bytes and the longest recording path make 255: a record's 256 with
 * its NUL. One byte more is refused, naming the line. */
static void length_leaves_room_for_recording_urls(void **state)
{
	char url[256], text[512], full[STORE_CALL_URL_MAX];
	struct config *c;
	size_t n;

	(void)state;
	assert_int_equal(strlen(LONGEST_PATH), 125);
	snprintf(url, sizeof(url), "https://");
	n = strlen(url);
	memset(url + n, 'h', 130 - n);
	url[130] = '\0';
	c = load_text(public_url(url, text, sizeof(text)), NULL);
	assert_string_equal(c->http_public_url, url);
	assert_true((size_t)snprintf(full, sizeof(full), "%s%s", c->http_public_url, LONGEST_PATH) <
	            sizeof(full));
	config_unref(c);
	/* Trailing '/'s do not count: they go. */
	strcat(url, "///");
	c = load_text(public_url(url, text, sizeof(text)), NULL);
	assert_int_equal(strlen(c->http_public_url), 130);
	config_unref(c);
	url[130] = 'h';
	url[131] = '\0';
	expect_error(public_url(url, text, sizeof(text)), 2, "http.public_url",
	             "131 bytes is too long");
}

/* The default from a listen address too long to prefix recording URLs:
 * the setting, or the command line, is named. */
static void long_listen_needs_public_url(void **state)
{
	char host[160], text[512], err[512];
	struct config_overrides ov = {.http_listen = host};
	struct config *c;

	(void)state;
	memset(host, 'a', 123 - 5);
	snprintf(host + 123 - 5, sizeof(host) - (123 - 5), ":8080"); /* 123 + "http://" = 130 */
	snprintf(text, sizeof(text), "data_dir = \"/tmp\";\n");
	c = load_text(text, &ov);
	assert_int_equal(strlen(c->http_public_url), 130);
	config_unref(c);

	memmove(host + 1, host, strlen(host) + 1);
	assert_int_equal(load_config_text(text, &ov, &c, err, sizeof(err)), EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, "--http"));
	assert_non_null(strstr(err, "set http.public_url"));

	snprintf(text, sizeof(text), "data_dir = \"/tmp\";\nhttp = {\n  listen = \"%s\";\n};\n",
	         host);
	expect_error(text, 3, "http.listen", "set http.public_url");
	/* With public_url given, the listen address does not matter. */
	snprintf(text, sizeof(text),
	         "http = {\n  listen = \"%s\";\n  public_url = \"https://pb.example.com\";\n};\n",
	         host);
	c = load_text(text, NULL);
	assert_string_equal(c->http_public_url, "https://pb.example.com");
	config_unref(c);
}

#define TENANT(id, extra)                                                                          \
	"tenants = (\n  { id = \"" id "\"; api_key = \"k-" id "\"; api_token = \"t\";\n" extra     \
	"  }\n);\n"

static void tenant_record_flag(void **state)
{
	struct config *c;

	(void)state;
	c = load_text("tenants = (\n"
	              "  { id = \"on\"; api_key = \"k1\"; api_token = \"t\"; record = true; },\n"
	              "  { id = \"off\"; api_key = \"k2\"; api_token = \"t\"; record = false; },\n"
	              "  { id = \"unset\"; api_key = \"k3\"; api_token = \"t\"; }\n"
	              ");\n",
	              NULL);
	assert_true(config_tenant(c, "on")->record);
	assert_false(config_tenant(c, "off")->record);
	assert_false(config_tenant(c, "unset")->record);
	config_unref(c);
	expect_error(TENANT("x", "    record = \"yes\";\n"), 3, "tenants[0].record",
	             "expected true or false");
	expect_error(TENANT("x", "    record = 1;\n"), 3, "tenants[0].record",
	             "expected true or false");
}

static void dot_ids_refused(void **state)
{
	struct config *c;

	(void)state;
	expect_error(TENANT(".", ""), 2, "tenants[0].id", "names a directory");
	expect_error(TENANT("..", ""), 2, "tenants[0].id", "names a directory");
	/* Dots elsewhere stay allowed: "..." and ".a" are plain names. */
	c = load_text("tenants = (\n  { id = \"...\"; api_key = \"k1\"; api_token = \"t\"; },\n"
	              "  { id = \".a\"; api_key = \"k2\"; api_token = \"t\"; },\n"
	              "  { id = \"a.b\"; api_key = \"k3\"; api_token = \"t\"; }\n);\n",
	              NULL);
	assert_non_null(config_tenant(c, "..."));
	assert_non_null(config_tenant(c, ".a"));
	config_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(default_follows_listen_and_http_override),
	    cmocka_unit_test(trailing_slashes_stripped),
	    cmocka_unit_test(bad_forms_refused),
	    cmocka_unit_test(length_leaves_room_for_recording_urls),
	    cmocka_unit_test(long_listen_needs_public_url),
	    cmocka_unit_test(tenant_record_flag),
	    cmocka_unit_test(dot_ids_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
