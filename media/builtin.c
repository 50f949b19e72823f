/* builtin: the IVR's English prompts compiled into the binary (embed.py
 * turns media/prompts/<name>.wav into arrays), made into prompts once on
 * first use and kept for the process's life, and the prompts' config keys. */
#include "media/media.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>

#include "core/base/log.h"
#include "media/prompts/prompts_data.h"

static const char *const prompt_names[MEDIA_PROMPT_N] = {
    [MEDIA_PROMPT_ENTER_PIN] = "enter_pin",     [MEDIA_PROMPT_WRONG_PIN] = "wrong_pin",
    [MEDIA_PROMPT_GOODBYE] = "goodbye",         [MEDIA_PROMPT_NOT_ALLOWED] = "not_allowed",
    [MEDIA_PROMPT_PLEASE_WAIT] = "please_wait", [MEDIA_PROMPT_NOBODY] = "nobody",
};

/* Written once under builtin_once, read-only after: no lock needed. */
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static struct media_prompt *builtin[MEDIA_PROMPT_N];

const char *media_prompt_name(enum media_prompt_id id)
{
	return (unsigned)id < MEDIA_PROMPT_N ? prompt_names[id] : NULL;
}

static void builtin_make(void)
{
	for (unsigned i = 0; i < MEDIA_PROMPT_N; i++) {
		size_t len = 0;
		const uint8_t *wav = media_prompt_wav((enum media_prompt_id)i, &len);
		char err[128] = "";
		int rc =
		    wav ? media_prompt_from_wav(wav, len, &builtin[i], err, sizeof(err)) : ENOENT;
		if (rc)
			log_err("media", "built-in prompt %s: %s", prompt_names[i],
			        *err ? err : "cannot be made");
	}
}

const struct media_prompt *media_builtin_prompt(enum media_prompt_id id)
{
	if ((unsigned)id >= MEDIA_PROMPT_N)
		return NULL;
	pthread_once(&builtin_once, builtin_make);
	return builtin[id];
}
