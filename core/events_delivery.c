/* events_delivery: one webhook delivery. Builds the signed POST for libcurl,
 * judges how it ended (DESIGN §4: 2xx delivered; 3xx and 4xx other than 408
 * and 429 dead at once; anything else retried with backoff until max_age)
 * and records that verdict in the outbox from a step on the store writer. */
#include "core/events_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base/log.h"

#define DEFAULT_RETENTION_MS (7LL * 86400 * 1000) /* DESIGN §4, for a removed tenant */

struct delivery *delivery_new(const struct store_event *ev)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->body = malloc(ev->body_len ? ev->body_len : 1);
	if (!d->body) {
		free(d);
		return NULL;
	}
	memcpy(d->body, ev->body, ev->body_len);
	d->body_len = ev->body_len;
	d->job.kind = EVENTS_JOB_OUTCOME;
	d->seq = ev->seq;
	memcpy(d->id, ev->delivery_id, STORE_ID_LEN);
	d->attempts = ev->attempts;
	d->created_ms = ev->created_ms;
	snprintf(d->tenant, sizeof(d->tenant), "%s", ev->tenant);
	snprintf(d->type, sizeof(d->type), "%s", ev->type);
	snprintf(d->url, sizeof(d->url), "%s", ev->url);
	d->retention_ms = DEFAULT_RETENTION_MS;
	return d;
}

void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	if (d->easy)
		curl_easy_cleanup(d->easy);
	curl_slist_free_all(d->hdrs);
	free(d->body);
	free(d);
}

/* The receiver's answer is not ours to keep: count it and let it go. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct delivery *d = arg;

	(void)ptr;
	d->resp_bytes += size * nmemb;
	return size * nmemb;
}

static int add_header(struct delivery *d, const char *name, const char *value)
{
	char line[256];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s:%s%s", name, *value ? " " : "", value);
	l = curl_slist_append(d->hdrs, line);
	if (!l)
		return ENOMEM;
	d->hdrs = l;
	return 0;
}

int delivery_send(CURLM *multi, struct delivery *d, const struct tenant *t, int64_t now_ms)
{
	char sig[128], id[37];
	CURL *c;
	int rc;

	d->backoff_ms = t->webhooks.backoff_ms;
	d->max_age_ms = t->webhooks.max_age_ms;
	d->retention_ms = t->webhooks.retention_ms;
	/* Signed at send time: t= is when this attempt left, so a receiver
	 * may refuse stale replays of a captured request. */
	events_sign(t->webhooks.secret, now_ms / 1000, d->body, d->body_len, sig, sizeof(sig));
	alloc_id_format(d->id, id);
	if ((rc = add_header(d, "Content-Type", "application/json")) ||
	    (rc = add_header(d, "X-Pinbridge-Delivery", id)) ||
	    (rc = add_header(d, "X-Pinbridge-Event", d->type)) ||
	    (rc = add_header(d, "X-Pinbridge-Signature", sig)) ||
	    /* Never "Expect: 100-continue" (a second's wait on receivers
	     * that ignore it); libcurl 7.88 adds it only past 1 MiB, but
	     * that threshold has moved before. */
	    (rc = add_header(d, "Expect", "")))
		goto out;
	c = d->easy = curl_easy_init();
	if (!c) {
		rc = ENOMEM;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "pinbridge/0.1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, d->hdrs);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->body_len);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body); /* not copied: d owns it */
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, d->errbuf);
	curl_easy_setopt(c, CURLOPT_PRIVATE, d);
	d->errbuf[0] = '\0';
	d->resp_bytes = 0;
	if (curl_multi_add_handle(multi, c) != CURLM_OK)
		rc = ENOMEM;
out:
	if (rc != 0) {
		if (d->easy)
			curl_easy_cleanup(d->easy);
		d->easy = NULL;
		curl_slist_free_all(d->hdrs);
		d->hdrs = NULL;
	}
	return rc;
}

static void verdict(struct delivery *d, enum delivery_verdict v, int status, int64_t now_ms,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void verdict(struct delivery *d, enum delivery_verdict v, int status, int64_t now_ms,
                    const char *fmt, ...)
{
	va_list ap;

	d->verdict = v;
	d->status = status;
	d->done_ms = now_ms;
	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
}

void delivery_judge(CURLM *multi, struct delivery *d, CURLcode res, int64_t now_ms)
{
	long code = 0;
	int s;

	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
	s = (int)code;
	d->attempted = true;
	if (res != CURLE_OK) {
		const char *why = d->errbuf[0] ? d->errbuf : curl_easy_strerror(res);

		/* A URL curl cannot use will not get better by waiting. */
		if (res == CURLE_UNSUPPORTED_PROTOCOL || res == CURLE_URL_MALFORMAT)
			verdict(d, DELIVERY_DEAD, 0, now_ms, "unusable URL: %s", why);
		else
			verdict(d, DELIVERY_RETRY, 0, now_ms, "%s", why);
	} else if (s >= 200 && s < 300) {
		verdict(d, DELIVERY_OK, s, now_ms, "%s", "");
	} else if (s >= 300 && s < 400) {
		verdict(d, DELIVERY_DEAD, s, now_ms, "HTTP %d: redirect not followed", s);
	} else if (s >= 400 && s < 500 && s != 408 && s != 429) {
		verdict(d, DELIVERY_DEAD, s, now_ms, "HTTP %d", s);
	} else {
		verdict(d, DELIVERY_RETRY, s, now_ms, "HTTP %d", s);
	}
	curl_multi_remove_handle(multi, d->easy);
	curl_easy_cleanup(d->easy);
	d->easy = NULL;
	curl_slist_free_all(d->hdrs);
	d->hdrs = NULL;
}

void delivery_condemn(struct delivery *d, const char *why, int64_t now_ms)
{
	verdict(d, DELIVERY_DEAD, 0, now_ms, "%s", why);
}

int delivery_outcome_step(struct store_txn *txn, void *arg, size_t step)
{
	struct delivery *d = arg;
	struct store_event ev;
	int rc = store_event_get(txn, d->seq, &ev);

	(void)step;
	d->applied = false;
	if (rc != 0)
		return rc == ENOENT ? 0 : rc;
	if (ev.state != STORE_EV_PENDING || ev.attempts != d->attempts)
		return 0; /* replayed or settled meanwhile: this verdict is stale */
	if (d->attempted)
		ev.attempts++;
	ev.last_status = d->status;
	snprintf(ev.last_error, sizeof(ev.last_error), "%s", d->error);
	if (d->verdict == DELIVERY_RETRY && d->done_ms - ev.first_ms >= d->max_age_ms) {
		/* %.120s: the cause fits beside the reason. */
		snprintf(ev.last_error, sizeof(ev.last_error),
		         "gave up after max_age (last: %.120s)", d->error);
		d->verdict = DELIVERY_DEAD;
	}
	if (d->verdict == DELIVERY_RETRY) {
		int64_t last = ev.first_ms + d->max_age_ms;

		/* The last try lands on max_age itself rather than past it. */
		ev.due_ms = d->done_ms + events_backoff_ms(d->backoff_ms, ev.attempts);
		if (ev.due_ms > last)
			ev.due_ms = last;
	} else {
		ev.state = d->verdict == DELIVERY_OK ? STORE_EV_DELIVERED : STORE_EV_DEAD;
		ev.done_ms = d->done_ms;
		ev.due_ms = d->done_ms + d->retention_ms; /* the purge time */
	}
	rc = store_event_put(txn, &ev);
	if (rc == 0) {
		d->applied = true;
		d->new_state = ev.state;
		d->next_due_ms = ev.due_ms;
		snprintf(d->error, sizeof(d->error), "%s", ev.last_error);
	}
	return rc;
}
