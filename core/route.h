/* route: where an inbound call goes (DESIGN §3 routing rules R1/R2 and call
 * flow steps 1-5), decided over one store read transaction. Pure: no SIP, no
 * sockets, no writes; the call flow turns a decision into 404/403/480, the
 * PIN prompt, or a hunt over the numbers to dial.
 *
 * Numbers come in as E.164 (the SIP side normalises the caller with the
 * trunk's or tenant's country first). Any thread may call these; the SIP
 * thread does, inside a short read transaction. */
#ifndef PB_CORE_ROUTE_H
#define PB_CORE_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "store/store.h"

enum route_kind {
	ROUTE_NOT_OURS = 0, /* step 1: the VN is in no tenant's pool: 404, no call record */
	ROUTE_DIRECT,       /* step 3: dial side s̄ at once, without answering */
	ROUTE_PIN,          /* step 4: answer, prompt, collect a PIN (route_pin_match) */
	ROUTE_FORBIDDEN,    /* step 5: nothing matches, or |R| > 1 with no PIN: 403 */
	ROUTE_NOBODY,       /* the side to dial has no numbers yet: 480 */
	/* route_by_pin only: */
	ROUTE_PIN_ACCEPTED, /* dial side s̄ (joining side s first when join is set) */
	ROUTE_PIN_WRONG,    /* no such PIN on the VN: wrong-PIN prompt, retry */
	ROUTE_PIN_REFUSED,  /* the PIN exists but this caller may not use it (reason) */
	ROUTE_PIN_COOLING,  /* a deallocated allocation's PIN: the not-allowed prompt */
};

struct route_decision {
	enum route_kind kind;
	const struct tenant *tenant; /* of cfg, owner of the VN; NULL only for NOT_OURS */
	int sip_status;              /* 404, 403 or 480 for a refusal before answer; else 0 */
	const char *reason;          /* static text for the reason phrase and the log */
	unsigned nmatch;             /* route_decide: |R| of step 2 */
	/* DIRECT, PIN_ACCEPTED and NOBODY (and PIN_REFUSED/COOLING when the
	 * allocation is known): the allocation and the caller's side s. */
	bool has_alloc;
	struct store_alloc alloc;
	int side; /* STORE_A or STORE_B: the caller's side */
	/* PIN_REFUSED: the PIN is real but not the caller's (closed side, or the
	 * side it would reach): to the caller this must look like a wrong PIN,
	 * counted by the brute-force guard, or PINs could be discovered. */
	bool foreign;
	bool join; /* PIN_ACCEPTED/NOBODY: the caller is not on s yet and joins it (R2);
	            * the flow adds the number in a write step, checking R1 there */
	/* DIRECT and PIN_ACCEPTED: s̄'s numbers in hunt order, and the presented
	 * caller ID (From user and P-Asserted-Identity): the VN dialled when it is
	 * one of s̄'s VNs, else s̄'s first VN. */
	uint8_t ndial;
	char dial[STORE_MAX_NUMS][STORE_NUM_LEN];
	char present[STORE_NUM_LEN];
};

/* Steps 1-5 for caller dialling vn. 0 and *out, or an errno from the store
 * (EIO, ...) or EINVAL for a NULL argument; *out is meaningful only on 0. */
int route_decide(struct store_txn *txn, const struct config *cfg, const char *caller,
                 const char *vn, struct route_decision *out);

/* Step 4's verification of a complete PIN keyed by caller on vn: (vn, pin) ->
 * side s of an allocation; accepted when usage lets s call and the caller is
 * on s, or s is open with fewer than 10 numbers and the caller is not on s̄
 * (join). 0 and *out, or an errno. The brute-force guard is the flow's. */
int route_by_pin(struct store_txn *txn, const struct config *cfg, const char *caller,
                 const char *vn, const char *pin, struct route_decision *out);

/* Where digits collected so far stand against the PINs on vn (active and
 * cooling; PINs on a VN are prefix-free, DESIGN §2). */
enum route_pin_state {
	ROUTE_PIN_NONE = 0, /* no PIN starts with digits: stop, it is wrong */
	ROUTE_PIN_PREFIX,   /* a proper prefix of a PIN: keep collecting */
	ROUTE_PIN_COMPLETE, /* equal to a PIN: verify it now (route_by_pin) */
};
/* 0 and *state, or an errno from the store. Digits that are not 0-9, or more
 * than STORE_PIN_MAX of them, are ROUTE_PIN_NONE; "" is PREFIX when vn has
 * any PIN. */
int route_pin_match(struct store_txn *txn, const char *vn, const char *digits,
                    enum route_pin_state *state);

/* "direct", "pin", ... for logs and metrics labels. */
const char *route_kind_name(enum route_kind kind);

#endif
