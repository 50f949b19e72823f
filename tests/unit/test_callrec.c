/* Tests core/calls on a temporary store: finishing a record (durations,
 * purge time, the call-completed event only when the tenant has a URL), the
 * event body field by field in the tenant's offset with the allocation's
 * transaction_id, start-up recovery of records a crash left in progress,
 * the retention purge, and the listing: paging, date and greenpin filters,
 * filter errors, and tenant isolation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/calls.h"
#include "fixture.h"

/* 2020-03-23T12:58:02.123Z, the reference's example call. */
#define T0 1584968282123LL

static const char conf[] =
    "tenants = ( { id = \"t\"; api_key = \"k\"; api_token = \"s\"; country = \"91\";\n"
    "  timezone = \"+05:30\"; vns = [\"+916292134400-+916292134409\"];\n"
    "  calls = { retention = \"1h\"; };\n"
    "  webhooks = { secret = \"s3cret\"; call_completed = \"http://127.0.0.1:9/cc\"; }; },\n"
    " { id = \"q\"; api_key = \"k2\"; api_token = \"s\"; country = \"91\";\n"
    "  vns = [\"+916292134410-+916292134419\"]; } );\n";

static struct fixture f;
static const struct tenant *tt, *tq;

static int setup(void **state)
{
	(void)state;
	if (fixture_open(&f, conf) != 0)
		return -1;
	tt = config_tenant(f.cfg, "t");
	tq = config_tenant(f.cfg, "q");
	return tt && tq ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fixture_close(&f);
	return 0;
}

/* --- helpers --- */

static struct store_call new_call(const char *tenant, int64_t started_ms)
{
	struct store_call c;

	memset(&c, 0, sizeof(c));
	calls_new_sid(c.call_sid);
	snprintf(c.tenant, sizeof(c.tenant), "%s", tenant);
	snprintf(c.vn, sizeof(c.vn), "%s", "+916292134401");
	snprintf(c.from, sizeof(c.from), "%s", "+917987686144");
	c.state = STORE_CALL_IN_PROGRESS;
	c.started_ms = started_ms;
	return c;
}

struct put_job {
	const struct store_call *c;
	int rc;
};

static int put_step(struct store_txn *txn, void *arg, size_t i)
{
	struct put_job *j = arg;

	(void)i;
	j->rc = store_call_put(txn, j->c);
	return j->rc;
}

static void put_call(const struct store_call *c)
{
	struct put_job j = {.c = c};

	assert_int_equal(store_write(f.st, put_step, &j, 1), 0);
	assert_int_equal(j.rc, 0);
}

struct finish_job {
	const struct tenant *t;
	struct store_call *c;
	int64_t now;
	int rc;
};

static int finish_step(struct store_txn *txn, void *arg, size_t i)
{
	struct finish_job *j = arg;

	(void)i;
	j->rc = calls_finish(txn, j->t, j->c, j->now);
	return j->rc;
}

static void finish(const struct tenant *t, struct store_call *c, int64_t now)
{
	struct finish_job j = {.t = t, .c = c, .now = now};

	assert_int_equal(store_write(f.st, finish_step, &j, 1), 0);
	assert_int_equal(j.rc, 0);
}

static struct store_call get_call(const char *sid)
{
	struct store_txn *txn;
	struct store_call c;

	assert_int_equal(store_read_begin(f.st, &txn), 0);
	assert_int_equal(store_call_get(txn, sid, &c), 0);
	store_read_end(txn);
	return c;
}

/* The pending events of a tenant: how many, and the parsed body and type of
 * the one about call_sid (NULL when none is). */
struct ev_find {
	const char *sid;
	int n;
	cJSON *body;
	char type[STORE_EVENT_TYPE_MAX], url[STORE_EVENT_URL_MAX];
};

static int ev_hit(void *arg, const struct store_event *ev)
{
	struct ev_find *e = arg;
	cJSON *b = cJSON_ParseWithLength(ev->body, ev->body_len);
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(b, "call_sid");

	e->n++;
	if (e->sid && cJSON_IsString(sid) && !strcmp(sid->valuestring, e->sid)) {
		cJSON_Delete(e->body);
		e->body = b;
		memcpy(e->type, ev->type, sizeof(e->type));
		memcpy(e->url, ev->url, sizeof(e->url));
		return 0;
	}
	cJSON_Delete(b);
	return 0;
}

static struct ev_find events_of(const char *tenant, const char *sid)
{
	struct ev_find e = {.sid = sid};
	struct store_txn *txn;

	assert_int_equal(store_read_begin(f.st, &txn), 0);
	assert_int_equal(store_event_scan(txn, tenant, STORE_EV_PENDING, 0, ev_hit, &e), 0);
	store_read_end(txn);
	return e;
}

static void assert_str(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v))
		fail_msg("%s is not a string", key);
	assert_string_equal(v->valuestring, want);
}

static void assert_json_null(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNull(v))
		fail_msg("%s is not null", key);
}

static void assert_int(const cJSON *o, const char *key, int want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("%s is not a number", key);
	assert_int_equal(v->valueint, want);
	assert_true(v->valuedouble == (double)want);
}

static struct store_alloc make_alloc(const char *txn_id, const struct tenant *t, const char *vn)
{
	struct alloc_result res;
	struct alloc_req r;

	fixture_req(&r, txn_id);
	r.side[0].has_numbers = r.side[1].has_numbers = r.side[0].has_vns = true;
	fixture_add(r.side[0].numbers, &r.side[0].nnumbers, "7987686144");
	fixture_add(r.side[1].numbers, &r.side[1].nnumbers, "9995551625");
	fixture_add(r.side[0].vns, &r.side[0].nvns, vn);
	alloc_create(f.svc, f.cfg, t, &r, &res);
	assert_int_equal(res.code, AC_OK);
	return res.rec;
}

/* --- finishing --- */

static void test_names_and_sid(void **state)
{
	char a[STORE_SID_LEN + 1], b[STORE_SID_LEN + 1];

	(void)state;
	calls_new_sid(a);
	calls_new_sid(b);
	assert_int_equal(strlen(a), STORE_SID_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), STORE_SID_LEN);
	assert_string_not_equal(a, b);
	assert_string_equal(calls_type_name(STORE_CT_COMPLETED), "completed");
	assert_string_equal(calls_type_name(STORE_CT_CLIENT_HANGUP), "client-hangup");
	assert_string_equal(calls_type_name(STORE_CT_INCOMPLETE), "incomplete");
	assert_string_equal(calls_type_name(STORE_CT_CALL_ATTEMPT), "call-attempt");
	assert_string_equal(calls_type_name(STORE_CT_FAILED), "failed");
	assert_null(calls_dial_status_name(STORE_DIAL_NONE));
	assert_string_equal(calls_dial_status_name(STORE_DIAL_NO_ANSWER), "no-answer");
	assert_string_equal(calls_dial_status_name(STORE_DIAL_CANCELED), "canceled");
	assert_null(calls_rec_status_name(STORE_RECST_NONE));
	assert_string_equal(calls_rec_status_name(STORE_RECST_RECORDING), "in-progress");
	assert_string_equal(calls_rec_status_name(STORE_RECST_COMPLETED), "completed");
	assert_string_equal(calls_rec_status_name(STORE_RECST_PARTIAL), "partial");
	assert_string_equal(calls_rec_status_name(STORE_RECST_FAILED), "failed");
}

static void test_finish_durations_and_purge(void **state)
{
	struct store_call c = new_call("t", T0), back;

	(void)state;
	put_call(&c);
	c.answered_ms = T0 + 2500;
	c.ended_ms = T0 + 20999;
	c.call_type = STORE_CT_COMPLETED;
	c.dial_status = STORE_DIAL_COMPLETED;
	finish(tt, &c, T0 + 30000);
	assert_int_equal(c.state, STORE_CALL_COMPLETED);
	assert_int_equal(c.dial_call_duration, 20); /* 20.999 s, truncated */
	assert_int_equal(c.on_call_duration, 18);   /* 18.499 s */
	assert_int_equal(c.ended_ms, T0 + 20999);   /* kept: it was set */
	assert_int_equal(c.purge_ms, T0 + 20999 + 3600 * 1000);
	back = get_call(c.call_sid);
	assert_int_equal(back.state, STORE_CALL_COMPLETED);
	assert_int_equal(back.dial_call_duration, 20);
	assert_int_equal(back.on_call_duration, 18);
	assert_int_equal(back.purge_ms, c.purge_ms);

	/* dialled, never answered, no end yet: ended is now, no talk */
	c = new_call("t", T0);
	put_call(&c);
	c.call_type = STORE_CT_CLIENT_HANGUP;
	c.dial_status = STORE_DIAL_CANCELED;
	finish(tt, &c, T0 + 7400);
	assert_int_equal(c.ended_ms, T0 + 7400);
	assert_int_equal(c.dial_call_duration, 7);
	assert_int_equal(c.on_call_duration, 0);

	/* never dialled: neither */
	c = new_call("t", T0);
	put_call(&c);
	c.call_type = STORE_CT_CALL_ATTEMPT;
	finish(tt, &c, T0 + 7400);
	assert_int_equal(c.dial_call_duration, 0);
	assert_int_equal(c.on_call_duration, 0);
}

static void test_event_only_with_url(void **state)
{
	struct store_call c = new_call("t", T0), d = new_call("q", T0);
	struct ev_find e;

	(void)state;
	c.call_type = STORE_CT_CALL_ATTEMPT;
	finish(tt, &c, T0 + 1000);
	e = events_of("t", c.call_sid);
	assert_int_equal(e.n, 1);
	assert_non_null(e.body);
	assert_string_equal(e.type, "call-completed");
	assert_string_equal(e.url, "http://127.0.0.1:9/cc");
	cJSON_Delete(e.body);

	/* q has no call_completed URL: the record finishes, no event */
	finish(tq, &d, T0 + 1000);
	assert_int_equal(get_call(d.call_sid).state, STORE_CALL_COMPLETED);
	e = events_of("q", NULL);
	assert_int_equal(e.n, 0);
}

static void test_event_body(void **state)
{
	struct store_alloc rec = make_alloc("txn-42", tt, "6292134401");
	struct store_call c = new_call("t", T0);
	struct ev_find e;
	char gid[37];

	(void)state;
	c.has_alloc = true;
	memcpy(c.greenpin_id, rec.id, STORE_ID_LEN);
	snprintf(c.to, sizeof(c.to), "%s", "+919995551625");
	snprintf(c.recording_url, sizeof(c.recording_url), "%s", "file:///rec/x.wav");
	c.rec_status = STORE_RECST_PARTIAL;
	c.answered_ms = T0 + 2500;
	c.ended_ms = T0 + 20999;
	c.call_type = STORE_CT_COMPLETED;
	c.dial_status = STORE_DIAL_COMPLETED;
	finish(tt, &c, T0 + 30000);
	e = events_of("t", c.call_sid);
	assert_non_null(e.body);
	alloc_id_format(rec.id, gid);
	assert_str(e.body, "transaction_id", "txn-42");
	assert_str(e.body, "call_sid", c.call_sid);
	assert_str(e.body, "vn", "+916292134401");
	assert_str(e.body, "greenpin_id", gid);
	assert_str(e.body, "from", "+917987686144");
	assert_str(e.body, "to", "+919995551625");
	assert_str(e.body, "call_type", "completed");
	assert_str(e.body, "start_time", "2020-03-23T18:28:02+05:30");
	assert_str(e.body, "current_time", "2020-03-23T18:28:32+05:30");
	assert_int(e.body, "dial_call_duration", 20);
	assert_int(e.body, "on_call_duration", 18);
	assert_str(e.body, "direction", "incoming");
	assert_str(e.body, "recording_url", "file:///rec/x.wav");
	assert_str(e.body, "dial_call_status", "completed");
	assert_str(e.body, "source", "pinbridge");
	assert_str(e.body, "started_at", "2020-03-23T18:28:02.123+05:30");
	assert_str(e.body, "answered_at", "2020-03-23T18:28:04.623+05:30");
	assert_str(e.body, "ended_at", "2020-03-23T18:28:23.122+05:30");
	assert_str(e.body, "recording_status", "partial");
	assert_int_equal(cJSON_GetArraySize(e.body), 19);
	/* ours after the reference's: recording_status comes last */
	assert_string_equal(cJSON_GetArrayItem(e.body, 18)->string, "recording_status");
	cJSON_Delete(e.body);
}

static void test_event_body_nulls(void **state)
{
	struct store_call c = new_call("t", T0), d = new_call("t", T0);
	uint8_t gone[STORE_ID_LEN];
	struct ev_find e;
	char gid[37];

	(void)state;
	/* not dialled, no allocation picked */
	c.call_type = STORE_CT_CALL_ATTEMPT;
	finish(tt, &c, T0 + 4000);
	e = events_of("t", c.call_sid);
	assert_non_null(e.body);
	assert_json_null(e.body, "transaction_id");
	assert_json_null(e.body, "greenpin_id");
	assert_json_null(e.body, "to");
	assert_json_null(e.body, "recording_url");
	assert_json_null(e.body, "recording_status"); /* not recorded */
	assert_json_null(e.body, "dial_call_status");
	assert_json_null(e.body, "answered_at");
	assert_str(e.body, "call_type", "call-attempt");
	assert_int(e.body, "dial_call_duration", 0);
	assert_int(e.body, "on_call_duration", 0);
	assert_str(e.body, "ended_at", "2020-03-23T18:28:06.123+05:30");
	cJSON_Delete(e.body);

	/* an allocation that is gone: its id is shown, its transaction_id null */
	memset(gone, 0x42, sizeof(gone));
	d.has_alloc = true;
	memcpy(d.greenpin_id, gone, STORE_ID_LEN);
	d.call_type = STORE_CT_INCOMPLETE;
	d.dial_status = STORE_DIAL_BUSY;
	finish(tt, &d, T0 + 4000);
	e = events_of("t", d.call_sid);
	assert_non_null(e.body);
	alloc_id_format(gone, gid);
	assert_json_null(e.body, "transaction_id");
	assert_str(e.body, "greenpin_id", gid);
	assert_str(e.body, "dial_call_status", "busy");
	cJSON_Delete(e.body);
}

static void test_record_json(void **state)
{
	struct store_call c = new_call("t", T0);
	cJSON *o;

	(void)state;
	c.rec_status = STORE_RECST_RECORDING;
	put_call(&c);
	o = calls_record_json(f.st, tt, &c);
	assert_non_null(o);
	assert_str(o, "state", "in-progress");
	assert_str(o, "recording_status", "in-progress");
	assert_json_null(o, "call_type");
	assert_json_null(o, "ended_at");
	assert_str(o, "start_time", "2020-03-23T18:28:02+05:30");
	cJSON_Delete(o);
	finish(tt, &c, T0 + 1000);
	o = calls_record_json(f.st, tt, &c);
	assert_non_null(o);
	assert_str(o, "state", "completed");
	assert_str(o, "call_type", "completed");
	assert_int_equal(cJSON_GetArraySize(o), 20);
	cJSON_Delete(o);
}

/* --- recovery and purge --- */

static void test_recover(void **state)
{
	struct store_call a = new_call("t", T0), b = new_call("gone", T0 + 1),
	                  done = new_call("t", T0);
	struct store_call back;
	struct ev_find e;
	unsigned n = 99;
	const int64_t now = T0 + 60000;

	(void)state;
	a.answered_ms = T0 + 5000;
	a.dial_status = STORE_DIAL_COMPLETED;
	a.rec_status = STORE_RECST_RECORDING; /* its recorder died too */
	snprintf(a.recording_url, sizeof(a.recording_url), "%s", "http://h/rec");
	b.rec_status = STORE_RECST_COMPLETED; /* recorded, then the crash */
	snprintf(b.recording_url, sizeof(b.recording_url), "%s", "http://h/rec");
	put_call(&a);
	put_call(&b);
	finish(tt, &done, T0 + 1000);
	assert_int_equal(calls_recover(f.st, f.cfg, now, &n), 0);
	assert_int_equal(n, 2);

	back = get_call(a.call_sid);
	assert_int_equal(back.state, STORE_CALL_COMPLETED);
	assert_int_equal(back.call_type, STORE_CT_FAILED);
	assert_int_equal(back.dial_status, STORE_DIAL_COMPLETED); /* kept */
	assert_int_equal(back.ended_ms, now);
	assert_int_equal(back.dial_call_duration, 60);
	assert_int_equal(back.on_call_duration, 55);
	assert_int_equal(back.purge_ms, now + 3600 * 1000);
	assert_int_equal(back.rec_status, STORE_RECST_FAILED);
	assert_string_equal(back.recording_url, "");
	e = events_of("t", a.call_sid);
	assert_non_null(e.body);
	assert_str(e.body, "call_type", "failed");
	assert_str(e.body, "recording_status", "failed");
	assert_json_null(e.body, "recording_url");
	cJSON_Delete(e.body);

	/* a tenant no longer configured: finished, default retention, no event */
	back = get_call(b.call_sid);
	assert_int_equal(back.state, STORE_CALL_COMPLETED);
	assert_int_equal(back.call_type, STORE_CT_FAILED);
	assert_int_equal(back.purge_ms, now + 90LL * 86400 * 1000);
	assert_int_equal(back.rec_status, STORE_RECST_COMPLETED); /* a finished file stays */
	assert_string_equal(back.recording_url, "http://h/rec");
	assert_int_equal(events_of("gone", NULL).n, 0);

	/* the completed one is untouched, and nothing is left to recover */
	assert_int_equal(get_call(done.call_sid).ended_ms, T0 + 1000);
	assert_int_equal(calls_recover(f.st, f.cfg, now + 1, &n), 0);
	assert_int_equal(n, 0);
}

static void test_purge(void **state)
{
	struct store_call a = new_call("q", T0), b = new_call("q", T0), open = new_call("q", T0);
	struct store_txn *txn;
	struct store_call c;

	(void)state;
	put_call(&open);
	a.ended_ms = T0 + 1000;
	finish(tq, &a, T0 + 1000); /* q: 90 d retention */
	b.ended_ms = T0 + 5000;
	finish(tq, &b, T0 + 5000);
	assert_int_equal(calls_purge(f.st, a.purge_ms - 1), 0);
	assert_int_equal(calls_purge(f.st, a.purge_ms), 1);
	assert_int_equal(store_read_begin(f.st, &txn), 0);
	assert_int_equal(store_call_get(txn, a.call_sid, &c), ENOENT);
	assert_int_equal(store_call_get(txn, b.call_sid, &c), 0);
	assert_int_equal(store_call_get(txn, open.call_sid, &c), 0);
	store_read_end(txn);
	assert_int_equal(calls_purge(f.st, b.purge_ms + 1000000), 1);
	assert_int_equal(calls_purge(f.st, INT64_MAX / 2), 0); /* in progress: never */
	get_call(open.call_sid);
}

/* --- listing --- */

static void list(const struct tenant *t, struct calls_filter *fl, struct calls_page *p)
{
	calls_list(f.st, t, fl, p);
}

static void test_list_paging(void **state)
{
	struct store_call c[7], other = new_call("q", T0 + 3);
	struct calls_filter fl = {.limit = "3"};
	struct calls_page p;
	char seen[7][STORE_SID_LEN + 1], cursor[64];
	size_t got = 0;

	(void)state;
	for (int i = 0; i < 7; i++) {
		c[i] = new_call("t", T0 + i * 1000);
		put_call(&c[i]);
	}
	put_call(&other);
	for (int page = 0; page < 3; page++) {
		list(tt, &fl, &p);
		assert_int_equal(p.code, AC_OK);
		assert_int_equal(p.n, page < 2 ? 3 : 1);
		for (size_t i = 0; i < p.n; i++) {
			assert_string_equal(p.items[i].tenant, "t");
			memcpy(seen[got++], p.items[i].call_sid, STORE_SID_LEN + 1);
		}
		if (page < 2)
			assert_int_equal(strlen(p.next_cursor), 16 + 1 + STORE_SID_LEN);
		else
			assert_string_equal(p.next_cursor, "");
		snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
		fl.cursor = cursor;
		calls_page_free(&p);
	}
	assert_int_equal(got, 7);
	for (int i = 0; i < 7; i++) /* oldest first, each once */
		assert_string_equal(seen[i], c[i].call_sid);

	/* the default limit takes them all; q sees only its own */
	memset(&fl, 0, sizeof(fl));
	list(tt, &fl, &p);
	assert_int_equal(p.n, 7);
	calls_page_free(&p);
	list(tq, &fl, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.items[0].call_sid, other.call_sid);
	calls_page_free(&p);
}

static void test_list_filters(void **state)
{
	struct store_alloc rec = make_alloc("txn-list", tt, "6292134402");
	struct store_alloc qrec = make_alloc("txn-q", tq, "6292134411");
	struct calls_filter fl;
	struct calls_page p;
	char gid[37], qgid[37];
	/* 06:00 on 2020-03-23 and on 2020-03-24 in t's +05:30 */
	int64_t day = 86400000LL, base = T0 - (12 * 3600 + 58 * 60 + 2) * 1000LL - 123;
	struct store_call a = new_call("t", base + 6 * 3600000LL - 19800000LL);
	struct store_call b = new_call("t", base + day + 6 * 3600000LL - 19800000LL);
	struct store_call q = new_call("q", base + 6 * 3600000LL);

	(void)state;
	a.has_alloc = true;
	memcpy(a.greenpin_id, rec.id, STORE_ID_LEN);
	q.has_alloc = true;
	memcpy(q.greenpin_id, qrec.id, STORE_ID_LEN);
	put_call(&a);
	put_call(&b);
	put_call(&q);
	alloc_id_format(rec.id, gid);
	alloc_id_format(qrec.id, qgid);

	memset(&fl, 0, sizeof(fl));
	fl.from_date = "2020-03-24";
	list(tt, &fl, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.items[0].call_sid, b.call_sid);
	calls_page_free(&p);
	fl.from_date = NULL;
	fl.to_date = "2020-03-23";
	list(tt, &fl, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.items[0].call_sid, a.call_sid);
	calls_page_free(&p);
	fl.from_date = "2020-03-23 00:00:00";
	fl.to_date = "2020-03-24T23:59:59+05:30";
	list(tt, &fl, &p);
	assert_int_equal(p.n, 2);
	calls_page_free(&p);
	/* before 1970: from bounds nothing, to excludes everything */
	fl.from_date = "1960-01-01";
	fl.to_date = NULL;
	list(tt, &fl, &p);
	assert_int_equal(p.n, 2);
	calls_page_free(&p);
	fl.from_date = NULL;
	fl.to_date = "1969-12-31";
	list(tt, &fl, &p);
	assert_int_equal(p.code, AC_OK);
	assert_int_equal(p.n, 0);
	calls_page_free(&p);

	memset(&fl, 0, sizeof(fl));
	fl.greenpin_id = gid;
	list(tt, &fl, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.items[0].call_sid, a.call_sid);
	calls_page_free(&p);
	/* another tenant's greenpin_id lists nothing */
	fl.greenpin_id = qgid;
	list(tt, &fl, &p);
	assert_int_equal(p.code, AC_OK);
	assert_int_equal(p.n, 0);
	calls_page_free(&p);
}

static void expect_error(struct calls_filter *fl, int detail)
{
	struct calls_page p;

	list(tt, fl, &p);
	assert_int_equal(p.code, AC_BAD_PARAM);
	assert_int_equal(p.code_detail, detail);
	assert_true(p.message[0] != '\0');
	assert_int_equal(p.n, 0);
	calls_page_free(&p);
	memset(fl, 0, sizeof(*fl));
}

static void test_list_errors(void **state)
{
	struct calls_filter fl;

	(void)state;
	memset(&fl, 0, sizeof(fl));
	fl.limit = "0";
	expect_error(&fl, AC_BAD_PARAM);
	fl.limit = "501";
	expect_error(&fl, AC_BAD_PARAM);
	fl.limit = "5x";
	expect_error(&fl, AC_BAD_PARAM);
	fl.cursor = "not-a-cursor";
	expect_error(&fl, AC_BAD_PARAM);
	fl.greenpin_id = "not-a-uuid";
	expect_error(&fl, AC_BAD_PARAM);
	fl.unknown = true;
	snprintf(fl.unknown_name, sizeof(fl.unknown_name), "state");
	expect_error(&fl, AC_BAD_FILTER);
	fl.from_date = "yesterday";
	expect_error(&fl, AC_BAD_RANGE);
	fl.from_date = "2020-03-24";
	fl.to_date = "2020-03-23";
	expect_error(&fl, AC_BAD_RANGE);
	/* precedence: 5 before 2 before 23 */
	fl.limit = "0";
	fl.unknown = true;
	fl.from_date = "x";
	expect_error(&fl, AC_BAD_PARAM);
	fl.unknown = true;
	fl.from_date = "x";
	expect_error(&fl, AC_BAD_FILTER);
}

static void test_get_isolation(void **state)
{
	struct store_call c = new_call("t", T0), out;

	(void)state;
	put_call(&c);
	assert_int_equal(calls_get(f.st, tt, c.call_sid, &out), 0);
	assert_string_equal(out.call_sid, c.call_sid);
	assert_int_equal(calls_get(f.st, tq, c.call_sid, &out), ENOENT);
	assert_int_equal(calls_get(f.st, tt, "0123456789abcdef0123456789abcdef", &out), ENOENT);
	assert_int_equal(calls_get(f.st, tt, "../../etc", &out), ENOENT);
	assert_int_equal(calls_get(f.st, tt, "0123456789ABCDEF0123456789ABCDEF", &out), ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_and_sid),
	    cmocka_unit_test_setup_teardown(test_finish_durations_and_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_only_with_url, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_body_nulls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_isolation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
