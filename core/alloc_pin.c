/* alloc_pin: PINs on a VN are prefix-free (DESIGN §2), so the IVR knows when
 * a PIN is complete. Checks a given PIN free and generates uniform ones from
 * the CSPRNG over the PINs of a length that are free on every VN of a side. */
#include "core/alloc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rand.h"

/* Quick random draws before counting the free space exactly. Each draw that
 * lands on a free PIN is uniform over the free set; so is the exact method;
 * so the mixture is too. */
#define PIN_QUICK_TRIES 16

static const char *const side_name[2] = {"a", "b"};

bool alloc_pin_prefix_clash(const char *pin, const char *q)
{
	size_t lp = strlen(pin), lq = strlen(q);

	return strncmp(pin, q, lp < lq ? lp : lq) == 0;
}

static bool side_has_vn(const struct store_side *side, const char *vn)
{
	for (uint8_t i = 0; i < side->nvns; i++)
		if (strcmp(side->vns[i], vn) == 0)
			return true;
	return false;
}

/* 0 free, 1 taken (where says on which VN), or an errno. */
static int pin_taken(struct store_txn *txn, const struct store_side *side,
                     const struct store_side *other, const char *pin, const char **where)
{
	struct store_pin_hit hit;

	for (uint8_t i = 0; i < side->nvns; i++) {
		int rc = store_pin_clash(txn, side->vns[i], pin, &hit);

		*where = side->vns[i];
		if (rc == 0)
			return 1;
		if (rc != ENOENT)
			return rc;
		if (other && other->pin[0] && side_has_vn(other, side->vns[i]) &&
		    alloc_pin_prefix_clash(pin, other->pin))
			return 1;
	}
	return 0;
}

struct ival {
	uint64_t lo, hi; /* [lo, hi) over the PINs of one length read as numbers */
};

struct ivals {
	struct ival *v;
	size_t n, cap;
	int len;
	int err;
};

static uint64_t pow10u(int n)
{
	uint64_t p = 1;

	while (n-- > 0)
		p *= 10;
	return p;
}

/* The PINs of length ivs->len that q blocks: those it is a prefix of, or the
 * one that is a prefix of q. */
static int ival_add_pin(void *arg, const char *q)
{
	struct ivals *ivs = arg;
	int lq = (int)strlen(q);
	uint64_t base = 0;

	if (ivs->n == ivs->cap) {
		size_t cap = ivs->cap ? ivs->cap * 2 : 64;
		struct ival *v = realloc(ivs->v, cap * sizeof(*v));

		if (!v) {
			ivs->err = ENOMEM;
			return ENOMEM;
		}
		ivs->v = v;
		ivs->cap = cap;
	}
	for (int i = 0; i < lq && i < ivs->len; i++)
		base = base * 10 + (uint64_t)(q[i] - '0');
	if (lq <= ivs->len) {
		uint64_t span = pow10u(ivs->len - lq);

		ivs->v[ivs->n++] = (struct ival){base * span, base * span + span};
	} else {
		ivs->v[ivs->n++] = (struct ival){base, base + 1};
	}
	return 0;
}

static int ival_add_hit(void *arg, const struct store_pin_hit *hit)
{
	return ival_add_pin(arg, hit->pin);
}

static int ival_cmp(const void *x, const void *y)
{
	const struct ival *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Exact: a uniform pick among the free PINs of length len, or ENOSPC. */
static int pin_pick_exact(struct store_txn *txn, const struct store_side *side,
                          const struct store_side *other, int len, char out[STORE_PIN_MAX + 1])
{
	struct ivals ivs = {.len = len};
	uint64_t total = pow10u(len), covered = 0, cur = 0, r, pick;
	size_t m = 0;
	int rc = 0;

	for (uint8_t i = 0; i < side->nvns && rc == 0; i++) {
		rc = store_pin_each(txn, side->vns[i], ival_add_hit, &ivs);
		if (rc == 0 && other && other->pin[0] && side_has_vn(other, side->vns[i]))
			rc = ival_add_pin(&ivs, other->pin);
	}
	if (rc == 0 && ivs.err)
		rc = ivs.err;
	if (rc != 0)
		goto out;
	qsort(ivs.v, ivs.n, sizeof(*ivs.v), ival_cmp);
	for (size_t i = 0; i < ivs.n; i++) { /* merge in place */
		if (m > 0 && ivs.v[i].lo <= ivs.v[m - 1].hi) {
			if (ivs.v[i].hi > ivs.v[m - 1].hi)
				ivs.v[m - 1].hi = ivs.v[i].hi;
		} else {
			ivs.v[m++] = ivs.v[i];
		}
	}
	for (size_t i = 0; i < m; i++)
		covered += ivs.v[i].hi - ivs.v[i].lo;
	if (covered >= total) {
		rc = ENOSPC;
		goto out;
	}
	r = rand_below(total - covered);
	pick = UINT64_MAX;
	for (size_t i = 0; i < m && pick == UINT64_MAX; i++) {
		uint64_t gap = ivs.v[i].lo - cur;

		if (r < gap)
			pick = cur + r;
		else
			r -= gap;
		cur = ivs.v[i].hi;
	}
	if (pick == UINT64_MAX)
		pick = cur + r;
	snprintf(out, STORE_PIN_MAX + 1, "%0*llu", len, (unsigned long long)pick);
out:
	free(ivs.v);
	return rc;
}

int alloc_pin_settle(struct store_txn *txn, struct store_alloc *rec, int s, int gen_len,
                     bool other_set, struct alloc_err *e)
{
	struct store_side *side = &rec->side[s];
	const struct store_side *other = other_set ? &rec->side[!s] : NULL;
	const char *where = "";
	char cand[STORE_PIN_MAX + 1];
	int rc;

	if (gen_len == 0) {
		rc = pin_taken(txn, side, other, side->pin, &where);
		if (rc == 1)
			alloc_fail(e, AC_NO_PIN,
			           "%s.pin %s is not free on VN %s: it equals, or is a prefix of, "
			           "or starts with, a PIN in use there",
			           side_name[s], side->pin, where);
		return rc == 1 ? -1 : rc;
	}
	for (int i = 0; i < PIN_QUICK_TRIES; i++) {
		snprintf(cand, sizeof(cand), "%0*llu", gen_len,
		         (unsigned long long)rand_below(pow10u(gen_len)));
		rc = pin_taken(txn, side, other, cand, &where);
		if (rc == 0) {
			memcpy(side->pin, cand, sizeof(side->pin));
			return 0;
		}
		if (rc != 1)
			return rc;
	}
	rc = pin_pick_exact(txn, side, other, gen_len, cand);
	if (rc == ENOSPC) {
		alloc_fail(e, AC_NO_PIN, "no free %d-digit PIN for side %s on its VNs", gen_len,
		           side_name[s]);
		return -1;
	}
	if (rc == 0)
		memcpy(side->pin, cand, sizeof(side->pin));
	return rc;
}
