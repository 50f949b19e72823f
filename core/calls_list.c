/* calls_list: a tenant's call records as GET /calls pages through them, and
 * one record by call_sid. Filters and cursor follow the allocation list's
 * rules; another tenant's records are never seen, not even as "forbidden". */
#include "core/calls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX     500

struct calls_walk {
	const char *tenant;
	size_t limit;
	struct store_call *items;
	size_t n;
	bool more;
};

static int walk_hit(void *arg, const struct store_call *c)
{
	struct calls_walk *w = arg;

	/* An allocation's index holds only its tenant's calls; checked anyway,
	 * since a greenpin_id of another tenant must list nothing. */
	if (strcmp(c->tenant, w->tenant) != 0)
		return 0;
	if (w->n == w->limit) {
		w->more = true;
		return 1;
	}
	w->items[w->n++] = *c;
	return 0;
}

static bool sid_valid(const char *s)
{
	if (strlen(s) != STORE_SID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* "%016llx.<call_sid>": the (started, call_sid) of the page's last record. */
static int parse_cursor(const char *s, struct store_call_pos *pos)
{
	unsigned long long started;

	if (strlen(s) != 16 + 1 + STORE_SID_LEN || s[16] != '.' || !sid_valid(s + 17) ||
	    sscanf(s, "%16llx", &started) != 1)
		return EINVAL;
	pos->started_ms = (int64_t)started;
	memcpy(pos->call_sid, s + 17, STORE_SID_LEN + 1);
	return 0;
}

static int page_fail(struct calls_page *page, enum alloc_code code, const char *fmt,
                     const char *what)
{
	page->code = code == AC_INTERNAL ? AC_INTERNAL : AC_BAD_PARAM;
	page->code_detail = code;
	snprintf(page->message, sizeof(page->message), fmt, what);
	return -1;
}

struct calls_query {
	bool by_alloc;
	uint8_t greenpin_id[STORE_ID_LEN];
	bool has_after;
	struct store_call_pos after;
	int64_t from, to;
	bool none; /* the dates exclude every call */
};

/* The filters in the allocation list's precedence: 5, 2, 23. */
static int list_filters(const struct tenant *t, const struct calls_filter *f, struct calls_walk *w,
                        struct calls_query *q, struct calls_page *page)
{
	if (f->limit) {
		char *end;
		long v = strtol(f->limit, &end, 10);

		if (*f->limit == '\0' || *end != '\0' || v < 1 || v > LIST_MAX)
			return page_fail(page, AC_BAD_PARAM, "limit must be 1 to 500%s", "");
		w->limit = (size_t)v;
	}
	if (f->cursor && parse_cursor(f->cursor, &q->after) != 0)
		return page_fail(page, AC_BAD_PARAM,
		                 "cursor %.64s is not one this server returned as next_cursor",
		                 f->cursor);
	q->has_after = f->cursor != NULL;
	if (f->greenpin_id && alloc_id_parse(f->greenpin_id, q->greenpin_id) != 0)
		return page_fail(page, AC_BAD_PARAM, "greenpin_id %.64s is not a greenpin_id",
		                 f->greenpin_id);
	q->by_alloc = f->greenpin_id != NULL;
	if (f->unknown)
		return page_fail(page, AC_BAD_FILTER,
		                 "unsupported filter %s: use greenpin_id, from_date, to_date, "
		                 "limit, cursor",
		                 f->unknown_name);
	if (f->from_date && alloc_time_parse(t, f->from_date, false, &q->from) != 0)
		return page_fail(page, AC_BAD_RANGE,
		                 "from_date %.64s is not a date (YYYY-MM-DD[ HH:MM:SS])",
		                 f->from_date);
	if (f->to_date && alloc_time_parse(t, f->to_date, true, &q->to) != 0)
		return page_fail(page, AC_BAD_RANGE,
		                 "to_date %.64s is not a date (YYYY-MM-DD[ HH:MM:SS])", f->to_date);
	if (f->from_date && f->to_date && q->from > q->to)
		return page_fail(page, AC_BAD_RANGE, "from_date is after to_date%s", "");
	/* The store reads 0 as "no bound" and keys times unsigned: no call
	 * started before 1970, so clamp, and a to_date before then lists none. */
	if (q->from < 0)
		q->from = 0;
	q->none = f->to_date && q->to <= 0;
	return 0;
}

static int list_scan(struct store *st, const struct tenant *t, const struct calls_query *q,
                     struct calls_walk *w)
{
	const struct store_call_pos *after = q->has_after ? &q->after : NULL;
	struct store_txn *txn;
	int rc;

	if (q->none)
		return 0;
	rc = store_read_begin(st, &txn);
	if (rc != 0)
		return rc;
	if (q->by_alloc)
		rc = store_call_scan_alloc(txn, q->greenpin_id, q->from, q->to, after, walk_hit, w);
	else
		rc = store_call_scan_tenant(txn, t->id, q->from, q->to, after, walk_hit, w);
	store_read_end(txn);
	return rc == 1 ? 0 : rc;
}

void calls_list(struct store *st, const struct tenant *t, const struct calls_filter *f,
                struct calls_page *page)
{
	struct calls_walk w = {.tenant = t->id, .limit = LIST_DEFAULT};
	struct calls_query q;
	int rc;

	memset(page, 0, sizeof(*page));
	memset(&q, 0, sizeof(q));
	page->code = page->code_detail = AC_OK;
	if (list_filters(t, f, &w, &q, page) != 0)
		return;
	w.items = malloc(w.limit * sizeof(*w.items));
	if (!w.items) {
		page_fail(page, AC_INTERNAL, "out of memory%s", "");
		return;
	}
	rc = list_scan(st, t, &q, &w);
	if (rc != 0) {
		free(w.items);
		page_fail(page, AC_INTERNAL, "storage error: %s", strerror(rc));
		return;
	}
	page->items = w.items;
	page->n = w.n;
	if (w.more && w.n > 0)
		snprintf(page->next_cursor, sizeof(page->next_cursor), "%016llx.%s",
		         (unsigned long long)w.items[w.n - 1].started_ms,
		         w.items[w.n - 1].call_sid);
}

void calls_page_free(struct calls_page *page)
{
	free(page->items);
	page->items = NULL;
	page->n = 0;
}

int calls_get(struct store *st, const struct tenant *t, const char *sid, struct store_call *out)
{
	struct store_call c;
	struct store_txn *txn;
	int rc;

	if (!sid_valid(sid))
		return ENOENT;
	rc = store_read_begin(st, &txn);
	if (rc != 0)
		return rc;
	rc = store_call_get(txn, sid, &c);
	store_read_end(txn);
	if (rc == EINVAL || (rc == 0 && strcmp(c.tenant, t->id) != 0))
		return ENOENT;
	if (rc == 0)
		*out = c;
	return rc;
}
