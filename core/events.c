/* events: what an event is before the worker sees it. Builds payloads and
 * writes them to the outbox inside the caller's write step (so an event
 * commits with its cause or not at all), signs bodies, computes backoff, and
 * prints the /metrics section of webhooks. */
#include "core/events_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base/log.h"
#include "core/base/rand.h"

#define BACKOFF_CAP_MS (3600LL * 1000)

const double events_lat_le[EVENTS_LAT_BUCKETS] = {0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                  5,    10,  30,   60,  300, 3600};

int events_add(struct store_txn *txn, const struct tenant *t, const char *type, const char *url,
               const char *body, size_t len, int64_t now_ms)
{
	struct store_event *ev;
	int rc;

	if (url == NULL || url[0] == '\0')
		return 0;
	if (len > STORE_EVENT_BODY_MAX || strlen(type) >= STORE_EVENT_TYPE_MAX ||
	    strlen(url) >= STORE_EVENT_URL_MAX) {
		log_err("events", "tenant %s: %s event too large to store (%zu bytes)", t->id, type,
		        len);
		return EMSGSIZE;
	}
	/* ~10 KiB: too big for the writer's stack in a deep step. */
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return ENOMEM;
	rand_bytes(ev->delivery_id, STORE_ID_LEN);
	ev->delivery_id[6] = (uint8_t)((ev->delivery_id[6] & 0x0f) | 0x40); /* UUID version 4 */
	ev->delivery_id[8] = (uint8_t)((ev->delivery_id[8] & 0x3f) | 0x80);
	snprintf(ev->tenant, sizeof(ev->tenant), "%s", t->id);
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	snprintf(ev->url, sizeof(ev->url), "%s", url);
	ev->state = STORE_EV_PENDING;
	ev->created_ms = ev->first_ms = ev->due_ms = now_ms;
	ev->body_len = (uint32_t)len;
	memcpy(ev->body, body, len);
	rc = store_event_add(txn, ev);
	if (rc != 0)
		log_err("events", "tenant %s: could not queue %s event: %s", t->id, type,
		        strerror(rc));
	free(ev);
	return rc;
}

static cJSON *str_array(const char (*items)[STORE_NUM_LEN], uint8_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (uint8_t i = 0; a && i < n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(items[i]))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

static cJSON *pin_array(const char *pin)
{
	cJSON *a = cJSON_CreateArray();

	if (a && pin[0] && !cJSON_AddItemToArray(a, cJSON_CreateString(pin))) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

/* The reference's deallocation callback, keys in its order. */
static char *dealloc_payload(const struct store_alloc *rec)
{
	const struct store_side *a = &rec->side[STORE_A], *b = &rec->side[STORE_B];
	cJSON *o = cJSON_CreateObject();
	char id[37], *out = NULL;
	bool ok;

	if (!o)
		return NULL;
	alloc_id_format(rec->id, id);
	ok =
	    cJSON_AddStringToObject(o, "transaction_id", rec->txn_id) &&
	    cJSON_AddItemToObject(o, "aparty_numbers", str_array(a->numbers, a->nnumbers)) &&
	    cJSON_AddItemToObject(o, "bparty_numbers", str_array(b->numbers, b->nnumbers)) &&
	    cJSON_AddItemToObject(o, "aparty_vns", str_array(a->vns, a->nvns)) &&
	    cJSON_AddItemToObject(o, "bparty_vns", str_array(b->vns, b->nvns)) &&
	    cJSON_AddItemToObject(o, "aparty_pins", pin_array(a->pin)) &&
	    cJSON_AddItemToObject(o, "bparty_pins", pin_array(b->pin)) &&
	    cJSON_AddStringToObject(o, "usage", rec->usage == STORE_ONEWAY ? "oneway" : "twoway") &&
	    cJSON_AddStringToObject(o, "greenpin_id", id) &&
	    cJSON_AddStringToObject(o, "state", "vault");
	if (ok)
		out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

int events_add_deallocation(struct store_txn *txn, const struct tenant *t,
                            const struct store_alloc *rec, int64_t now_ms)
{
	char *body;
	int rc;

	if (t->webhooks.deallocation[0] == '\0')
		return 0;
	body = dealloc_payload(rec);
	if (!body)
		return ENOMEM;
	rc = events_add(txn, t, "deallocation", t->webhooks.deallocation, body, strlen(body),
	                now_ms);
	free(body);
	return rc;
}

void events_sign(const char *secret, int64_t unix_s, const char *body, size_t len, char *out,
                 size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	char ts[24], digest_name[] = "SHA256";
	unsigned char mac[EVP_MAX_MD_SIZE];
	char machex[2 * EVP_MAX_MD_SIZE + 1];
	size_t maclen = 0;
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
	    OSSL_PARAM_construct_end(),
	};
	int n = snprintf(ts, sizeof(ts), "%lld", (long long)unix_s);
	bool ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) &&
	          EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)n) &&
	          EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
	          EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
	          EVP_MAC_final(ctx, mac, &maclen, sizeof(mac));

	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	if (!ok) {
		/* A receiver will reject it; that is louder than sending nothing. */
		log_err("events", "HMAC-SHA256 unavailable: signature left empty");
		maclen = 0;
	}
	for (size_t i = 0; i < maclen; i++) {
		machex[2 * i] = hex[mac[i] >> 4];
		machex[2 * i + 1] = hex[mac[i] & 15];
	}
	machex[2 * maclen] = '\0';
	snprintf(out, outlen, "t=%s,v1=%s", ts, machex);
}

int64_t events_backoff_ms(int64_t base_ms, uint32_t n)
{
	int64_t raw = base_ms > 0 ? base_ms : 1;

	for (uint32_t i = 1; i < n && raw < BACKOFF_CAP_MS; i++)
		raw *= 2;
	if (raw > BACKOFF_CAP_MS)
		raw = BACKOFF_CAP_MS;
	/* Jitter spreads the retries of a burst that failed together. */
	raw = raw * (int64_t)(500 + rand_below(1000)) / 1000;
	return raw < BACKOFF_CAP_MS ? raw : BACKOFF_CAP_MS;
}

void events_stats_count(struct events_stats *s, int state, int64_t latency_ms)
{
	if (state == STORE_EV_PENDING) {
		atomic_fetch_add(&s->retry, 1);
	} else if (state == STORE_EV_DEAD) {
		atomic_fetch_add(&s->dead, 1);
	} else if (state == STORE_EV_DELIVERED) {
		size_t b = 0;

		if (latency_ms < 0)
			latency_ms = 0;
		while (b < EVENTS_LAT_BUCKETS && (double)latency_ms / 1000.0 > events_lat_le[b])
			b++;
		atomic_fetch_add(&s->delivered, 1);
		atomic_fetch_add(&s->lat_bucket[b], 1);
		atomic_fetch_add(&s->lat_sum_ms, (uint_fast64_t)latency_ms);
	}
}

static void print_latency(FILE *f, struct events_stats *s)
{
	uint64_t cum = 0;

	fputs("# HELP pinbridge_webhook_delivery_seconds Time from an event's commit to its 2xx.\n"
	      "# TYPE pinbridge_webhook_delivery_seconds histogram\n",
	      f);
	for (size_t b = 0; b <= EVENTS_LAT_BUCKETS; b++) {
		cum += atomic_load(&s->lat_bucket[b]);
		if (b < EVENTS_LAT_BUCKETS)
			fprintf(f, "pinbridge_webhook_delivery_seconds_bucket{le=\"%g\"} %llu\n",
			        events_lat_le[b], (unsigned long long)cum);
		else
			fprintf(f, "pinbridge_webhook_delivery_seconds_bucket{le=\"+Inf\"} %llu\n",
			        (unsigned long long)cum);
	}
	fprintf(f,
	        "pinbridge_webhook_delivery_seconds_sum %.3f\n"
	        "pinbridge_webhook_delivery_seconds_count %llu\n",
	        (double)atomic_load(&s->lat_sum_ms) / 1000.0, (unsigned long long)cum);
}

int events_metrics_text(struct events *e, const struct config *cfg, char **out)
{
	static struct events_stats none;
	struct events_stats *s = e ? &e->stats : &none;
	struct store_txn *txn;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return ENOMEM;
	fputs("# HELP pinbridge_webhook_queue_depth Events waiting for delivery per tenant.\n"
	      "# TYPE pinbridge_webhook_queue_depth gauge\n",
	      f);
	if (e && store_read_begin(e->st, &txn) == 0) {
		for (size_t i = 0; i < cfg->ntenants; i++)
			fprintf(
			    f, "pinbridge_webhook_queue_depth{tenant=\"%s\"} %llu\n",
			    cfg->tenants[i].id,
			    (unsigned long long)store_event_pending_count(txn, cfg->tenants[i].id));
		store_read_end(txn);
	}
	fprintf(f,
	        "# HELP pinbridge_webhook_deliveries_total Delivery attempts by outcome.\n"
	        "# TYPE pinbridge_webhook_deliveries_total counter\n"
	        "pinbridge_webhook_deliveries_total{outcome=\"delivered\"} %llu\n"
	        "pinbridge_webhook_deliveries_total{outcome=\"retry\"} %llu\n"
	        "pinbridge_webhook_deliveries_total{outcome=\"dead\"} %llu\n",
	        (unsigned long long)atomic_load(&s->delivered),
	        (unsigned long long)atomic_load(&s->retry),
	        (unsigned long long)atomic_load(&s->dead));
	print_latency(f, s);
	if (fclose(f) != 0) {
		free(buf);
		return ENOMEM;
	}
	*out = buf;
	return 0;
}
