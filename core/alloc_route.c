/* alloc_route: rule R1 of DESIGN §3 as the API enforces it. A number that
 * reaches an allocation on a VN without a PIN must reach only that one, or
 * the call could not be routed. */
#include "core/alloc_int.h"

#include <errno.h>
#include <string.h>

struct r1_walk {
	struct store_txn *txn;
	const struct store_alloc *rec;
	bool direct; /* rec's side reaches it without a PIN */
	int side;
	const char *vn, *number;
	struct alloc_err *e;
	int err;
};

static int r1_hit(void *arg, const struct store_num_hit *hit)
{
	struct r1_walk *w = arg;
	struct store_alloc other;
	char id[37];

	if (memcmp(hit->id, w->rec->id, STORE_ID_LEN) == 0)
		return 0;
	if (!w->direct) {
		int rc = store_alloc_get(w->txn, hit->id, &other);

		if (rc != 0) {
			w->err = rc;
			return 1;
		}
		if (!alloc_side_direct(&other, hit->side))
			return 0; /* both need a PIN there: the PIN tells them apart */
	}
	alloc_id_format(hit->id, id);
	alloc_fail(w->e, AC_ROUTING,
	           "%s on VN %s is already in allocation %s, and one of the two would be "
	           "reached without a PIN",
	           w->number, w->vn, id);
	w->err = -1;
	return 1;
}

int alloc_check_r1(struct store_txn *txn, const struct store_alloc *rec, const bool pinned[2],
                   struct alloc_err *e)
{
	struct r1_walk w = {.txn = txn, .rec = rec, .e = e};

	for (int s = 0; s < 2; s++) {
		const struct store_side *side = &rec->side[s];

		w.side = s;
		w.direct = !pinned[s] && (s == STORE_A || rec->usage == STORE_TWOWAY);
		for (uint8_t v = 0; v < side->nvns; v++)
			for (uint8_t n = 0; n < side->nnumbers; n++) {
				int rc;

				w.vn = side->vns[v];
				w.number = side->numbers[n];
				rc = store_num_each(txn, w.vn, w.number, r1_hit, &w);
				if (w.err)
					return w.err;
				if (rc != 0)
					return rc;
			}
	}
	return 0;
}
