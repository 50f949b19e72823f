/* recordings: where a call's recording lives and how long. Files are
 * <recordings_dir>/<tenant>/<YYYYMMDD>/<call_sid>.wav, the day being the
 * UTC date of the call's answered_ms (the recording's start); a recording
 * being written is "<that>.part". The URL clients get is
 * <http_public_url>/v1/tenants/<tenant>/calls/<call_sid>/recording.
 * Retention is by file: a file whose mtime (the recording's end) is older
 * than the tenant's recordings.retention is deleted by the sweep, .part
 * files included (a crash's leftovers; never sooner than 5 minutes after
 * their last write, so a live one is safe from a short retention), and
 * empty day directories go too. */
#ifndef PB_CORE_RECORDINGS_H
#define PB_CORE_RECORDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

/* 0, or ENAMETOOLONG when out (n bytes) cannot hold it; EINVAL for a
 * tenant id or call_sid that is empty, ".", ".." or holds a '/'. */
int recordings_path(const struct tenant *t, const char *call_sid, int64_t answered_ms, char *out,
                    size_t n);
int recordings_url(const struct config *cfg, const struct tenant *t, const char *call_sid,
                   char *out, size_t n);

/* The sweep's memory between runs: per tenant directory, when its oldest
 * file comes due, so that a run with nothing due reads no directory. */
struct recordings_sweep;

int recordings_sweep_new(struct recordings_sweep **out);
void recordings_sweep_free(struct recordings_sweep *s);
/* Deletes every tenant's expired recordings. Returns how many files, or a
 * negative errno (a directory that cannot be read is logged, not fatal). */
long recordings_sweep_run(struct recordings_sweep *s, const struct config *cfg, int64_t now_ms);
/* How many directories the sweep has opened so far (tests: a run with
 * nothing due opens none). */
unsigned long recordings_sweep_dirs_read(const struct recordings_sweep *s);

#endif
