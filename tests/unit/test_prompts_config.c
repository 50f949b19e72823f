/* Unit tests for a tenant's prompts = { ... } (core/config_tenant.c): a
 * custom WAV is loaded and returned by config_prompt(), absent ones are the
 * built-in prompts, and a missing or unusable WAV fails the load with one
 * line naming file, line and setting. */
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

#include "core/config.h"

static char conf_path[64], wav_path[64];

static void put_le(FILE *f, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		fputc((int)(v >> (8 * i)) & 0xff, f);
}

/* A PCM WAV of ms milliseconds of a ramp; its path is wav_path. */
static void write_wav(unsigned rate, unsigned channels, unsigned ms)
{
	uint32_t frames = rate * ms / 1000, data = frames * channels * 2;

	snprintf(wav_path, sizeof(wav_path), "/tmp/pb-test-prompt-XXXXXX");
	int fd = mkstemp(wav_path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "wb");
	assert_non_null(f);
	fputs("RIFF", f);
	put_le(f, 36 + data, 4);
	fputs("WAVEfmt ", f);
	put_le(f, 16, 4);
	put_le(f, 1, 2); /* PCM */
	put_le(f, channels, 2);
	put_le(f, rate, 4);
	put_le(f, rate * channels * 2, 4);
	put_le(f, channels * 2, 2);
	put_le(f, 16, 2);
	fputs("data", f);
	put_le(f, data, 4);
	for (uint32_t i = 0; i < frames * channels; i++)
		put_le(f, (i * 37) & 0x3fff, 2);
	fclose(f);
}

/* A config whose one tenant has prompts_body inside prompts = { };
 * the prompts line is line 4. */
static int load(const char *prompts_body, struct config **c, char *err, size_t errlen)
{
	snprintf(conf_path, sizeof(conf_path), "/tmp/pb-test-pconf-XXXXXX");
	int fd = mkstemp(conf_path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f,
	        "tenants = (\n"
	        "  { id = \"demo\"; api_key = \"k\"; api_token = \"t\";\n"
	        "    vns = [\"+916292134400-+916292134409\"];\n"
	        "    prompts = { %s };\n"
	        "  } );\n",
	        prompts_body);
	fclose(f);
	*c = NULL;
	int rc = config_load(conf_path, NULL, c, err, errlen);
	unlink(conf_path);
	return rc;
}

/* Loading fails with "<conf>:4: tenants[0].prompts.<name>: <file>: ..."
 * and a reason mentioning what. */
static void expect_refused(const char *name, const char *file, const char *what)
{
	char body[256], err[512], want[256];
	struct config *c;

	snprintf(body, sizeof(body), "%s = \"%s\";", name, file);
	assert_int_equal(load(body, &c, err, sizeof(err)), EINVAL);
	assert_null(c);
	snprintf(want, sizeof(want), "%s:4: tenants[0].prompts.%s: %s: ", conf_path, name, file);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
	if (what && !strstr(err + strlen(want), what))
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
	assert_null(strchr(err, '\n'));
}

static void test_builtin_prompts_are_audio(void **state)
{
	(void)state;
	for (unsigned i = 0; i < MEDIA_PROMPT_N; i++) {
		const struct media_prompt *p = media_builtin_prompt((enum media_prompt_id)i);
		assert_non_null(p);
		/* espeak-ng's sentences: a couple of seconds each, not a stub */
		unsigned ms = media_prompt_ms(p);
		if (ms < 1500 || ms > 8000)
			fail_msg("built-in %s is %u ms", media_prompt_name((enum media_prompt_id)i),
			         ms);
		assert_ptr_equal(p, media_builtin_prompt((enum media_prompt_id)i));
	}
	assert_string_equal(media_prompt_name(MEDIA_PROMPT_ENTER_PIN), "enter_pin");
	assert_string_equal(media_prompt_name(MEDIA_PROMPT_NOBODY), "nobody");
	assert_null(media_prompt_name(MEDIA_PROMPT_N));
}

static void test_custom_prompt_loaded(void **state)
{
	(void)state;
	char body[256], err[512];
	struct config *c;

	write_wav(8000, 1, 750);
	snprintf(body, sizeof(body), "wrong_pin = \"%s\"; goodbye = \"\"; nosuch = \"x.wav\";",
	         wav_path);
	int rc = load(body, &c, err, sizeof(err));
	unlink(wav_path);
	if (rc)
		fail_msg("load failed (%d): %s", rc, err);
	const struct tenant *t = config_tenant(c, "demo");
	assert_non_null(t);
	const struct media_prompt *p = config_prompt(t, MEDIA_PROMPT_WRONG_PIN);
	assert_non_null(p);
	assert_ptr_not_equal(p, media_builtin_prompt(MEDIA_PROMPT_WRONG_PIN));
	assert_int_equal(media_prompt_ms(p), 750);
	/* "" and absent: the built-in ones */
	assert_ptr_equal(config_prompt(t, MEDIA_PROMPT_GOODBYE),
	                 media_builtin_prompt(MEDIA_PROMPT_GOODBYE));
	assert_ptr_equal(config_prompt(t, MEDIA_PROMPT_ENTER_PIN),
	                 media_builtin_prompt(MEDIA_PROMPT_ENTER_PIN));
	assert_null(config_prompt(t, MEDIA_PROMPT_N));
	config_unref(c); /* frees the custom prompt (ASan/valgrind see a leak otherwise) */
}

static void test_no_prompts_group_is_builtin(void **state)
{
	(void)state;
	char err[512];
	struct config *c = NULL;

	assert_int_equal(config_load(NULL, NULL, &c, err, sizeof(err)), 0);
	for (unsigned i = 0; i < MEDIA_PROMPT_N; i++)
		assert_ptr_equal(config_prompt(&c->tenants[0], (enum media_prompt_id)i),
		                 media_builtin_prompt((enum media_prompt_id)i));
	config_unref(c);
}

static void test_missing_file_refused(void **state)
{
	(void)state;
	expect_refused("enter_pin", "/nonexistent/pb-prompt.wav", "No such file");
}

static void test_wrong_rate_refused(void **state)
{
	(void)state;
	write_wav(16000, 1, 200);
	expect_refused("please_wait", wav_path, "16000");
	unlink(wav_path);
}

static void test_stereo_refused(void **state)
{
	(void)state;
	write_wav(8000, 2, 200);
	expect_refused("nobody", wav_path, "channels");
	unlink(wav_path);
}

static void test_not_a_wav_refused(void **state)
{
	(void)state;
	snprintf(wav_path, sizeof(wav_path), "/tmp/pb-test-prompt-XXXXXX");
	int fd = mkstemp(wav_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello, world\n", 13), 13);
	close(fd);
	expect_refused("not_allowed", wav_path, "RIFF");
	unlink(wav_path);
}

static void test_prompts_not_a_group(void **state)
{
	(void)state;
	char err[512];
	struct config *c;

	snprintf(conf_path, sizeof(conf_path), "/tmp/pb-test-pconf-XXXXXX");
	int fd = mkstemp(conf_path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("tenants = ( { id = \"demo\"; api_key = \"k\"; api_token = \"t\";\n"
	      "  prompts = \"/x.wav\"; } );\n",
	      f);
	fclose(f);
	c = NULL;
	assert_int_equal(config_load(conf_path, NULL, &c, err, sizeof(err)), EINVAL);
	unlink(conf_path);
	assert_non_null(strstr(err, ":2: tenants[0].prompts: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_builtin_prompts_are_audio),
	    cmocka_unit_test(test_custom_prompt_loaded),
	    cmocka_unit_test(test_no_prompts_group_is_builtin),
	    cmocka_unit_test(test_missing_file_refused),
	    cmocka_unit_test(test_wrong_rate_refused),
	    cmocka_unit_test(test_stereo_refused),
	    cmocka_unit_test(test_not_a_wav_refused),
	    cmocka_unit_test(test_prompts_not_a_group),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
