/* config_file: libconfig text through a temporary file into config_load(),
 * for the config unit tests: loading it, and checking that it fails with
 * "<file>:<line>: <setting>: " and the reason. The file's path stays in
 * tmp_path (the config's source) after it is removed. */
#ifndef PB_TEST_CONFIG_FILE_H
#define PB_TEST_CONFIG_FILE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

static char tmp_path[64];

/* config_load()'s rc for text with ov (may be NULL); the config in *c. */
static inline int load_config_text(const char *text, const struct config_overrides *ov,
                                   struct config **c, char *err, size_t errlen)
{
	FILE *f;
	int fd, rc;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/pb-test-config-XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	*c = NULL;
	rc = config_load(tmp_path, ov, c, err, errlen);
	unlink(tmp_path);
	return rc;
}

/* The config of text, or the test fails with the error. */
static inline struct config *load_text(const char *text, const struct config_overrides *ov)
{
	char err[512];
	struct config *c;
	int rc = load_config_text(text, ov, &c, err, sizeof(err));

	if (rc)
		fail_msg("load failed (%d): %s\n%s", rc, err, text);
	return c;
}

/* Loads text expecting EINVAL and one line starting
 * "<tmp>:<line>: <setting>: " and containing what (when not NULL). */
static inline void expect_error(const char *text, int line, const char *setting, const char *what)
{
	char err[512], want[256];
	struct config *c;
	int rc = load_config_text(text, NULL, &c, err, sizeof(err));

	if (rc != EINVAL)
		fail_msg("rc %d, want EINVAL (err \"%s\") for:\n%s", rc, err, text);
	assert_null(c);
	snprintf(want, sizeof(want), "%s:%d: %s: ", tmp_path, line, setting);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
	if (what && !strstr(err, what))
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
	assert_null(strchr(err, '\n'));
}

#endif
