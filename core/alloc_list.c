/* alloc_list: list and search a tenant's allocations with cursor paging. The
 * cursor is the (created, id) position of the last item returned, so pages
 * stay stable while allocations are created and deleted. */
#include "core/alloc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/number.h"

#define LIST_DEFAULT 50
#define LIST_MAX     500

struct list_walk {
	const char *state, *txn_id;
	char number[STORE_NUM_LEN], vn[STORE_NUM_LEN];
	bool has_number, has_vn;
	size_t limit;
	struct store_alloc *items;
	size_t n;
	bool more;
};

static bool side_lists(const struct store_side *side, const char *num, bool vn)
{
	uint8_t n = vn ? side->nvns : side->nnumbers;

	for (uint8_t i = 0; i < n; i++)
		if (strcmp(vn ? side->vns[i] : side->numbers[i], num) == 0)
			return true;
	return false;
}

static int list_hit(void *arg, const struct store_alloc *rec)
{
	struct list_walk *w = arg;

	if (w->state && strcmp(w->state, rec->state == STORE_ACTIVE ? "active" : "vault") != 0)
		return 0;
	if (w->txn_id && strcmp(w->txn_id, rec->txn_id) != 0)
		return 0;
	if (w->has_number && !side_lists(&rec->side[0], w->number, false) &&
	    !side_lists(&rec->side[1], w->number, false))
		return 0;
	if (w->has_vn && !side_lists(&rec->side[0], w->vn, true) &&
	    !side_lists(&rec->side[1], w->vn, true))
		return 0;
	if (w->n == w->limit) {
		w->more = true;
		return 1;
	}
	w->items[w->n++] = *rec;
	return 0;
}

static int parse_cursor(const char *s, struct store_pos *pos)
{
	unsigned long long created;
	char idtext[37];

	if (strlen(s) != 16 + 1 + 36 || sscanf(s, "%16llx", &created) != 1 || s[16] != '.')
		return EINVAL;
	memcpy(idtext, s + 17, 37);
	pos->created_ms = (int64_t)created;
	return alloc_id_parse(idtext, pos->id);
}

static void format_cursor(const struct store_alloc *rec, char out[64])
{
	char id[37];

	alloc_id_format(rec->id, id);
	snprintf(out, 64, "%016llx.%s", (unsigned long long)rec->created_ms, id);
}

static int page_fail(struct alloc_page *page, enum alloc_code code, const char *msg,
                     const char *what)
{
	page->code = code;
	snprintf(page->message, sizeof(page->message), msg, what);
	return -1;
}

/* The filters in precedence order: 5, 2, 23, 16. */
static int list_filters(const struct tenant *t, const struct alloc_filter *f, struct list_walk *w,
                        struct store_pos *after, int64_t *from, int64_t *to,
                        struct alloc_page *page)
{
	/* 5 */
	if (f->state && strcmp(f->state, "active") != 0 && strcmp(f->state, "vault") != 0)
		return page_fail(page, AC_BAD_PARAM, "state must be \"active\" or \"vault\"%s", "");
	if (f->limit) {
		char *end;
		long v = strtol(f->limit, &end, 10);

		if (*f->limit == '\0' || *end != '\0' || v < 1 || v > LIST_MAX)
			return page_fail(page, AC_BAD_PARAM, "limit must be 1 to 500%s", "");
		w->limit = (size_t)v;
	}
	if (f->cursor && parse_cursor(f->cursor, after) != 0)
		return page_fail(page, AC_BAD_PARAM,
		                 "cursor %s is not one this server returned as next_cursor",
		                 f->cursor);
	/* 2 */
	if (f->unknown)
		return page_fail(page, AC_BAD_FILTER,
		                 "unsupported filter %s: use state, transaction_id, number, vn, "
		                 "created_from, created_to, limit, cursor",
		                 f->unknown_name);
	/* 23 */
	if (f->created_from && alloc_time_parse(t, f->created_from, false, from) != 0)
		return page_fail(page, AC_BAD_RANGE,
		                 "created_from %s is not a date (YYYY-MM-DD[ HH:MM:SS])",
		                 f->created_from);
	if (f->created_to && alloc_time_parse(t, f->created_to, true, to) != 0)
		return page_fail(page, AC_BAD_RANGE,
		                 "created_to %s is not a date (YYYY-MM-DD[ HH:MM:SS])",
		                 f->created_to);
	if (f->created_from && f->created_to && *from > *to)
		return page_fail(page, AC_BAD_RANGE, "created_from is after created_to%s", "");
	/* 16 */
	if (f->number) {
		if (number_normalize(f->number, t->country, t->national_length, w->number) != 0)
			return page_fail(page, AC_BAD_NUMBER, "number %s is not a valid number",
			                 f->number);
		w->has_number = true;
	}
	if (f->vn) {
		if (number_normalize(f->vn, t->country, t->national_length, w->vn) != 0)
			return page_fail(page, AC_BAD_NUMBER, "vn %s is not a valid number", f->vn);
		w->has_vn = true;
	}
	return 0;
}

void alloc_list(struct alloc_service *s, const struct tenant *t, const struct alloc_filter *f,
                struct alloc_page *page)
{
	struct list_walk w = {
	    .state = f->state, .txn_id = f->transaction_id, .limit = LIST_DEFAULT};
	struct store_pos after;
	struct store_txn *txn;
	int64_t from = 0, to = 0;
	int rc;

	memset(page, 0, sizeof(*page));
	page->code = AC_OK;
	if (list_filters(t, f, &w, &after, &from, &to, page) != 0)
		return;
	w.items = malloc(w.limit * sizeof(*w.items));
	if (!w.items) {
		page_fail(page, AC_INTERNAL, "out of memory%s", "");
		return;
	}
	rc = store_read_begin(s->st, &txn);
	if (rc == 0) {
		rc =
		    store_alloc_scan(txn, t->id, from, to, f->cursor ? &after : NULL, list_hit, &w);
		store_read_end(txn);
		rc = rc == 1 ? 0 : rc;
	}
	if (rc != 0) {
		free(w.items);
		page_fail(page, AC_INTERNAL, "storage error: %s", strerror(rc));
		return;
	}
	page->items = w.items;
	page->n = w.n;
	if (w.more && w.n > 0)
		format_cursor(&w.items[w.n - 1], page->next_cursor);
}

void alloc_page_free(struct alloc_page *page)
{
	free(page->items);
	page->items = NULL;
	page->n = 0;
}
