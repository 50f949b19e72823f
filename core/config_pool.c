/* config_pool: tenants' VN pools as ranges of E.164 numbers: parsing the
 * "vns" entries, the snapshot-wide sorted index that answers "whose VN is
 * this?" in O(log n) and refuses overlaps, and the pool walks used by
 * allocation and by reload. */
#include "core/config_int.h"

#include "core/number.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "+<1..15 digits>" to its digits as a number; false when it is not one. */
static bool vn_digits(const char *e164, uint64_t *v, int *ndigits)
{
	uint64_t n = 0;
	int len = 0;

	if (!e164 || *e164 != '+')
		return false;
	for (const char *p = e164 + 1; *p; p++) {
		if (*p < '0' || *p > '9' || ++len > 15)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (len == 0)
		return false;
	*v = n;
	*ndigits = len;
	return true;
}

static void vn_format(uint64_t v, int ndigits, char out[17])
{
	snprintf(out, 17, "+%0*" PRIu64, ndigits, v);
}

static int vn_normalize_part(const char *s, size_t n, const struct tenant *t, uint64_t *v, int *nd)
{
	char buf[CONFIG_STR], e164[17];

	if (n >= sizeof(buf))
		return EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (number_normalize(buf, t->country, t->national_length, e164))
		return EINVAL;
	vn_digits(e164, v, nd);
	return 0;
}

int config_vn_range_parse(const char *s, const struct tenant *t, struct vn_range *out,
                          const char **why)
{
	uint64_t lo, hi;
	int nlo, nhi, found = 0;
	bool single;

	/* '-' separates a range and is also ignored inside numbers, so try
	 * every split and accept the one reading that makes sense. */
	single = vn_normalize_part(s, strlen(s), t, &out->lo, &out->ndigits) == 0;
	if (single)
		out->hi = out->lo;
	*why = "not a number or a range FIRST-LAST";
	for (const char *dash = strchr(s, '-'); dash; dash = strchr(dash + 1, '-')) {
		if (vn_normalize_part(s, (size_t)(dash - s), t, &lo, &nlo) ||
		    vn_normalize_part(dash + 1, strlen(dash + 1), t, &hi, &nhi))
			continue;
		if (nlo != nhi) {
			*why = "both ends of a range need the same number of digits";
			continue;
		}
		if (lo > hi) {
			*why = "the first number of the range is above the last";
			continue;
		}
		if (single || found++) {
			*why = "ambiguous: write a range as +FIRST-+LAST";
			return EINVAL;
		}
		out->lo = lo;
		out->hi = hi;
		out->ndigits = nlo;
	}
	return single || found ? 0 : EINVAL;
}

struct vn_build {
	struct vn_index_entry e;
	size_t ti, ri; /* tenants[ti].vns[ri], for messages */
};

static int vn_build_cmp(const void *a, const void *b)
{
	const struct vn_index_entry *x = &((const struct vn_build *)a)->e;
	const struct vn_index_entry *y = &((const struct vn_build *)b)->e;
	if (x->ndigits != y->ndigits)
		return x->ndigits < y->ndigits ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static const config_setting_t *vn_setting(const config_setting_t *tenants, size_t ti, size_t ri)
{
	const config_setting_t *g = config_setting_get_elem(tenants, (unsigned)ti);
	const config_setting_t *vns = g ? config_setting_get_member(g, "vns") : NULL;
	const config_setting_t *e = vns ? config_setting_get_elem(vns, (unsigned)ri) : NULL;
	return e ? e : g;
}

static int vn_overlap(const struct cfg_ctx *x, const config_setting_t *tenants,
                      const struct config *c, const struct vn_build *a, const struct vn_build *b)
{
	/* blame the entry that comes later in the file */
	if (a->ti > b->ti || (a->ti == b->ti && a->ri > b->ri)) {
		const struct vn_build *tmp = a;
		a = b;
		b = tmp;
	}
	const config_setting_t *sa = vn_setting(tenants, a->ti, a->ri);
	const config_setting_t *sb = vn_setting(tenants, b->ti, b->ri);
	uint64_t first = a->e.lo > b->e.lo ? a->e.lo : b->e.lo;
	char path[64], num[17];

	vn_format(first, b->e.ndigits, num);
	snprintf(path, sizeof(path), "tenants[%zu].vns[%zu]", b->ti, b->ri);
	if (a->ti == b->ti)
		return cfg_fail(x, sb, path, "overlaps vns[%zu] of tenant \"%s\" at %s", a->ri,
		                c->tenants[a->ti].id, num);
	return cfg_fail(x, sb, path,
	                "pool of tenant \"%s\" overlaps pool of tenant \"%s\" at %s "
	                "(tenants[%zu].vns[%zu], line %u)",
	                c->tenants[b->ti].id, c->tenants[a->ti].id, num, a->ti, a->ri,
	                sa ? config_setting_source_line(sa) : 0);
}

int config_vn_index_build(const struct cfg_ctx *x, const config_setting_t *tenants,
                          struct config_priv *p)
{
	const struct config *c = &p->pub;
	size_t n = 0, k = 0;
	int rc = 0;

	for (size_t i = 0; i < c->ntenants; i++)
		n += c->tenants[i].npool;
	if (n == 0)
		return 0;
	struct vn_build *b = calloc(n, sizeof(*b));
	if (!b)
		return ENOMEM;
	for (size_t i = 0; i < c->ntenants; i++) {
		for (size_t j = 0; j < c->tenants[i].npool; j++, k++) {
			const struct vn_range *r = &c->tenants[i].pool[j];
			b[k] = (struct vn_build){{r->lo, r->hi, r->ndigits, &c->tenants[i]}, i, j};
		}
	}
	qsort(b, n, sizeof(*b), vn_build_cmp);
	/* Sorted by start, a range overlaps an earlier one exactly when it
	 * starts at or before the furthest end seen so far. */
	size_t reach = 0;
	for (size_t i = 1; i < n && !rc; i++) {
		if (b[i].e.ndigits != b[reach].e.ndigits) {
			reach = i;
			continue;
		}
		if (b[i].e.lo <= b[reach].e.hi)
			rc = vn_overlap(x, tenants, c, &b[reach], &b[i]);
		else if (b[i].e.hi > b[reach].e.hi)
			reach = i;
	}
	if (!rc && !(p->vnidx = calloc(n, sizeof(*p->vnidx))))
		rc = ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		p->vnidx[i] = b[i].e;
	if (!rc)
		p->nvnidx = n;
	free(b);
	return rc;
}

const struct tenant *config_vn_owner(const struct config *c, const char *vn)
{
	const struct config_priv *p = config_priv_of(c);
	uint64_t v;
	int nd;

	if (!c || !vn_digits(vn, &v, &nd))
		return NULL;
	size_t lo = 0, hi = p->nvnidx; /* first entry after (nd, v) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vn_index_entry *e = &p->vnidx[mid];
		if (e->ndigits < nd || (e->ndigits == nd && e->lo <= v))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct vn_index_entry *e = &p->vnidx[lo - 1];
	return e->ndigits == nd && v <= e->hi ? e->t : NULL;
}

bool config_tenant_has_vn(const struct tenant *t, const char *vn)
{
	uint64_t v;
	int nd;

	if (!t || !vn_digits(vn, &v, &nd))
		return false;
	for (size_t i = 0; i < t->npool; i++)
		if (t->pool[i].ndigits == nd && t->pool[i].lo <= v && v <= t->pool[i].hi)
			return true;
	return false;
}

uint64_t config_pool_size(const struct tenant *t)
{
	uint64_t n = 0;

	for (size_t i = 0; t && i < t->npool; i++)
		n += t->pool[i].hi - t->pool[i].lo + 1;
	return n;
}

void config_pool_vn(const struct tenant *t, uint64_t i, char out[17])
{
	out[0] = '\0';
	for (size_t r = 0; t && r < t->npool; r++) {
		uint64_t size = t->pool[r].hi - t->pool[r].lo + 1;
		if (i < size) {
			vn_format(t->pool[r].lo + i, t->pool[r].ndigits, out);
			return;
		}
		i -= size;
	}
}

static int vn_range_cmp(const void *a, const void *b)
{
	const struct vn_range *x = a, *y = b;
	if (x->ndigits != y->ndigits)
		return x->ndigits < y->ndigits ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int vn_emit(uint64_t lo, uint64_t hi, int nd, int (*fn)(void *, const char *), void *arg)
{
	char num[17];

	for (uint64_t v = lo;; v++) {
		vn_format(v, nd, num);
		int rc = fn(arg, num);
		if (rc || v == hi)
			return rc;
	}
}

/* The VNs of r not covered by kept (sorted, non-overlapping). */
static int vn_range_minus(const struct vn_range *r, const struct vn_range *kept, size_t nkept,
                          int (*fn)(void *, const char *), void *arg)
{
	uint64_t cur = r->lo;
	int rc;

	for (size_t i = 0; i < nkept && cur <= r->hi; i++) {
		const struct vn_range *k = &kept[i];
		if (k->ndigits != r->ndigits || k->hi < cur)
			continue;
		if (k->lo > r->hi)
			break;
		if (k->lo > cur && (rc = vn_emit(cur, k->lo - 1, r->ndigits, fn, arg)))
			return rc;
		cur = k->hi + 1;
	}
	return cur <= r->hi ? vn_emit(cur, r->hi, r->ndigits, fn, arg) : 0;
}

int config_removed_vns(const struct config *old, const struct config *new,
                       int (*fn)(void *arg, const char *vn), void *arg)
{
	for (size_t i = 0; old && i < old->ntenants; i++) {
		const struct tenant *ot = &old->tenants[i];
		const struct tenant *nt = new ? config_tenant(new, ot->id) : NULL;
		struct vn_range *kept = NULL;
		size_t nkept = nt ? nt->npool : 0;
		int rc = 0;

		if (nkept > 0) {
			if (!(kept = malloc(nkept * sizeof(*kept))))
				return ENOMEM;
			memcpy(kept, nt->pool, nkept * sizeof(*kept));
			qsort(kept, nkept, sizeof(*kept), vn_range_cmp);
		}
		for (size_t r = 0; r < ot->npool && !rc; r++)
			rc = vn_range_minus(&ot->pool[r], kept, nkept, fn, arg);
		free(kept);
		if (rc)
			return rc;
	}
	return 0;
}
