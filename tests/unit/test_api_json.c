/* test_api_json: request bodies and Authorization headers as api/ maps them.
 * A client sees these as the 400 code 5 it gets (or not) for its body. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "api/api_int.h"

static void parse(const char *body, struct alloc_req *req)
{
	api_parse_alloc_req(body, strlen(body), req);
}

static void expect_bad(const char *body, const char *msg_part)
{
	struct alloc_req req;

	parse(body, &req);
	if (req.parse_code != AC_BAD_PARAM)
		fail_msg("body %s: expected code 5, got %d", body, req.parse_code);
	if (msg_part && !strstr(req.parse_msg, msg_part))
		fail_msg("body %s: message \"%s\" lacks \"%s\"", body, req.parse_msg, msg_part);
}

static const char reference_body[] = "{\n\"transaction_id\": \"random_string\",\n"
                                     "    \"a\": {\n"
                                     "        \"vns\": [\"6292134471\", \"6292134464\"],\n"
                                     "        \"numbers\": [\"7987686144\"],\n"
                                     "        \"pin\": \"123\",\n"
                                     "        \"pin_length\": 2\n"
                                     "    },\n"
                                     "    \"b\": {\n"
                                     "        \"vns\": [\"6292134465\", \"6292134464\"],\n"
                                     "        \"numbers\": [\"9956555625\"],\n"
                                     "        \"pin\": \"234\",\n"
                                     "        \"pin_length\": \"3\"\n"
                                     "    },\n"
                                     "    \"usage\": \"twoway\",\n"
                                     "    \"deallocation_policy\": {\"duration\": \"1200s\"}\n"
                                     "}";

static void test_reference_create_body(void **state)
{
	struct alloc_req req;

	(void)state;
	parse(reference_body, &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_true(req.has_txn_id);
	assert_string_equal(req.txn_id, "random_string");
	assert_true(req.side[STORE_A].has_vns);
	assert_int_equal(req.side[STORE_A].nvns, 2);
	assert_string_equal(req.side[STORE_A].vns[0], "6292134471");
	assert_string_equal(req.side[STORE_A].vns[1], "6292134464");
	assert_true(req.side[STORE_A].has_numbers);
	assert_int_equal(req.side[STORE_A].nnumbers, 1);
	assert_string_equal(req.side[STORE_A].numbers[0], "7987686144");
	assert_true(req.side[STORE_A].has_pin);
	assert_string_equal(req.side[STORE_A].pin, "123");
	assert_true(req.side[STORE_A].has_pin_length);
	assert_int_equal(req.side[STORE_A].pin_length, 2);
	assert_string_equal(req.side[STORE_B].vns[0], "6292134465");
	assert_string_equal(req.side[STORE_B].numbers[0], "9956555625");
	assert_string_equal(req.side[STORE_B].pin, "234");
	assert_int_equal(req.side[STORE_B].pin_length, 3);
	assert_true(req.has_usage);
	assert_string_equal(req.usage, "twoway");
	assert_true(req.has_duration);
	assert_string_equal(req.duration, "1200s");
	assert_false(req.has_id);
}

static void test_absent_fields_stay_absent(void **state)
{
	struct alloc_req req;

	(void)state;
	parse("{\"b\":{\"numbers\":[]}}", &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_false(req.has_txn_id);
	assert_false(req.side[STORE_A].has_numbers);
	assert_false(req.side[STORE_A].has_vns);
	assert_true(req.side[STORE_B].has_numbers); /* [] = open side */
	assert_int_equal(req.side[STORE_B].nnumbers, 0);
	assert_false(req.side[STORE_B].has_pin);
	assert_false(req.has_usage);
	assert_false(req.has_duration);
}

static void test_pin_as_number_is_refused(void **state)
{
	(void)state;
	expect_bad("{\"a\":{\"pin\":123}}", "a.pin must be a string");
	expect_bad("{\"b\":{\"pin\":\"12\",\"x\":1},\"a\":{\"pin\":null}}", "a.pin");
	expect_bad("{\"b\":{\"pin\":[\"1\"]}}", "b.pin must be a string");
}

static void test_pin_raw_and_overlong(void **state)
{
	struct alloc_req req;

	(void)state;
	parse("{\"a\":{\"pin\":\"0012\"},\"b\":{\"pin\":\"1234567890123456\"}}", &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_string_equal(req.side[STORE_A].pin, "0012"); /* leading zeros kept */
	assert_string_equal(req.side[STORE_B].pin, "x");    /* too long: invalid for core */
	parse("{\"a\":{\"pin\":\"12ab\"}}", &req);          /* values are core's business */
	assert_int_equal(req.parse_code, AC_OK);
	assert_string_equal(req.side[STORE_A].pin, "12ab");
}

static void test_pin_length_forms(void **state)
{
	struct alloc_req req;

	(void)state;
	parse("{\"a\":{\"pin_length\":\"3\"},\"b\":{\"pin_length\":9}}", &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_int_equal(req.side[STORE_A].pin_length, 3);
	assert_int_equal(req.side[STORE_B].pin_length, 9);
	parse("{\"a\":{\"pin_length\":42},\"b\":{\"pin_length\":\"-1\"}}", &req);
	assert_int_equal(req.parse_code, AC_OK); /* out of range: core says so */
	assert_int_equal(req.side[STORE_A].pin_length, 42);
	assert_int_equal(req.side[STORE_B].pin_length, -1);
	parse("{\"a\":{\"pin_length\":1e300}}", &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_true(req.side[STORE_A].pin_length > 9);
	expect_bad("{\"a\":{\"pin_length\":2.5}}", "a.pin_length");
	expect_bad("{\"a\":{\"pin_length\":\"abc\"}}", "a.pin_length");
	expect_bad("{\"b\":{\"pin_length\":\"\"}}", "b.pin_length");
	expect_bad("{\"b\":{\"pin_length\":\" 3\"}}", "b.pin_length");
	expect_bad("{\"b\":{\"pin_length\":true}}", "b.pin_length");
	expect_bad("{\"b\":{\"pin_length\":\"1234567890\"}}", "b.pin_length");
}

static void test_malformed_json(void **state)
{
	(void)state;
	expect_bad("{\"transaction_id\": \"x\",", "not valid JSON near byte");
	expect_bad("{\"a\": {\"numbers\": [\"1\",]}}", "not valid JSON");
	expect_bad("{} trailing", "not valid JSON");
	expect_bad("{\"a\":1}{}", "not valid JSON");
	expect_bad("{'a':1}", "not valid JSON");
	expect_bad("", "empty");
	expect_bad("   \n", "empty");
	expect_bad("{\"x\":\"\\ud800\"}", "not valid JSON"); /* escaped lone surrogate */
}

static void test_json_error_names_the_byte(void **state)
{
	struct alloc_req req;

	(void)state;
	parse("{\"a\": [1,2,}", &req);
	assert_int_equal(req.parse_code, AC_BAD_PARAM);
	assert_non_null(strstr(req.parse_msg, "near byte 11"));
}

static void test_embedded_nul_refused(void **state)
{
	static const char body[] = "{}\0{\"a\":1}";
	struct alloc_req req;

	(void)state;
	api_parse_alloc_req(body, sizeof(body) - 1, &req);
	assert_int_equal(req.parse_code, AC_BAD_PARAM);
}

static void test_escaped_nul_refused(void **state)
{
	struct alloc_req req;

	(void)state;
	/* cJSON would cut these strings: PIN "12", key "pin" */
	expect_bad("{\"a\":{\"pin\":\"12\\u00003\"}}", "NUL");
	expect_bad("{\"transaction_id\":\"abc\\u0000def\"}", "NUL");
	expect_bad("{\"a\":{\"pin\\u0000x\":\"1\"}}", "NUL");
	/* an escaped backslash followed by "u0000" is no NUL */
	parse("{\"transaction_id\":\"a\\\\u0000\",\"usage\":\"\\\"\\u0001\"}", &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_string_equal(req.txn_id, "a\\u0000");
}

static void test_whitespace_and_bom_accepted(void **state)
{
	struct alloc_req req;

	(void)state;
	parse("\xef\xbb\xbf  {\"usage\":\"oneway\"} \r\n\t", &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_string_equal(req.usage, "oneway");
}

static void test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
	    "{\"transaction_id\":\"\xc0\xaf\"}",         /* overlong '/' */
	    "{\"transaction_id\":\"\xe0\x80\xaf\"}",     /* overlong, 3 bytes */
	    "{\"transaction_id\":\"\xf0\x80\x80\xaf\"}", /* overlong, 4 bytes */
	    "{\"transaction_id\":\"\xed\xa0\x80\"}",     /* lone surrogate U+D800 */
	    "{\"transaction_id\":\"\xed\xbf\xbf\"}",     /* surrogate U+DFFF */
	    "{\"transaction_id\":\"\xf4\x90\x80\x80\"}", /* U+110000 */
	    "{\"transaction_id\":\"\xe2\x82\"}",         /* truncated */
	    "{\"transaction_id\":\"x\"}\xe2",            /* truncated at the end */
	    "{\"transaction_id\":\"\x80\"}",             /* stray continuation */
	    "{\"transaction_id\":\"\xff\"}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad(bad[i], "not valid UTF-8");
}

static void test_valid_utf8(void **state)
{
	struct alloc_req req;
	size_t off = 99;

	(void)state;
	parse("{\"transaction_id\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}",
	      &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_true(api_utf8_valid("\xed\x9f\xbf", 3, &off)); /* U+D7FF */
	assert_false(api_utf8_valid("ab\xc1\xbf", 4, &off));
	assert_int_equal(off, 2);
}

static void test_wrong_types(void **state)
{
	static const struct {
		const char *body, *msg;
	} cases[] = {
	    {"{\"transaction_id\":1}", "transaction_id must be a string"},
	    {"{\"transaction_id\":null}", "transaction_id must be a string"},
	    {"{\"a\":[]}", "a must be an object"},
	    {"{\"b\":\"x\"}", "b must be an object"},
	    {"{\"a\":{\"numbers\":\"7987686144\"}}", "a.numbers must be an array"},
	    {"{\"a\":{\"numbers\":[\"1\",\"2\",7987686144]}}", "a.numbers[2] must be a string"},
	    {"{\"b\":{\"vns\":{}}}", "b.vns must be an array"},
	    {"{\"b\":{\"vns\":[null]}}", "b.vns[0] must be a string"},
	    {"{\"usage\":1}", "usage must be"},
	    {"{\"usage\":\"twowaytwowaytwoway\"}", "usage must be"},
	    {"{\"deallocation_policy\":\"1200s\"}", "deallocation_policy must be an object"},
	    {"{\"deallocation_policy\":{\"duration\":1200}}", "deallocation_policy.duration"},
	    {"{\"deallocation_policy\":{\"duration\":\"123456789012345678901234567890123s\"}}",
	     "deallocation_policy.duration is too long"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].body, cases[i].msg);
}

/* "record" (beyond the reference): a JSON boolean, nothing else. */
static void test_record_flag(void **state)
{
	static const char *const bad[] = {"1", "0", "\"true\"", "\"yes\"", "null", "{}", "[true]"};
	char body[64];
	struct alloc_req req;

	(void)state;
	parse("{\"record\":true}", &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_true(req.has_record);
	assert_true(req.record);
	parse("{\"record\":false,\"usage\":\"oneway\"}", &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_true(req.has_record);
	assert_false(req.record);
	parse(reference_body, &req);
	assert_false(req.has_record);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"record\":%s}", bad[i]);
		expect_bad(body, "record must be true or false");
	}
}

static void test_first_problem_wins(void **state)
{
	(void)state;
	expect_bad("{\"transaction_id\":5,\"a\":{\"pin\":1}}", "transaction_id");
	expect_bad("{\"usage\":5,\"a\":{\"pin\":1}}", "a.pin");
}

static void test_eleven_numbers(void **state)
{
	struct alloc_req req;

	(void)state;
	parse(
	    "{\"a\":{\"numbers\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\"]}}",
	    &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_int_equal(req.side[STORE_A].nnumbers, 10);
	assert_string_equal(req.side[STORE_A].numbers[9], "10");
	expect_bad("{\"a\":{\"numbers\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\","
	           "\"10\",\"11\"]}}",
	           "at most 10 numbers per side");
	expect_bad("{\"b\":{\"vns\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\","
	           "\"10\",\"11\"]}}",
	           "at most 10 VNs per side");
}

static void test_overlong_number_is_blank(void **state)
{
	char body[256];
	struct alloc_req req;

	(void)state;
	snprintf(body, sizeof(body), "{\"a\":{\"numbers\":[\"%0100d\", \"+91 99565 55625\"]}}", 7);
	parse(body, &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_string_equal(req.side[STORE_A].numbers[0], "");
	assert_string_equal(req.side[STORE_A].numbers[1], "+91 99565 55625");
}

static void test_transaction_id_length(void **state)
{
	char body[300], id[130];
	struct alloc_req req;

	(void)state;
	memset(id, 't', 128);
	id[128] = '\0';
	snprintf(body, sizeof(body), "{\"transaction_id\":\"%s\"}", id);
	parse(body, &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_int_equal(strlen(req.txn_id), 128);
	memset(id, 't', 129);
	id[129] = '\0';
	snprintf(body, sizeof(body), "{\"transaction_id\":\"%s\"}", id);
	expect_bad(body, "129 bytes");
}

static void test_non_object_body(void **state)
{
	(void)state;
	expect_bad("[]", "must be a JSON object");
	expect_bad("[{\"transaction_id\":\"x\"}]", "must be a JSON object");
	expect_bad("\"x\"", "must be a JSON object");
	expect_bad("42", "must be a JSON object");
	expect_bad("null", "must be a JSON object");
	expect_bad("true", "must be a JSON object");
}

static void test_unknown_fields_ignored(void **state)
{
	struct alloc_req req;

	(void)state;
	parse("{\"transaction_id\":\"t\",\"foo\":{\"bar\":[1,2]},\"greenpin_id\":7,"
	      "\"a\":{\"numbers\":[\"1\"],\"extra\":null},\"deallocation_policy\":{\"x\":1}}",
	      &req);
	assert_int_equal(req.parse_code, AC_OK);
	assert_string_equal(req.txn_id, "t");
	assert_int_equal(req.side[STORE_A].nnumbers, 1);
	assert_false(req.has_duration);
}

static void test_bulk_body(void **state)
{
	static const char body[] =
	    "{\"greenpins\":[{\"greenpin_id\":\"d7ffd4b3-c861-4bda-a024-9cef1ae2f2a8\","
	    "\"usage\":\"oneway\"},{\"a\":{\"pin\":1}},7,{\"greenpin_id\":12}]}";
	static const char flags[] = "{\"greenpins\":[{\"record\":false},{\"record\":\"no\"}]}";
	struct api_bulk b;

	(void)state;
	api_parse_bulk(body, strlen(body), 100, &b);
	assert_int_equal(b.code, AC_OK);
	assert_int_equal(b.n, 4);
	assert_string_equal(b.ids[0], "d7ffd4b3-c861-4bda-a024-9cef1ae2f2a8");
	assert_int_equal(b.items[0].parse_code, AC_OK);
	assert_string_equal(b.items[0].usage, "oneway");
	assert_string_equal(b.ids[1], "");
	assert_int_equal(b.items[1].parse_code, AC_BAD_PARAM);
	assert_int_equal(b.items[2].parse_code, AC_BAD_PARAM);
	assert_non_null(strstr(b.items[2].parse_msg, "greenpins[2] must be an object"));
	assert_string_equal(b.ids[3], "?");
	api_bulk_free(&b);

	api_parse_bulk(flags, strlen(flags), 100, &b);
	assert_int_equal(b.code, AC_OK);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.items[0].parse_code, AC_OK);
	assert_true(b.items[0].has_record);
	assert_false(b.items[0].record);
	assert_int_equal(b.items[1].parse_code, AC_BAD_PARAM);
	assert_string_equal(b.items[1].parse_msg, "record must be true or false");
	api_bulk_free(&b);

	api_parse_bulk(body, strlen(body), 3, &b);
	assert_int_equal(b.code, AC_BULK_LIMIT);
	assert_null(b.items);
	api_parse_bulk("{}", 2, 100, &b);
	assert_int_equal(b.code, AC_MISSING);
	api_parse_bulk("{\"greenpins\":[]}", 16, 100, &b);
	assert_int_equal(b.code, AC_MISSING);
	api_parse_bulk("{\"greenpins\":{}}", 16, 100, &b);
	assert_int_equal(b.code, AC_BAD_PARAM);
	api_parse_bulk("{\"greenpins\":[", 14, 100, &b);
	assert_int_equal(b.code, AC_BAD_PARAM);
}

static void test_number_body(void **state)
{
	char msg[160], *out = NULL;

	(void)state;
	assert_int_equal(
	    api_parse_number_body("{\"number\":\"+919956555625\"}", 26, &out, msg, sizeof(msg)),
	    AC_OK);
	assert_string_equal(out, "+919956555625");
	free(out);
	assert_int_equal(
	    api_parse_number_body("{\"numbers\":[\"99\"]}", 18, &out, msg, sizeof(msg)), AC_OK);
	assert_string_equal(out, "99");
	free(out);
	assert_int_equal(
	    api_parse_number_body("{\"numbers\":[\"1\",\"2\"]}", 21, &out, msg, sizeof(msg)),
	    AC_BAD_PARAM);
	assert_null(out);
	assert_int_equal(api_parse_number_body("{\"number\":5}", 12, &out, msg, sizeof(msg)),
	                 AC_BAD_PARAM);
	assert_int_equal(api_parse_number_body("{}", 2, &out, msg, sizeof(msg)), AC_MISSING);
	assert_int_equal(api_parse_number_body("[", 1, &out, msg, sizeof(msg)), AC_BAD_PARAM);
}

static void expect_basic(const char *header, const char *key, const char *token)
{
	char k[API_KEY_MAX], t[API_TOKEN_MAX];

	if (api_auth_parse_basic(header, k, t) != 0)
		fail_msg("header \"%s\" did not parse", header);
	assert_string_equal(k, key);
	assert_string_equal(t, token);
}

static void test_basic_header(void **state)
{
	char k[API_KEY_MAX], t[API_TOKEN_MAX];

	(void)state;
	/* base64("demo-key:demo-token") */
	expect_basic("Basic ZGVtby1rZXk6ZGVtby10b2tlbg==", "demo-key", "demo-token");
	expect_basic("basic ZGVtby1rZXk6ZGVtby10b2tlbg==", "demo-key", "demo-token");
	expect_basic("BASIC   ZGVtby1rZXk6ZGVtby10b2tlbg==  ", "demo-key", "demo-token");
	expect_basic("BasicZGVtby1rZXk6ZGVtby10b2tlbg==", "demo-key", "demo-token");
	expect_basic("Basic ZGVtby1rZXk6ZGVtby10b2tlbg", "demo-key", "demo-token"); /* no pad */
	expect_basic("Basic YTpiOmM=", "a", "b:c"); /* split at the first ':' */
	expect_basic("Basic YTo=", "a", "");
	assert_int_equal(api_auth_parse_basic(NULL, k, t), EINVAL);
	assert_int_equal(api_auth_parse_basic("", k, t), EINVAL);
	assert_int_equal(api_auth_parse_basic("Basic", k, t), EINVAL);
	assert_int_equal(api_auth_parse_basic("Bearer ZGVtby1rZXk6ZGVtby10b2tlbg==", k, t), EINVAL);
	assert_int_equal(api_auth_parse_basic("Basic !!!!", k, t), EINVAL);
	assert_int_equal(api_auth_parse_basic("Basic ZGVtb y1rZXk6", k, t), EINVAL);
	assert_int_equal(api_auth_parse_basic("Basic Z", k, t), EINVAL);
	assert_int_equal(api_auth_parse_basic("Basic bm9jb2xvbg==", k, t), EINVAL); /* nocolon */
	assert_int_equal(api_auth_parse_basic("Basic YQBiOmM=", k, t), EINVAL);     /* a\0b:c */
}

static void test_tenant_lookup(void **state)
{
	struct tenant tenants[2];
	struct config cfg;

	(void)state;
	memset(tenants, 0, sizeof(tenants));
	memset(&cfg, 0, sizeof(cfg));
	strcpy(tenants[0].id, "demo");
	strcpy(tenants[0].api_key, "demo-key");
	SHA256((const unsigned char *)"demo-token", 10, tenants[0].token_sha256);
	strcpy(tenants[1].id, "other");
	strcpy(tenants[1].api_key, "other-key");
	SHA256((const unsigned char *)"other-token", 11, tenants[1].token_sha256);
	cfg.tenants = tenants;
	cfg.ntenants = 2;

	assert_ptr_equal(api_auth_tenant(&cfg, "Basic ZGVtby1rZXk6ZGVtby10b2tlbg=="), &tenants[0]);
	/* base64("demo-key:other-token"): right key, another tenant's token */
	assert_null(api_auth_tenant(&cfg, "Basic ZGVtby1rZXk6b3RoZXItdG9rZW4="));
	/* base64("nobody:demo-token") */
	assert_null(api_auth_tenant(&cfg, "Basic bm9ib2R5OmRlbW8tdG9rZW4="));
	assert_null(api_auth_tenant(&cfg, NULL));
	assert_null(api_auth_tenant(NULL, "Basic ZGVtby1rZXk6ZGVtby10b2tlbg=="));
}

static void test_bearer(void **state)
{
	(void)state;
	assert_true(api_auth_bearer_ok("Bearer s3cret", "s3cret"));
	assert_true(api_auth_bearer_ok("bearer   s3cret ", "s3cret"));
	assert_false(api_auth_bearer_ok("Bearer s3cre", "s3cret"));
	assert_false(api_auth_bearer_ok("Bearers3cret", "s3cret"));
	assert_false(api_auth_bearer_ok(NULL, "s3cret"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_create_body),
	    cmocka_unit_test(test_absent_fields_stay_absent),
	    cmocka_unit_test(test_pin_as_number_is_refused),
	    cmocka_unit_test(test_pin_raw_and_overlong),
	    cmocka_unit_test(test_pin_length_forms),
	    cmocka_unit_test(test_malformed_json),
	    cmocka_unit_test(test_json_error_names_the_byte),
	    cmocka_unit_test(test_embedded_nul_refused),
	    cmocka_unit_test(test_escaped_nul_refused),
	    cmocka_unit_test(test_whitespace_and_bom_accepted),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_valid_utf8),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_record_flag),
	    cmocka_unit_test(test_first_problem_wins),
	    cmocka_unit_test(test_eleven_numbers),
	    cmocka_unit_test(test_overlong_number_is_blank),
	    cmocka_unit_test(test_transaction_id_length),
	    cmocka_unit_test(test_non_object_body),
	    cmocka_unit_test(test_unknown_fields_ignored),
	    cmocka_unit_test(test_bulk_body),
	    cmocka_unit_test(test_number_body),
	    cmocka_unit_test(test_basic_header),
	    cmocka_unit_test(test_tenant_lookup),
	    cmocka_unit_test(test_bearer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
