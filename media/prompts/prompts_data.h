/* prompts_data: the built-in prompts' WAV bytes, generated into the build
 * by embed.py from media/prompts/<name>.wav. media/builtin.c's business only. */
#ifndef PB_MEDIA_PROMPTS_DATA_H
#define PB_MEDIA_PROMPTS_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "media/media.h"

/* The WAV file of built-in prompt id, or NULL for an id out of range. */
const uint8_t *media_prompt_wav(enum media_prompt_id id, size_t *len);

#endif
