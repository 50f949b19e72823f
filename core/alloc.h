/* alloc: the allocation service. Validates requests (DESIGN §2 input rules,
 * in the stated error precedence), applies update semantics, enforces R1 and
 * prefix-free PINs inside the store's write transaction, and answers with the
 * reference's error codes. api/ maps HTTP and JSON to these calls. */
#ifndef PB_CORE_ALLOC_H
#define PB_CORE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "store/store.h"

#define ALLOC_RAW_LEN 64 /* a raw number or VN as the client sent it */

/* GreenPin error codes (reference appendix 1; DESIGN §2 table). */
enum alloc_code {
	AC_OK = -1,
	AC_INTERNAL = 0,
	AC_NOT_FOUND = 1,
	AC_BAD_FILTER = 2,
	AC_MISSING = 3,
	AC_NO_PIN = 4,
	AC_BAD_PARAM = 5,
	AC_AUTH = 7,
	AC_FORBIDDEN = 8,
	AC_VERSION = 9,
	AC_DUP_NUMBER = 13,
	AC_SHARED_NUMBER = 14,
	AC_COUNTRY = 15,
	AC_BAD_NUMBER = 16,
	AC_BULK_LIMIT = 17,
	AC_TXN_EXISTS = 18,
	AC_ROUTING = 19,
	AC_NO_MAPPING = 20,
	AC_GONE = 22,
	AC_BAD_RANGE = 23,
	AC_BAD_FLOW = 50,
};

/* HTTP status for a code (AC_OK -> 200). */
int alloc_code_http(enum alloc_code code);

/* One side of a request body, as mapped from JSON by api/ (types already
 * checked there; values not yet). */
struct alloc_side_req {
	bool has_numbers;
	uint8_t nnumbers;
	char numbers[STORE_MAX_NUMS][ALLOC_RAW_LEN]; /* "" = not a usable string */
	bool has_vns;
	uint8_t nvns;
	char vns[STORE_MAX_NUMS][ALLOC_RAW_LEN];
	bool has_pin;
	char pin[16]; /* raw; over 15 chars is mapped to "x" (invalid) */
	bool has_pin_length;
	int pin_length; /* from a JSON number or numeric string; out of range kept as is */
};

/* A create or update body. parse_code != AC_OK means mapping failed (malformed
 * JSON, wrong type, too many items, too large): core reports it at its place
 * in the precedence, after auth and target checks. */
struct alloc_req {
	enum alloc_code parse_code;
	char parse_msg[160];
	bool has_id; /* bulk items carry their greenpin_id */
	uint8_t id[STORE_ID_LEN];
	bool has_txn_id;
	char txn_id[STORE_TXNID_MAX + 1];
	struct alloc_side_req side[2];
	bool has_usage;
	char usage[16];
	bool has_duration;
	char duration[32];
	bool has_record; /* "record": true/false (beyond the reference) */
	bool record;
};

struct alloc_result {
	enum alloc_code code; /* AC_OK on success */
	char message[200];
	bool has_rec; /* rec is the record (success; 18 carries the existing one) */
	struct store_alloc rec;
};

struct alloc_service; /* owns nothing but references: store and config */

int alloc_service_new(struct alloc_service **sp, struct store *st);
void alloc_service_free(struct alloc_service *s);
/* The store the service writes to (for core's other services). */
struct store *alloc_service_store(struct alloc_service *s);
/* Deallocations write webhook events; this worker hears of them at once. */
struct events;
void alloc_service_set_events(struct alloc_service *s, struct events *e);

/* A change to submit without waiting (the HTTP pool suspends the connection
 * meanwhile, so a group commit can hold more requests than there are pool
 * threads). The blocking calls below are this plus a wait. */
enum alloc_op_kind {
	ALLOC_CREATE,
	ALLOC_UPDATE,
	ALLOC_DELETE,
	ALLOC_BULK,
	ALLOC_NUMBER_ADD,
	ALLOC_NUMBER_REMOVE,
};

struct alloc_op {
	enum alloc_op_kind kind;
	const struct config *cfg;    /* must stay referenced until done */
	const struct tenant *t;      /* of cfg */
	uint8_t id[STORE_ID_LEN];    /* UPDATE, DELETE, NUMBER_* */
	const struct alloc_req *req; /* CREATE, UPDATE: one; BULK: n items (copied) */
	size_t n;
	int side;                 /* NUMBER_*: STORE_A or STORE_B */
	const char *number;       /* NUMBER_*: as given (copied) */
	struct alloc_result *res; /* 1, or n for BULK; final when done runs */
};

/* done(arg) runs once every result is final: on the store's writer thread
 * after the sync, or on the caller's thread when the request never reached
 * the store. It must only hand the news over, never block. */
typedef void (*alloc_done_fn)(void *arg);
void alloc_submit(struct alloc_service *s, const struct alloc_op *op, alloc_done_fn done,
                  void *arg);

/* Each call takes the tenant it runs for (auth done by api/) and the config
 * snapshot that tenant belongs to. */
void alloc_create(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                  const struct alloc_req *req, struct alloc_result *res);
void alloc_get(struct alloc_service *s, const struct tenant *t, const uint8_t id[STORE_ID_LEN],
               struct alloc_result *res);
void alloc_update(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                  const uint8_t id[STORE_ID_LEN], const struct alloc_req *req,
                  struct alloc_result *res);
void alloc_delete(struct alloc_service *s, const struct tenant *t, const uint8_t id[STORE_ID_LEN],
                  struct alloc_result *res);
/* items[i].has_id tells whether the item named its greenpin_id. Results in
 * item order. A batch-level error (res[0..n) all AC_INTERNAL) when the store
 * could not commit. */
void alloc_bulk_update(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                       const struct alloc_req *items, size_t n, struct alloc_result *res);
/* side: STORE_A or STORE_B; raw: the number as given. */
void alloc_number_add(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                      const uint8_t id[STORE_ID_LEN], int side, const char *raw,
                      struct alloc_result *res);
void alloc_number_remove(struct alloc_service *s, const struct config *cfg, const struct tenant *t,
                         const uint8_t id[STORE_ID_LEN], int side, const char *raw,
                         struct alloc_result *res);

/* Deallocates due allocations and purges past retention; run by the sweeper.
 * Returns how many records changed. */
int alloc_sweep(struct alloc_service *s, const struct config *cfg, int64_t now_ms);

/* List and search (GET /greenpin?...). Raw query values; NULL = absent. */
struct alloc_filter {
	const char *state, *transaction_id, *number, *vn, *created_from, *created_to;
	const char *limit, *cursor;
	bool unknown; /* a parameter that is not a filter was given (code 2) */
	char unknown_name[64];
};

struct alloc_page {
	enum alloc_code code;
	char message[200];
	struct store_alloc *items; /* malloc'd; alloc_page_free() */
	size_t n;
	char next_cursor[64]; /* "" = last page */
};

void alloc_list(struct alloc_service *s, const struct tenant *t, const struct alloc_filter *f,
                struct alloc_page *page);
void alloc_page_free(struct alloc_page *page);

/* Validation alone, without the store (fuzzing, unit tests): the body-stage
 * checks of a create. */
enum alloc_code alloc_validate_create(const struct config *cfg, const struct tenant *t,
                                      const struct alloc_req *req, char *msg, size_t msglen);

/* Prometheus text for the store side of /metrics (active allocations per
 * tenant, map use, writer batch sizes), malloc'd into *out. 0 or ENOMEM. */
int alloc_metrics_text(struct alloc_service *s, const struct config *cfg, char **out);

/* greenpin_id text form: lowercase 8-4-4-4-12. */
void alloc_id_format(const uint8_t id[STORE_ID_LEN], char out[37]);
int alloc_id_parse(const char *s, uint8_t id[STORE_ID_LEN]); /* 0 or EINVAL */

/* "YYYY-MM-DD HH:MM:SS" in the tenant's timezone. */
void alloc_time_format(const struct tenant *t, int64_t ms, char out[32]);
/* A list filter's date: "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS" or
 * "YYYY-MM-DDTHH:MM:SS", in t's timezone unless it ends in "Z" or
 * "+HH:MM"/"-HH:MM". A bare date means its first millisecond, or its last
 * with end_of_day. 0 and *ms (Unix ms), or EINVAL. */
int alloc_time_parse(const struct tenant *t, const char *s, bool end_of_day, int64_t *ms);

#endif
