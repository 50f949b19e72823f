/* store_int: store/'s private layout. The environment and its writer queue,
 * the transaction wrapper handed to queries, and the byte encodings of keys
 * and records that every file of store/ must agree on. */
#ifndef PB_STORE_INT_H
#define PB_STORE_INT_H

#include "store/store.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- environment --- */

enum store_db {
	DB_ALLOC = 0,  /* id16 -> record */
	DB_BYTENANT,   /* lp(tenant) be64(created) id16 -> "" */
	DB_TXN,        /* lp(tenant) lp(txn_id) -> id16 (active only) */
	DB_VNPIN,      /* vn16 lp(pin) -> id16 side be64(cooling_until) */
	DB_VNNUM,      /* vn16 num16 -> id16 side (dupsort, active only) */
	DB_BYVN,       /* vn16 id16 -> side mask (active only) */
	DB_EXPIRY,     /* be64(at) id16 -> "" */
	DB_META,       /* 'V' version, 'A' lp(tenant) active, 'E' lp(tenant) pending
	                * events ('E' lp("") all tenants), 'Q' last event seq */
	DB_OUTBOX,     /* be64u(seq) -> event */
	DB_EVTENANT,   /* lp(tenant) state be64u(seq) -> "" */
	DB_EVID,       /* delivery_id16 -> be64u(seq) */
	DB_EVDUE,      /* be64(due) be64u(seq) -> "" (every event) */
	DB_CALLS,      /* sid16 -> call record */
	DB_CALLTENANT, /* lp(tenant) be64(started) sid16 -> "" */
	DB_CALLALLOC,  /* id16 be64(started) sid16 -> "" (calls with an allocation) */
	DB_CALLOPEN,   /* be64(started) sid16 -> "" (in progress) */
	DB_CALLDUE,    /* be64(purge) sid16 -> "" (completed, purge_ms > 0) */
	DB_COUNT
};

/* store_txn's cursor masks have a bit per table. */
_Static_assert(DB_COUNT <= 32, "cur_bound and cur_busy are 32 bits");

struct store_job; /* store_writer.c */

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT]; /* fixed after open; read by every thread */
	uint64_t map_size;
	unsigned pool_max;

	/* Reset read transactions kept for reuse: mdb_txn_renew() keeps the
	 * reader slot, so a read avoids the reader-table mutex and a malloc. */
	pthread_mutex_t pool_mu;
	struct store_txn *pool; /* guarded by pool_mu */
	unsigned pool_len;      /* guarded by pool_mu */

	/* Writer queue and statistics, all guarded by mu. */
	pthread_mutex_t mu;
	pthread_cond_t wake; /* writer: work queued or stopping */
	pthread_cond_t done; /* store_write() waiters: a batch completed */
	struct store_job *head, *tail;
	bool stopping;
	bool writer_started;
	unsigned waiters; /* threads inside store_write(); close waits them out */
	pthread_t writer;
	uint64_t batches, jobs, commit_errors;
	uint64_t batch_hist[8];
	int64_t next_reader_check_ms; /* writer thread only */
};

/* A read transaction, or a write step's nested transaction. */
struct store_txn {
	MDB_txn *txn;
	struct store *s;
	bool write;
	/* write steps: the first LMDB failure of a write in this step. LMDB
	 * poisons a transaction after such a failure, and committing a poisoned
	 * child poisons its parent, so the writer must abort it instead. */
	int err;
	/* read transactions: cursors kept across calls and reuses (opening
	 * one mallocs). bound: renewed for the current snapshot; busy: a scan
	 * is using it, so a nested query takes a temporary one. */
	MDB_cursor *cur[DB_COUNT];
	uint32_t cur_bound, cur_busy;
	struct store_txn *next; /* pool link */
};

/* LMDB or errno -> errno (ENOENT, ENOSPC, EEXIST, EINVAL, EIO...). */
int store_errno(int mdb_rc);
/* Maps rc and, for a write step, remembers it so the writer aborts the step. */
int store_fail(struct store_txn *t, int mdb_rc, const char *what);

/* A cursor on db for t, and its release (store_query.c). */
int store_cursor(struct store_txn *t, enum store_db db, MDB_cursor **cp);
void store_cursor_done(struct store_txn *t, enum store_db db, MDB_cursor *c);
/* Closes a read transaction's cached cursors. */
void store_cursors_close(struct store_txn *t);
/* After a scan's callback: moves c past the entry (key, dup) it was on,
 * wherever a write in the callback may have left it. dup is NULL for plain
 * tables. */
int store_step_next(struct store_txn *t, MDB_cursor *c, const uint8_t *key, size_t klen,
                    const uint8_t *dup, size_t dlen, MDB_val *k, MDB_val *v);
/* The end of a scan: its cursor's last rc -> 0 or an errno (positive values
 * are errnos already, reported where they arose). */
int store_scan_end(struct store_txn *t, int rc, const char *what);
/* Hex of an id for log lines. */
void store_id_hex(char out[2 * STORE_ID_LEN + 1], const uint8_t id[STORE_ID_LEN]);

void store_writer_start(struct store *s);
void store_writer_stop(struct store *s);

/* --- keys (store_keys.c) --- */

#define KEY_NUM_LEN 16 /* E.164, zero padded */
#define KEY_MAX     (1 + STORE_TENANT_MAX + 1 + STORE_TXNID_MAX)
#define VNPIN_VAL   (STORE_ID_LEN + 1 + 8)
#define VNNUM_VAL   (STORE_ID_LEN + 1)

/* Writes a number (at most 16 bytes, no NUL inside) as 16 zero-padded bytes.
 * 0, or EINVAL when it does not fit or is empty. */
int key_num16(uint8_t out[KEY_NUM_LEN], const char *num);
/* Appends len(s) and s; returns the bytes written, or 0 (EINVAL) when s is
 * longer than max. */
size_t key_lp(uint8_t *p, const char *s, size_t max);
/* Big-endian with the sign bit flipped: byte order is numeric order. */
void key_be64(uint8_t out[8], int64_t v);
int64_t key_get_be64(const uint8_t in[8]);
/* Plain big-endian, for unsigned values (event seq). */
void key_u64(uint8_t out[8], uint64_t v);
uint64_t key_get_u64(const uint8_t in[8]);

/* Each builder returns the key length, or 0 when a field is out of range. */
size_t key_bytenant(uint8_t *k, const char *tenant, int64_t created_ms,
                    const uint8_t id[STORE_ID_LEN]);
size_t key_bytenant_prefix(uint8_t *k, const char *tenant);
size_t key_txn(uint8_t *k, const char *tenant, const char *txn_id);
size_t key_vnpin(uint8_t *k, const char *vn, const char *pin);
/* vn16 lp(len) and the first len bytes of pin: the start of every PIN of
 * length len that begins with pin. */
size_t key_vnpin_prefix(uint8_t *k, const char *vn, const char *pin, size_t len);
size_t key_vnnum(uint8_t *k, const char *vn, const char *num);
size_t key_byvn(uint8_t *k, const char *vn, const uint8_t id[STORE_ID_LEN]);
size_t key_expiry(uint8_t *k, int64_t at_ms, const uint8_t id[STORE_ID_LEN]);
size_t key_meta_active(uint8_t *k, const char *tenant);

#define KEY_EVDUE_LEN 16
/* lp(tenant) state: the prefix of a tenant's events in one state; with the
 * seq appended, an evbytenant key. 0 when tenant is empty or too long. */
size_t key_evtenant_prefix(uint8_t *k, const char *tenant, uint8_t state);
size_t key_evtenant(uint8_t *k, const char *tenant, uint8_t state, uint64_t seq);
void key_evdue(uint8_t k[KEY_EVDUE_LEN], int64_t due_ms, uint64_t seq);
/* 'E' lp(tenant); tenant "" is the all-tenants total (no tenant is empty). */
size_t key_meta_evpending(uint8_t *k, const char *tenant);

/* call_sid (32 lowercase hex digits) -> its 16 bytes; 0 or EINVAL. */
#define KEY_SID_LEN 16
int key_sid16(uint8_t out[KEY_SID_LEN], const char *sid);
/* lp(tenant) or id16, then be64(started) sid16: 0 when a field is out of
 * range. The prefix builders stop before the time. */
size_t key_calltenant(uint8_t *k, const char *tenant, int64_t started_ms,
                      const uint8_t sid[KEY_SID_LEN]);
size_t key_callalloc(uint8_t *k, const uint8_t id[STORE_ID_LEN], int64_t started_ms,
                     const uint8_t sid[KEY_SID_LEN]);
/* be64(at) sid16: callsopen and callsdue keys. */
#define KEY_CALLAT_LEN (8 + KEY_SID_LEN)
void key_callat(uint8_t k[KEY_CALLAT_LEN], int64_t at_ms, const uint8_t sid[KEY_SID_LEN]);

/* vnpin key -> pin (NUL-terminated); 0 or EINVAL. */
int key_vnpin_pin(const uint8_t *k, size_t len, char pin[STORE_PIN_MAX + 1]);
void val_vnpin(uint8_t v[VNPIN_VAL], const uint8_t id[STORE_ID_LEN], uint8_t side,
               int64_t cooling_until_ms);

/* --- records (store_record.c) --- */

/* 2 appends the record flag. Version 1 still decodes (record 0, the
 * tenant's setting); a record is rewritten as the current version by its
 * next change, so a data directory upgrades lazily. */
#define STORE_RECORD_VERSION 2
#define STORE_RECORD_MAX     1024 /* the largest encoding is under 1000 bytes */

/* 0 and *len, or EINVAL when a field is out of range (too long, unterminated,
 * too many numbers) or buf is too small. */
int store_record_encode(const struct store_alloc *r, uint8_t *buf, size_t cap, size_t *len);
/* 0, or EINVAL for anything but a well-formed record of a known version. Never
 * reads past buf+len. out is zeroed first and undefined after a failure. */
int store_record_decode(const uint8_t *buf, size_t len, struct store_alloc *out);

/* Next lifecycle time of a record (store_alloc_put's expiry key), 0 = none. */
int64_t store_record_due(const struct store_alloc *r);

#define STORE_EVENT_VERSION 1
#define STORE_EVENT_REC_MAX (1024 + STORE_EVENT_BODY_MAX) /* the header is under 900 */

/* An outbox event (seq is the key, not stored); the body takes body_len
 * bytes. 0 and *len, or EINVAL when a field is out of range: tenant or type
 * empty, a string unterminated in its field, state unknown, body_len over
 * STORE_EVENT_BODY_MAX. */
int store_event_encode(const struct store_event *ev, uint8_t *buf, size_t cap, size_t *len);
/* 0, or EINVAL for anything but a well-formed event of a known version;
 * never reads past buf+len. seq is left 0. with_body: the body is copied
 * and the rest of out->body zeroed; else out->body is not touched (an
 * index update needs only the header). */
int store_event_decode(const uint8_t *buf, size_t len, struct store_event *out, bool with_body);

/* 2 appends rec_status and rec_dropped; version 1 still decodes with both
 * 0 (not recorded), and is rewritten as 2 when the call is next written. */
#define STORE_CALL_VERSION 2
#define STORE_CALL_REC_MAX 512 /* the largest encoding is 473 bytes */

/* A call record (call_sid is the key, but stored too: a record reads whole).
 * 0 and *len, or EINVAL when a field is out of range. */
int store_call_encode(const struct store_call *c, uint8_t *buf, size_t cap, size_t *len);
/* 0, or EINVAL for anything but a well-formed call of a known version; never
 * reads past buf+len. */
int store_call_decode(const uint8_t *buf, size_t len, struct store_call *out);

#endif
