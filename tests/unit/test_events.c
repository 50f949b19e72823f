/* Tests core/events on a temporary store: the signature against an HMAC
 * vector computed outside pinbridge, backoff bounds, the deallocation
 * payload key by key, listing and replay, and the worker against a small
 * HTTP receiver in this process: delivered, retried with the same delivery
 * id, dead on 4xx and on redirects, max_age, a removed tenant, the
 * concurrency limit, and a stop that leaves a hung delivery pending. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/base/clock.h"
#include "core/events.h"
#include "fixture.h"
#include "webhook_receiver.h"

/* --- the fixture: config with the receiver's port, a store, the worker --- */

static struct fixture f;
static struct events *ev;
static const struct tenant *tt, *t2, *lister, *quiet;

static int setup(void **state)
{
	static char conf[2048];

	if (rx_start() != 0)
		return -1;
	snprintf(
	    conf, sizeof(conf),
	    "tenants = ( { id = \"t\"; api_key = \"k\"; api_token = \"s\"; country = \"91\";\n"
	    "  vns = [\"+916292134400-+916292134409\"]; pin = { a = true; b = true; };\n"
	    "  webhooks = { secret = \"s3cret\"; backoff = \"50ms\"; max_age = \"1h\";\n"
	    "    concurrency = 2; retention = \"1h\";\n"
	    "    deallocation = \"http://127.0.0.1:%d/ok\"; }; },\n"
	    " { id = \"t2\"; api_key = \"k2\"; api_token = \"s\"; country = \"91\";\n"
	    "  vns = [\"+916292134410-+916292134419\"];\n"
	    "  webhooks = { secret = \"other\"; backoff = \"50ms\"; max_age = \"400ms\"; }; },\n"
	    " { id = \"lister\"; api_key = \"k3\"; api_token = \"s\"; country = \"91\";\n"
	    "  vns = [\"+916292134420-+916292134429\"]; },\n"
	    " { id = \"quiet\"; api_key = \"k4\"; api_token = \"s\"; country = \"91\";\n"
	    "  vns = [\"+916292134430-+916292134439\"]; } );\n",
	    rx.port);
	if (fixture_open(&f, conf) != 0)
		return -1;
	tt = config_tenant(f.cfg, "t");
	t2 = config_tenant(f.cfg, "t2");
	lister = config_tenant(f.cfg, "lister");
	quiet = config_tenant(f.cfg, "quiet");
	config_install(config_ref(f.cfg));
	*state = &f;
	return events_start(&ev, f.st);
}

static int teardown(void **state)
{
	(void)state;
	events_stop(ev);
	fixture_close(&f);
	rx_stop();
	return 0;
}

/* --- helpers --- */

struct add_job {
	const struct tenant *t;
	const char *type, *url, *body;
	const struct store_alloc *rec; /* non-NULL: a deallocation event */
	int64_t now;
	int rc;
	uint64_t seq; /* the newest pending event of t after the add, 0 = none */
};

static int last_hit(void *arg, const struct store_event *e)
{
	*(uint64_t *)arg = e->seq;
	return 0;
}

/* Finds the new event in the same transaction: the worker may have sent it
 * before the test could look. */
static int add_step(struct store_txn *txn, void *arg, size_t step)
{
	struct add_job *j = arg;

	(void)step;
	j->rc = j->rec ? events_add_deallocation(txn, j->t, j->rec, j->now)
	               : events_add(txn, j->t, j->type, j->url, j->body, strlen(j->body), j->now);
	j->seq = 0;
	if (j->rc == 0)
		store_event_scan(txn, j->t->id, STORE_EV_PENDING, 0, last_hit, &j->seq);
	return j->rc;
}

/* The newest pending event of tenant id, or 0. */
static uint64_t newest_pending(const char *tenant)
{
	struct store_txn *txn;
	uint64_t seq = 0;

	assert_int_equal(store_read_begin(f.st, &txn), 0);
	store_event_scan(txn, tenant, STORE_EV_PENDING, 0, last_hit, &seq);
	store_read_end(txn);
	return seq;
}

static uint64_t pending_count(const char *tenant)
{
	struct store_txn *txn;
	uint64_t n;

	assert_int_equal(store_read_begin(f.st, &txn), 0);
	n = store_event_pending_count(txn, tenant);
	store_read_end(txn);
	return n;
}

/* Adds an event to path on the receiver; returns its seq. */
static uint64_t add_at(const struct tenant *t, const char *type, const char *path, const char *body,
                       int64_t now)
{
	char url[128];
	struct add_job j = {.t = t, .type = type, .url = url, .body = body, .now = now};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", rx.port, path);
	assert_int_equal(store_write(f.st, add_step, &j, 1), 0);
	assert_int_equal(j.rc, 0);
	assert_true(j.seq > 0);
	events_kick(ev);
	return j.seq;
}

static void get_event(uint64_t seq, struct store_event *out)
{
	struct store_txn *txn;

	assert_int_equal(store_read_begin(f.st, &txn), 0);
	assert_int_equal(store_event_get(txn, seq, out), 0);
	store_read_end(txn);
}

/* Waits up to ms for event seq to reach state; the event as it is then. */
static void wait_state(uint64_t seq, int state, int ms, struct store_event *out)
{
	for (int i = 0; i < ms / 10; i++) {
		get_event(seq, out);
		if (out->state == state)
			return;
		usleep(10000);
	}
	fail_msg("event %llu: state %d after %d ms, wanted %d (last error \"%s\")",
	         (unsigned long long)seq, out->state, ms, state, out->last_error);
}

static const char *const dealloc_keys[] = {
    "transaction_id", "aparty_numbers", "bparty_numbers", "aparty_vns",  "bparty_vns",
    "aparty_pins",    "bparty_pins",    "usage",          "greenpin_id", "state"};

static void mk_rec(struct store_alloc *r, const char *bpin)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < STORE_ID_LEN; i++)
		r->id[i] = (uint8_t)(0xa0 + i);
	strcpy(r->tenant, "t");
	strcpy(r->txn_id, "order-42");
	r->usage = bpin ? STORE_TWOWAY : STORE_ONEWAY;
	r->state = STORE_VAULT;
	r->side[0].nnumbers = 1;
	strcpy(r->side[0].numbers[0], "+919800000001");
	r->side[0].nvns = 2;
	strcpy(r->side[0].vns[0], "+916292134400");
	strcpy(r->side[0].vns[1], "+916292134401");
	strcpy(r->side[0].pin, "0713");
	r->side[1].nnumbers = 2;
	strcpy(r->side[1].numbers[0], "+919800000002");
	strcpy(r->side[1].numbers[1], "+919800000003");
	r->side[1].nvns = 1;
	strcpy(r->side[1].vns[0], "+916292134402");
	if (bpin)
		strcpy(r->side[1].pin, bpin);
}

static void assert_strings(const cJSON *a, int n, ...)
{
	va_list ap;

	assert_true(cJSON_IsArray(a));
	assert_int_equal(cJSON_GetArraySize(a), n);
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const cJSON *it = cJSON_GetArrayItem(a, i);

		assert_true(cJSON_IsString(it));
		assert_string_equal(it->valuestring, va_arg(ap, const char *));
	}
	va_end(ap);
}

/* --- pure pieces --- */

static void test_sign_vector(void **state)
{
	/* python3: hmac.new(b"change-me", b"1700000000." + body,
	 * hashlib.sha256).hexdigest() */
	static const char body[] = "{\"transaction_id\":\"t-1\",\"state\":\"vault\"}";
	char out[128];

	(void)state;
	events_sign("change-me", 1700000000, body, strlen(body), out, sizeof(out));
	assert_string_equal(
	    out,
	    "t=1700000000,v1=cbf25f770591c7b4f570bfb515e7e7cea5c76bd9b8c9dd5909aee97effe67894");
	/* A UTF-8 secret and an empty body: hmac.new("s3crét".encode(), b"0.") */
	events_sign("s3cr\xc3\xa9t", 0, "", 0, out, sizeof(out));
	assert_string_equal(
	    out, "t=0,v1=ddaad4640c13bd5e2e82d37b156e63c1aae6f7bc7fcbc6a139bc345afe1c4cea");
}

static void test_backoff(void **state)
{
	(void)state;
	for (uint32_t n = 1; n <= 40; n++) {
		int64_t lo = INT64_MAX, hi = 0;

		for (int k = 0; k < 200; k++) {
			int64_t b = events_backoff_ms(1000, n);
			int64_t base = n <= 12 ? 1000LL << (n - 1) : 3600000;

			if (base > 3600000)
				base = 3600000;
			assert_true(b >= base / 2);
			assert_true(b < base * 3 / 2 || b == 3600000);
			assert_true(b <= 3600000);
			lo = b < lo ? b : lo;
			hi = b > hi ? b : hi;
		}
		/* Jittered, not constant (while under the cap's ceiling). */
		if (n <= 10)
			assert_true(hi > lo);
	}
	/* Growth: attempt 6 waits longer than attempt 1 every time. */
	for (int k = 0; k < 100; k++)
		assert_true(events_backoff_ms(100, 6) > events_backoff_ms(100, 1));
	/* Sub-second bases stay sub-second at first. */
	for (int k = 0; k < 100; k++)
		assert_true(events_backoff_ms(50, 1) < 75);
}

/* --- writing events --- */

static void test_dealloc_payload(void **state)
{
	struct store_alloc rec;
	int64_t later = clock_now_ms() + 3600 * 1000; /* not due during the tests */
	const char *bpins[] = {"884", NULL};

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct add_job j = {.t = tt, .rec = &rec, .now = later};
		struct store_event e;
		cJSON *o, *it;
		int i = 0;

		mk_rec(&rec, bpins[k]);
		assert_int_equal(store_write(f.st, add_step, &j, 1), 0);
		assert_int_equal(j.rc, 0);
		get_event(j.seq, &e);
		assert_string_equal(e.type, "deallocation");
		assert_string_equal(e.url, tt->webhooks.deallocation);
		assert_int_equal(e.created_ms, later);
		assert_int_equal(e.due_ms, later);
		assert_int_equal(e.attempts, 0);
		assert_int_equal(e.delivery_id[6] >> 4, 4); /* UUID v4 */
		o = cJSON_ParseWithLength(e.body, e.body_len);
		assert_non_null(o);
		cJSON_ArrayForEach(it, o)
		{
			assert_true(i < 10);
			assert_string_equal(it->string, dealloc_keys[i++]);
		}
		assert_int_equal(i, 10);
		assert_string_equal(cJSON_GetObjectItem(o, "transaction_id")->valuestring,
		                    "order-42");
		assert_strings(cJSON_GetObjectItem(o, "aparty_numbers"), 1, "+919800000001");
		assert_strings(cJSON_GetObjectItem(o, "bparty_numbers"), 2, "+919800000002",
		               "+919800000003");
		assert_strings(cJSON_GetObjectItem(o, "aparty_vns"), 2, "+916292134400",
		               "+916292134401");
		assert_strings(cJSON_GetObjectItem(o, "bparty_vns"), 1, "+916292134402");
		assert_strings(cJSON_GetObjectItem(o, "aparty_pins"), 1, "0713");
		if (bpins[k])
			assert_strings(cJSON_GetObjectItem(o, "bparty_pins"), 1, "884");
		else
			assert_strings(cJSON_GetObjectItem(o, "bparty_pins"), 0);
		assert_string_equal(cJSON_GetObjectItem(o, "usage")->valuestring,
		                    bpins[k] ? "twoway" : "oneway");
		assert_string_equal(cJSON_GetObjectItem(o, "greenpin_id")->valuestring,
		                    "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
		assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "vault");
		cJSON_Delete(o);
	}
}

static void test_no_url_no_event(void **state)
{
	struct store_alloc rec;
	struct add_job j = {.t = quiet, .rec = &rec, .now = clock_now_ms()};
	uint64_t before = pending_count(NULL);

	(void)state;
	mk_rec(&rec, NULL);
	strcpy(rec.tenant, "quiet");
	assert_int_equal(store_write(f.st, add_step, &j, 1), 0);
	assert_int_equal(j.rc, 0);
	j = (struct add_job){.t = tt, .type = "deallocation", .url = "", .body = "{}"};
	assert_int_equal(store_write(f.st, add_step, &j, 1), 0);
	assert_int_equal(j.rc, 0);
	assert_int_equal(pending_count("quiet"), 0);
	assert_int_equal(pending_count(NULL), before);
	assert_int_equal(newest_pending("quiet"), 0);
}

/* --- listing and replay (events of "lister" are never due) --- */

static void test_list_paging(void **state)
{
	int64_t later = clock_now_ms() + 3600 * 1000;
	struct events_page p;
	uint64_t seq[5];
	char cursor[32];

	(void)state;
	for (int i = 0; i < 5; i++)
		seq[i] = add_at(lister, "deallocation", "/ok", "{}", later);
	events_list(ev, lister, NULL, "2", NULL, &p);
	assert_int_equal(p.code, AC_OK);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.items[0].seq, seq[0]);
	assert_int_equal(p.items[1].seq, seq[1]);
	assert_string_not_equal(p.next_cursor, "");
	snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
	events_page_free(&p);
	events_list(ev, lister, "pending", "2", cursor, &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.items[0].seq, seq[2]);
	snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
	events_page_free(&p);
	events_list(ev, lister, "pending", NULL, cursor, &p);
	assert_int_equal(p.code, AC_OK);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.items[0].seq, seq[4]);
	assert_string_equal(p.next_cursor, "");
	events_page_free(&p);
	/* Exactly a full page: no cursor to an empty page. */
	events_list(ev, lister, "pending", "5", NULL, &p);
	assert_int_equal(p.n, 5);
	assert_string_equal(p.next_cursor, "");
	events_page_free(&p);
	/* Other states and other tenants see none of these. */
	events_list(ev, lister, "dead", NULL, NULL, &p);
	assert_int_equal(p.code, AC_OK);
	assert_int_equal(p.n, 0);
	events_page_free(&p);
	events_list(ev, quiet, "pending", NULL, NULL, &p);
	assert_int_equal(p.n, 0);
	events_page_free(&p);
}

static void test_list_bad_params(void **state)
{
	const char *bad[][3] = {
	    {"failed", NULL, NULL}, {"PENDING", NULL, NULL}, {NULL, "0", NULL},
	    {NULL, "501", NULL},    {NULL, "ten", NULL},     {NULL, "-1", NULL},
	    {NULL, NULL, "abc"},    {NULL, NULL, "-5"},      {NULL, NULL, "99999999999999999999"},
	};
	struct events_page p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		events_list(ev, lister, bad[i][0], bad[i][1], bad[i][2], &p);
		assert_int_equal(p.code, AC_BAD_PARAM);
		assert_string_not_equal(p.message, "");
		assert_null(p.items);
	}
	events_list(ev, lister, "delivered", "500", "0", &p);
	assert_int_equal(p.code, AC_OK);
	events_page_free(&p);
}

static void test_retry_refusals(void **state)
{
	struct store_event e, out;
	uint8_t nobody[STORE_ID_LEN] = {1, 2, 3};
	char msg[200];

	(void)state;
	get_event(newest_pending("lister"), &e);
	assert_int_equal(events_retry(ev, lister, e.delivery_id, &out, msg, sizeof(msg)),
	                 AC_BAD_PARAM);
	assert_string_equal(msg, "only dead events can be retried; this one is pending");
	/* Another tenant's event is indistinguishable from a missing one. */
	assert_int_equal(events_retry(ev, quiet, e.delivery_id, &out, msg, sizeof(msg)),
	                 AC_NOT_FOUND);
	assert_int_equal(events_retry(ev, lister, nobody, &out, msg, sizeof(msg)), AC_NOT_FOUND);
}

/* --- the worker --- */

static void test_delivered_signed(void **state)
{
	static const char body[] = "{\"hello\":\"world\"}";
	struct store_event e;
	struct req r;
	char id[37], h[256], sig[128];
	long long ts;

	(void)state;
	uint64_t seq = add_at(tt, "call-completed", "/ok", body, clock_now_ms());

	wait_state(seq, STORE_EV_DELIVERED, 5000, &e);
	assert_int_equal(e.attempts, 1);
	assert_int_equal(e.last_status, 200);
	assert_true(e.done_ms > 0);
	assert_int_equal(e.due_ms, e.done_ms + 3600 * 1000); /* purge after retention */
	assert_int_equal(rx_find("/ok", &r, 1), 1);
	assert_string_equal(r.body, body);
	alloc_id_format(e.delivery_id, id);
	header(&r, "X-Pinbridge-Delivery", h, sizeof(h));
	assert_string_equal(h, id);
	header(&r, "X-Pinbridge-Event", h, sizeof(h));
	assert_string_equal(h, "call-completed");
	header(&r, "Content-Type", h, sizeof(h));
	assert_string_equal(h, "application/json");
	header(&r, "User-Agent", h, sizeof(h));
	assert_string_equal(h, "pinbridge/0.1");
	header(&r, "X-Pinbridge-Signature", h, sizeof(h));
	assert_int_equal(sscanf(h, "t=%lld,", &ts), 1);
	assert_true(ts >= e.created_ms / 1000 - 1 && ts <= e.done_ms / 1000 + 1);
	events_sign("s3cret", ts, body, strlen(body), sig, sizeof(sig));
	assert_string_equal(h, sig);
}

static void test_retried_same_id(void **state)
{
	struct store_event e;
	struct req r[4];
	char id[37], h[64];

	(void)state;
	uint64_t seq = add_at(tt, "deallocation", "/flaky", "{}", clock_now_ms());

	wait_state(seq, STORE_EV_DELIVERED, 5000, &e);
	assert_int_equal(e.attempts, 3);
	assert_int_equal(e.last_status, 200);
	assert_int_equal(rx_find("/flaky", r, 4), 3);
	alloc_id_format(e.delivery_id, id);
	for (int i = 0; i < 3; i++) {
		header(&r[i], "X-Pinbridge-Delivery", h, sizeof(h));
		assert_string_equal(h, id);
	}
}

static void test_dead_then_replayed(void **state)
{
	struct store_event e, out;
	struct events_page p;
	char msg[200], id[37], h[64];
	static struct req r[MAX_REQS];
	bool listed = false;
	int n;

	(void)state;
	uint64_t seq = add_at(tt, "deallocation", "/bad", "{\"x\":1}", clock_now_ms());

	wait_state(seq, STORE_EV_DEAD, 5000, &e);
	assert_int_equal(e.attempts, 1);
	assert_int_equal(e.last_status, 400);
	assert_string_equal(e.last_error, "HTTP 400");
	events_list(ev, tt, "dead", "500", NULL, &p);
	for (size_t i = 0; i < p.n; i++)
		listed |= p.items[i].seq == seq;
	events_page_free(&p);
	assert_true(listed);
	/* Replay: pending again with attempts reset; it goes where the
	 * tenant's deallocation webhook points now (/ok), same delivery id. */
	assert_int_equal(events_retry(ev, tt, e.delivery_id, &out, msg, sizeof(msg)), AC_OK);
	assert_int_equal(out.seq, seq);
	assert_int_equal(out.state, STORE_EV_PENDING);
	assert_int_equal(out.attempts, 0);
	assert_int_equal(out.done_ms, 0);
	assert_string_equal(out.url, tt->webhooks.deallocation);
	wait_state(seq, STORE_EV_DELIVERED, 5000, &e);
	alloc_id_format(e.delivery_id, id);
	n = rx_find("/ok", r, MAX_REQS);
	header(&r[n - 1], "X-Pinbridge-Delivery", h, sizeof(h));
	assert_string_equal(h, id);
	assert_string_equal(r[n - 1].body, "{\"x\":1}");
}

static void test_redirect_not_followed(void **state)
{
	struct store_event e;
	struct req r[2];

	(void)state;
	uint64_t seq = add_at(tt, "deallocation", "/moved", "{}", clock_now_ms());
	int before = rx_count("/ok");

	wait_state(seq, STORE_EV_DEAD, 5000, &e);
	assert_int_equal(e.last_status, 302);
	assert_non_null(strstr(e.last_error, "redirect not followed"));
	assert_int_equal(rx_find("/moved", r, 2), 1);
	usleep(100000);
	assert_int_equal(rx_count("/ok"), before); /* Location was not visited */
}

static void test_max_age(void **state)
{
	struct store_event e;

	(void)state;
	uint64_t seq = add_at(t2, "deallocation", "/fail", "{}", clock_now_ms());

	wait_state(seq, STORE_EV_DEAD, 5000, &e);
	assert_true(e.attempts >= 2);
	assert_int_equal(e.last_status, 500);
	assert_non_null(strstr(e.last_error, "gave up after max_age"));
	assert_true(e.done_ms - e.first_ms >= 400);
}

static void test_tenant_removed(void **state)
{
	struct tenant gone = {.id = "gone"};
	struct store_event e;
	struct req r[2];

	(void)state;
	uint64_t seq = add_at(&gone, "deallocation", "/gone", "{}", clock_now_ms());

	wait_state(seq, STORE_EV_DEAD, 5000, &e);
	assert_string_equal(e.last_error, "tenant removed");
	assert_int_equal(e.attempts, 0);
	assert_int_equal(rx_find("/gone", r, 2), 0);
}

static void test_concurrency_limit(void **state)
{
	struct store_event e;
	uint64_t seq[6];

	(void)state;
	for (int i = 0; i < 6; i++)
		seq[i] = add_at(tt, "deallocation", "/slow", "{}", clock_now_ms());
	for (int i = 0; i < 6; i++)
		wait_state(seq[i], STORE_EV_DELIVERED, 10000, &e);
	pthread_mutex_lock(&rx.mu);
	int max = rx.slow_max;
	pthread_mutex_unlock(&rx.mu);
	assert_int_equal(max, 2); /* in parallel, and never above t's concurrency */
}

static void test_metrics(void **state)
{
	char *text = NULL;

	(void)state;
	assert_int_equal(events_metrics_text(ev, f.cfg, &text), 0);
	assert_non_null(strstr(text, "pinbridge_webhook_queue_depth{tenant=\"lister\"} 5\n"));
	assert_non_null(strstr(text, "pinbridge_webhook_queue_depth{tenant=\"quiet\"} 0\n"));
	assert_null(strstr(text, "pinbridge_webhook_deliveries_total{outcome=\"delivered\"} 0\n"));
	assert_null(strstr(text, "pinbridge_webhook_deliveries_total{outcome=\"retry\"} 0\n"));
	assert_null(strstr(text, "pinbridge_webhook_deliveries_total{outcome=\"dead\"} 0\n"));
	assert_non_null(strstr(text, "pinbridge_webhook_delivery_seconds_bucket{le=\"+Inf\"} "));
	assert_non_null(strstr(text, "pinbridge_webhook_delivery_seconds_count "));
	free(text);
}

/* Stopping cuts a hung delivery off; it stays pending, unrecorded, and the
 * next worker delivers it with the same delivery id. */
static void test_stop_keeps_pending(void **state)
{
	struct store_event e;
	struct req r[4];
	char id[37], h[64];
	int64_t t0;

	(void)state;
	uint64_t seq = add_at(tt, "deallocation", "/hang", "{}", clock_now_ms());

	for (int i = 0; i < 500 && rx_find("/hang", r, 4) == 0; i++)
		usleep(10000);
	assert_int_equal(rx_find("/hang", r, 4), 1);
	t0 = clock_mono_ms();
	events_stop(ev);
	assert_true(clock_mono_ms() - t0 < 4000);
	get_event(seq, &e);
	assert_int_equal(e.state, STORE_EV_PENDING);
	assert_int_equal(e.attempts, 0);
	assert_int_equal(events_start(&ev, f.st), 0);
	wait_state(seq, STORE_EV_DELIVERED, 5000, &e);
	assert_int_equal(rx_find("/hang", r, 4), 2);
	alloc_id_format(e.delivery_id, id);
	for (int i = 0; i < 2; i++) {
		header(&r[i], "X-Pinbridge-Delivery", h, sizeof(h));
		assert_string_equal(h, id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_vector),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_dealloc_payload),
	    cmocka_unit_test(test_no_url_no_event),
	    cmocka_unit_test(test_list_paging),
	    cmocka_unit_test(test_list_bad_params),
	    cmocka_unit_test(test_retry_refusals),
	    cmocka_unit_test(test_delivered_signed),
	    cmocka_unit_test(test_retried_same_id),
	    cmocka_unit_test(test_dead_then_replayed),
	    cmocka_unit_test(test_redirect_not_followed),
	    cmocka_unit_test(test_max_age),
	    cmocka_unit_test(test_tenant_removed),
	    cmocka_unit_test(test_concurrency_limit),
	    cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_stop_keeps_pending),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
