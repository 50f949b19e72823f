/* store: the only door to persistent state. Allocations and their indexes in
 * LMDB, written by one writer thread with group commit, read from any thread.
 *
 * Writes are jobs of steps. A job's steps run in order on the writer thread,
 * each in its own nested transaction: a step that returns non-zero is rolled
 * back alone. Every job queued when the writer wakes joins one batch, and the
 * batch commits with one sync; only then is each job completed. So a caller of
 * store_write() learns its result after the data is on disk.
 *
 * Kept narrow (records and index queries, no LMDB types) so another backend
 * can implement it without touching core/ or api/. */
#ifndef PB_STORE_H
#define PB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_NUM_LEN    17  /* "+" and up to 15 digits, NUL */
#define STORE_MAX_NUMS   10  /* numbers, and VNs, per side */
#define STORE_PIN_MAX    9   /* digits */
#define STORE_TENANT_MAX 64  /* bytes of a tenant id */
#define STORE_TXNID_MAX  128 /* bytes of a transaction_id */
#define STORE_ID_LEN     16  /* greenpin_id: a UUID's 16 bytes */

enum store_state { STORE_ACTIVE = 0, STORE_VAULT = 1 };
enum store_usage { STORE_TWOWAY = 0, STORE_ONEWAY = 1 };
enum store_side_ix { STORE_A = 0, STORE_B = 1 };

struct store_side {
	uint8_t nnumbers;
	uint8_t nvns;
	char numbers[STORE_MAX_NUMS][STORE_NUM_LEN]; /* E.164 */
	char vns[STORE_MAX_NUMS][STORE_NUM_LEN];     /* E.164 */
	char pin[STORE_PIN_MAX + 1];                 /* "" = this side has no PIN */
	bool open;    /* callers keying the PIN may join (DESIGN §3 R2) */
	bool follows; /* VNs were taken from the other side and follow it */
};

/* An allocation's "record" flag (beyond the reference): unset, its calls
 * follow the tenant's record setting; set, it wins. */
enum store_record { STORE_RECORD_TENANT = 0, STORE_RECORD_ON = 1, STORE_RECORD_OFF = 2 };

struct store_alloc {
	uint8_t id[STORE_ID_LEN];
	char tenant[STORE_TENANT_MAX + 1];
	char txn_id[STORE_TXNID_MAX + 1];
	struct store_side side[2]; /* STORE_A, STORE_B */
	uint8_t usage;             /* enum store_usage */
	uint8_t state;             /* enum store_state */
	int64_t created_ms;        /* Unix ms */
	int64_t dealloc_ms;        /* active: when it expires; vault: when it was deallocated */
	int64_t purge_ms;          /* vault: retention ends, the record is removed */
	int64_t cooling_until_ms;  /* vault: its PINs stay taken until then; 0 = released */
	uint8_t record;            /* enum store_record: whether its calls are recorded */
};

struct store;     /* the environment and its writer thread */
struct store_txn; /* a read transaction, or a write step's nested transaction */

struct store_opts {
	const char *dir;      /* created if missing */
	uint64_t map_size;    /* bytes; the file is sparse */
	unsigned max_readers; /* >= 512 */
};

int store_open(struct store **sp, const struct store_opts *o);
/* Finishes queued jobs, stops the writer, closes the environment. */
void store_close(struct store *s);

/* --- reads, from any thread; a read transaction is a consistent snapshot --- */
int store_read_begin(struct store *s, struct store_txn **tp);
void store_read_end(struct store_txn *t);

/* --- writes --- */
/* One step of a job, run on the writer thread inside its own nested
 * transaction. Return 0 to keep its changes, non-zero to roll them back (the
 * value is not interpreted; record the outcome in arg). A step that returns 0
 * after a store write in it failed (ENOSPC...) fails its whole job with that
 * error: the write is not there, so the job must not look committed. Steps
 * must not call store_write() (EDEADLK); store_write_async() is fine. */
typedef int (*store_step_fn)(struct store_txn *t, void *arg, size_t step);

/* Runs steps 0..nsteps-1 of fn in order within one batch and waits until the
 * batch is synced. Returns 0 when the batch committed (each step's own outcome
 * is in arg), or an errno value when nothing of the job was committed:
 * ENOSPC map full, EIO and others for disk errors, ESHUTDOWN when closing. */
int store_write(struct store *s, store_step_fn fn, void *arg, size_t nsteps);

/* Same, without waiting: done(arg, rc) runs on the writer thread after the
 * sync and must only hand the result over (queue, eventfd), never block. */
typedef void (*store_done_fn)(void *arg, int rc);
int store_write_async(struct store *s, store_step_fn fn, void *arg, size_t nsteps,
                      store_done_fn done);

/* --- allocations (any transaction unless it says "write") --- */
/* The *_each and scan callbacks may query the same transaction, and in a
 * write step may also write (a sweeper deletes what store_due_each hands it). */
/* 0, or ENOENT. */
int store_alloc_get(struct store_txn *t, const uint8_t id[STORE_ID_LEN], struct store_alloc *out);

/* write: stores rec (new, or a new version of an existing id) and brings every
 * index in line with it: an active record is indexed in txn, vnpin, vnnum,
 * byvn; a vault record keeps only its vnpin entries while cooling. ENOSPC
 * when the map is full. EEXIST, with nothing changed, when another active
 * allocation holds its (tenant, txn_id) or one of its exact (vn, pin) keys,
 * or when its a and b PINs are equal on a shared VN; a PIN another record
 * holds only while cooling is taken over (the caller decides whether a cooling
 * PIN may be reused). EINVAL when a field is out of range. */
int store_alloc_put(struct store_txn *t, const struct store_alloc *rec);

/* write: removes the record and every index entry of it (retention purge). */
int store_alloc_del(struct store_txn *t, const uint8_t id[STORE_ID_LEN]);

/* The active allocation of tenant with this transaction_id: 0 or ENOENT. */
int store_txnid_get(struct store_txn *t, const char *tenant, const char *txn_id,
                    uint8_t id_out[STORE_ID_LEN]);

struct store_pin_hit {
	char pin[STORE_PIN_MAX + 1];
	uint8_t id[STORE_ID_LEN];
	uint8_t side;             /* STORE_A or STORE_B */
	int64_t cooling_until_ms; /* 0: active; else the PIN is cooling until then */
};

/* Exact (vn, pin): 0 and *hit, or ENOENT. */
int store_pin_get(struct store_txn *t, const char *vn, const char *pin, struct store_pin_hit *hit);

/* A PIN on vn (active or cooling) that pin is a prefix of, or that is a prefix
 * of pin, equal included: 0 and *hit, or ENOENT when pin is free on vn. */
int store_pin_clash(struct store_txn *t, const char *vn, const char *pin,
                    struct store_pin_hit *hit);

/* Calls fn for every PIN on vn (active and cooling); fn returning non-zero
 * stops the walk and is returned. */
typedef int (*store_pin_fn)(void *arg, const struct store_pin_hit *hit);
int store_pin_each(struct store_txn *t, const char *vn, store_pin_fn fn, void *arg);

struct store_num_hit {
	uint8_t id[STORE_ID_LEN];
	uint8_t side;
};

/* Every active allocation side holding number on one of its VNs vn. */
typedef int (*store_num_fn)(void *arg, const struct store_num_hit *hit);
int store_num_each(struct store_txn *t, const char *vn, const char *number, store_num_fn fn,
                   void *arg);

/* 1 when an active allocation has vn on either side, else 0. */
int store_vn_in_use(struct store_txn *t, const char *vn);

/* Allocations whose next lifecycle time (active: dealloc_ms; vault: the
 * earlier of cooling_until_ms and purge_ms) is <= until_ms, earliest first. */
typedef int (*store_due_fn)(void *arg, const uint8_t id[STORE_ID_LEN], int64_t at_ms);
int store_due_each(struct store_txn *t, int64_t until_ms, store_due_fn fn, void *arg);

/* A tenant's allocations in (created_ms, id) order, starting after the
 * position *after (NULL: from created_from_ms). Stops when fn returns non-zero
 * (that value is returned) or past created_to_ms (0 = no bound). */
struct store_pos {
	int64_t created_ms;
	uint8_t id[STORE_ID_LEN];
};
typedef int (*store_alloc_fn)(void *arg, const struct store_alloc *rec);
int store_alloc_scan(struct store_txn *t, const char *tenant, int64_t created_from_ms,
                     int64_t created_to_ms, const struct store_pos *after, store_alloc_fn fn,
                     void *arg);

/* Active allocations of tenant (kept as a counter in the same transactions). */
uint64_t store_active_count(struct store_txn *t, const char *tenant);

/* --- the webhook outbox (DESIGN §4): an event is added in the same
 * transaction as the change that causes it. --- */
#define STORE_EVENT_TYPE_MAX 32
#define STORE_EVENT_URL_MAX  512
#define STORE_EVENT_BODY_MAX 8192
#define STORE_EVENT_ERR_MAX  160

enum store_ev_state { STORE_EV_PENDING = 0, STORE_EV_DELIVERED = 1, STORE_EV_DEAD = 2 };

struct store_event {
	uint64_t seq;                      /* set by store_event_add, then the key */
	uint8_t delivery_id[STORE_ID_LEN]; /* X-Pinbridge-Delivery: stable across retries */
	char tenant[STORE_TENANT_MAX + 1];
	char type[STORE_EVENT_TYPE_MAX]; /* "deallocation", "call-completed", ... */
	char url[STORE_EVENT_URL_MAX];   /* where it goes, fixed when it is written */
	uint8_t state;                   /* enum store_ev_state */
	uint32_t attempts;
	int64_t created_ms; /* committed with its cause */
	int64_t first_ms;   /* start of max_age: created_ms, or when replayed */
	int64_t due_ms;     /* pending: next attempt; delivered/dead: purge time */
	int64_t done_ms;    /* delivered/dead: when; 0 while pending */
	int last_status;    /* HTTP status of the last attempt, 0 = none / transport error */
	char last_error[STORE_EVENT_ERR_MAX];
	uint32_t body_len;
	char body[STORE_EVENT_BODY_MAX]; /* the JSON payload, not NUL-terminated */
};

/* write: assigns ev->seq (increasing, never reused) and stores ev with its
 * index entries: evbytenant (tenant, state, seq), evid (delivery_id), evdue
 * (due_ms, seq). Counts pending events per tenant. */
int store_event_add(struct store_txn *t, struct store_event *ev);
/* write: a new version of an existing event (state, attempts, due...);
 * indexes follow. ENOENT when seq is unknown. */
int store_event_put(struct store_txn *t, const struct store_event *ev);
/* write: removes the event and its index entries (retention purge). */
int store_event_del(struct store_txn *t, uint64_t seq);
int store_event_get(struct store_txn *t, uint64_t seq, struct store_event *out);
/* The event with this delivery id: 0 and *out, or ENOENT. */
int store_event_by_delivery(struct store_txn *t, const uint8_t id[STORE_ID_LEN],
                            struct store_event *out);

/* Events whose due_ms <= until_ms (pending: to send; delivered or dead: to
 * purge), earliest first; fn's non-zero stops the walk and is returned.
 * fn gets the whole event. */
typedef int (*store_event_fn)(void *arg, const struct store_event *ev);
int store_event_due_each(struct store_txn *t, int64_t until_ms, store_event_fn fn, void *arg);

/* A tenant's events in one state, in seq order, strictly after after_seq. */
int store_event_scan(struct store_txn *t, const char *tenant, int state, uint64_t after_seq,
                     store_event_fn fn, void *arg);

/* Pending events of tenant (NULL: of every tenant). */
uint64_t store_event_pending_count(struct store_txn *t, const char *tenant);

/* --- call records (DESIGN §3 "Call records"): written when a call passes
 * routing step 1, finished when it ends. Five tables follow each record:
 * calls (sid -> record), callsbytenant (tenant, started, sid) and
 * callsbyalloc (greenpin_id, started, sid; once an allocation is known) for
 * the API's listing, callsopen (started, sid) while in progress, so start-up
 * finds what a crash left open, and callsdue (purge_ms, sid) once completed
 * with a purge time. --- */
#define STORE_SID_LEN      32 /* call_sid: lowercase hex of 16 bytes */
#define STORE_CALL_URL_MAX 256

enum store_call_state { STORE_CALL_IN_PROGRESS = 0, STORE_CALL_COMPLETED = 1 };
enum store_call_direction { STORE_CALL_INCOMING = 0 };
enum store_call_type {
	STORE_CT_COMPLETED = 0,     /* "completed": the parties talked */
	STORE_CT_CLIENT_HANGUP = 1, /* "client-hangup": the caller left before an answer */
	STORE_CT_INCOMPLETE = 2,    /* "incomplete": callee busy, no answer, failed */
	STORE_CT_CALL_ATTEMPT = 3,  /* "call-attempt": ended before dialling */
	STORE_CT_FAILED = 4,        /* "failed": left in progress by a crash */
};
enum store_dial_status {
	STORE_DIAL_NONE = 0, /* null: not dialled */
	STORE_DIAL_COMPLETED = 1,
	STORE_DIAL_BUSY = 2,
	STORE_DIAL_NO_ANSWER = 3,
	STORE_DIAL_FAILED = 4,
	STORE_DIAL_CANCELED = 5,
};
/* The call's recording ("recording_status", beyond the reference). */
enum store_rec_status {
	STORE_RECST_NONE = 0,      /* null: not recorded */
	STORE_RECST_RECORDING = 1, /* "in-progress": bridged, being recorded */
	STORE_RECST_COMPLETED = 2, /* "completed": the whole bridged call */
	STORE_RECST_PARTIAL = 3,   /* "partial": frames were lost (queue full) */
	STORE_RECST_FAILED = 4,    /* "failed": no file (disk full, write error, crash) */
};

struct store_call {
	char call_sid[STORE_SID_LEN + 1];
	char tenant[STORE_TENANT_MAX + 1];
	bool has_alloc; /* greenpin_id is null until routing picks one */
	uint8_t greenpin_id[STORE_ID_LEN];
	char vn[STORE_NUM_LEN];   /* the VN dialled */
	char from[STORE_NUM_LEN]; /* the caller, E.164 (or as the trunk gave it) */
	char to[STORE_NUM_LEN];   /* the real number dialled last; "" = none */
	uint8_t direction;        /* enum store_call_direction */
	uint8_t state;            /* enum store_call_state */
	uint8_t call_type;        /* enum store_call_type (meaningful once completed) */
	uint8_t dial_status;      /* enum store_dial_status */
	int64_t started_ms, answered_ms, ended_ms; /* Unix ms; 0 = not (yet) */
	uint32_t dial_call_duration;               /* whole seconds, start to end when dialled */
	uint32_t on_call_duration;                 /* whole seconds, callee answer to end */
	char recording_url[STORE_CALL_URL_MAX];    /* "" = none */
	uint8_t rec_status;                        /* enum store_rec_status */
	uint32_t rec_dropped;                      /* frames the recording lost */
	int64_t purge_ms;                          /* completed: retention ends; 0 = never */
};

/* write: stores c (new, or a new version of the same call_sid) and moves its
 * index entries with it. EINVAL when a field is out of range (call_sid not 32
 * lowercase hex digits, tenant empty, an enum unknown, a string unterminated). */
int store_call_put(struct store_txn *t, const struct store_call *c);
/* 0 and *out, ENOENT, or EINVAL for a malformed call_sid. */
int store_call_get(struct store_txn *t, const char *call_sid, struct store_call *out);
/* write: removes the record and its index entries (retention purge). */
int store_call_del(struct store_txn *t, const char *call_sid);

/* A listing position: the last record of the previous page. */
struct store_call_pos {
	int64_t started_ms;
	char call_sid[STORE_SID_LEN + 1];
};
/* The callbacks get the whole record, valid during the call only; their
 * non-zero stops the walk and is returned. In a write step they may write. */
typedef int (*store_call_fn)(void *arg, const struct store_call *c);
/* A tenant's (or an allocation's) calls in (started_ms, call_sid) order,
 * from from_ms, or strictly after *after when given (and not before from_ms),
 * up to to_ms inclusive (0 = no bound). */
int store_call_scan_tenant(struct store_txn *t, const char *tenant, int64_t from_ms, int64_t to_ms,
                           const struct store_call_pos *after, store_call_fn fn, void *arg);
int store_call_scan_alloc(struct store_txn *t, const uint8_t greenpin_id[STORE_ID_LEN],
                          int64_t from_ms, int64_t to_ms, const struct store_call_pos *after,
                          store_call_fn fn, void *arg);
/* Records still in progress, oldest start first (at start-up: what a crash
 * left open, to finalise as failed). */
int store_call_open_each(struct store_txn *t, store_call_fn fn, void *arg);
/* Completed records whose purge_ms <= until_ms, earliest first. */
int store_call_due_each(struct store_txn *t, int64_t until_ms, store_call_fn fn, void *arg);

struct store_stats {
	uint64_t map_size;      /* bytes */
	uint64_t map_used;      /* bytes in use (last page number * page size) */
	uint64_t batches;       /* committed batches since start */
	uint64_t jobs;          /* completed jobs since start */
	uint64_t batch_hist[8]; /* jobs per batch: 1, 2, 3-4, 5-8, 9-16, 17-32, 33-64, >64 */
	uint64_t commit_errors;
};
void store_stats(struct store *s, struct store_stats *st);

/* Removes stale reader slots (crashed processes); also run every minute by
 * the store itself. Returns the number cleared. */
int store_reader_check(struct store *s);

#endif
