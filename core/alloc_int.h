/* alloc_int: what the allocation service's files share; not for outsiders. */
#ifndef PB_CORE_ALLOC_INT_H
#define PB_CORE_ALLOC_INT_H

#include "core/alloc.h"

struct events;

struct alloc_service {
	struct store *st;
	struct events *events; /* kicked after a change that wrote an event; may be NULL */
};

/* An outcome carried through validation and the writer's steps. */
struct alloc_err {
	enum alloc_code code;
	char msg[200];
};

void alloc_fail(struct alloc_err *e, enum alloc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Body-stage checks of DESIGN §2 in precedence order (5, 3, 16, 13, 14, 15,
 * 8, 50) for a create (old NULL) or an update of old. On success *out is the
 * resulting record (old's identity kept), with what the writer must still do
 * to its PINs: pin_gen[s] > 0 asks for a new PIN of that length, pin_check[s]
 * for the side's PIN to be checked free on its VNs.
 * keep_open: a number added through /numbers does not close an open side. */
struct alloc_draft {
	struct store_alloc rec;
	bool auto_vn;      /* neither side named VNs: pick one from the pool */
	int pin_gen[2];    /* length of a PIN to generate, 0 = none */
	bool pin_check[2]; /* the side's PIN must be checked free */
	bool set_duration;
	int64_t duration_ms;
};
int alloc_check_body(const struct config *cfg, const struct tenant *t,
                     const struct store_alloc *old, const struct alloc_req *req, bool keep_open,
                     struct alloc_draft *d, struct alloc_err *e);

/* Whether a caller on side s of rec can reach it without a PIN. */
bool alloc_side_direct(const struct store_alloc *rec, int s);

/* The writer-side checks return 0, -1 when they filled e with an API error,
 * or a positive errno from the store. */

/* R1 for rec against every other active allocation (rec's own old entries
 * must already be gone from the indexes): AC_ROUTING. pinned[s]: side s has
 * or is about to get a PIN (R1 runs before PINs are generated). */
int alloc_check_r1(struct store_txn *txn, const struct store_alloc *rec, const bool pinned[2],
                   struct alloc_err *e);

/* Gives side s of rec a PIN: checks a set PIN free (or generates one of
 * gen_len digits) on every VN of the side, prefix-free against the index and
 * against the other side's PIN on shared VNs when other_set: AC_NO_PIN. */
int alloc_pin_settle(struct store_txn *txn, struct store_alloc *rec, int s, int gen_len,
                     bool other_set, struct alloc_err *e);

/* Whether pin and q are equal or one is a prefix of the other. */
bool alloc_pin_prefix_clash(const char *pin, const char *q);

/* The record as DELETE and expiry leave it. */
void alloc_vault(struct store_alloc *rec, const struct tenant *t, int64_t now_ms);

#endif
