/* store: the LMDB environment's life (open, close, statistics, stale readers)
 * and read transactions. Writes are store_writer.c's, queries store_query.c's
 * and store_index.c's. */
#include "store/store_int.h"
#include "core/base/clock.h"
#include "core/base/log.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_MAP_SIZE (UINT64_C(8) << 30)
#define MIN_READERS      512u
#define MAX_DBS          32
/* 1: allocations; 2: and the outbox tables; 3: and the call records' tables
 * (an old directory is upgraded by creating them); 4: records of the second
 * format (store_int.h). 4 needs no upgrade step, since version-1 records
 * still decode and are rewritten when next changed, but a build that knows
 * only 3 must refuse the directory at start rather than call every record
 * written since "corrupt" one request at a time. */
#define SCHEMA_VERSION 4

static const char *const db_names[DB_COUNT] = {
    [DB_ALLOC] = "alloc",
    [DB_BYTENANT] = "bytenant",
    [DB_TXN] = "txn",
    [DB_VNPIN] = "vnpin",
    [DB_VNNUM] = "vnnum",
    [DB_BYVN] = "byvn",
    [DB_EXPIRY] = "expiry",
    [DB_META] = "meta",
    [DB_OUTBOX] = "outbox",
    [DB_EVTENANT] = "evbytenant",
    [DB_EVID] = "evid",
    [DB_EVDUE] = "evdue",
    [DB_CALLS] = "calls",
    [DB_CALLTENANT] = "callsbytenant",
    [DB_CALLALLOC] = "callsbyalloc",
    [DB_CALLOPEN] = "callsopen",
    [DB_CALLDUE] = "callsdue",
};

int store_errno(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return ENOENT;
	case MDB_KEYEXIST:
		return EEXIST;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL: /* too many dirty pages: this write cannot fit either */
		return ENOSPC;
	case MDB_BAD_VALSIZE:
		return EINVAL;
	case MDB_READERS_FULL:
		return EAGAIN;
	default:
		/* LMDB passes OS errors through as errno values. */
		return rc > 0 ? rc : EIO;
	}
}

int store_fail(struct store_txn *t, int rc, const char *what)
{
	int err = store_errno(rc);

	if (t->write && t->err == 0)
		t->err = err;
	if (err == ENOSPC) {
		/* A full map fails every write until space is freed: say so once
		 * a second, not once per request. */
		static _Atomic int64_t last_ms;
		int64_t now = clock_mono_ms(), prev = atomic_load(&last_ms);

		if (now - prev < 1000 || !atomic_compare_exchange_strong(&last_ms, &prev, now))
			return err;
	}
	log_err("store", "%s: %s", what, mdb_strerror(rc));
	return err;
}

/* mkdir -p: the data directory may be nested in a fresh tree. */
static int make_dir(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return EINVAL;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0750) != 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

/* Opens (creating what is missing) the named databases and checks the
 * schema version. An older version is upgraded in place: every version so far
 * only added tables, which MDB_CREATE has just made, or a record format that
 * is read in its old form too. This one write transaction runs before the
 * writer thread exists, so it is still the only writer. */
static int open_dbs(struct store *s)
{
	static const uint8_t vkey[] = {'V'};
	MDB_txn *txn;
	MDB_val k = {sizeof(vkey), (void *)vkey}, v;
	uint32_t ver = SCHEMA_VERSION;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return rc;
	for (int i = 0; i < DB_COUNT && rc == 0; i++) {
		unsigned flags = MDB_CREATE;

		if (i == DB_VNNUM)
			flags |= MDB_DUPSORT | MDB_DUPFIXED;
		rc = mdb_dbi_open(txn, db_names[i], flags, &s->dbi[i]);
	}
	if (rc == 0) {
		rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
		if (rc == MDB_NOTFOUND) {
			v.mv_size = sizeof(ver);
			v.mv_data = &ver;
			rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
		} else if (rc == 0) {
			if (v.mv_size != sizeof(ver))
				rc = MDB_CORRUPTED;
			else
				memcpy(&ver, v.mv_data, sizeof(ver));
			if (rc == 0 && ver > SCHEMA_VERSION) {
				log_err("store", "schema version %u, this build knows %u", ver,
				        SCHEMA_VERSION);
				rc = MDB_INCOMPATIBLE;
			} else if (rc == 0 && ver < SCHEMA_VERSION) {
				log_info("store", "schema version %u upgraded to %u", ver,
				         SCHEMA_VERSION);
				ver = SCHEMA_VERSION;
				v.mv_size = sizeof(ver);
				v.mv_data = &ver;
				rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
			}
		}
	}
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int store_open(struct store **sp, const struct store_opts *o)
{
	struct store *s;
	unsigned readers = o->max_readers > MIN_READERS ? o->max_readers : MIN_READERS;
	int rc, dead = 0;

	rc = make_dir(o->dir);
	if (rc) {
		log_err("store", "cannot create %s: %s", o->dir, strerror(rc));
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ENOMEM;
	s->map_size = o->map_size ? o->map_size : DEFAULT_MAP_SIZE;
	s->pool_max = readers / 4;
	rc = mdb_env_create(&s->env);
	if (rc)
		goto out;
	if ((rc = mdb_env_set_maxdbs(s->env, MAX_DBS)) ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)s->map_size)) ||
	    (rc = mdb_env_set_maxreaders(s->env, readers)))
		goto out;
	/* MDB_NOTLS: read transactions are not tied to threads (pooled, and
	 * HTTP handlers may hand them around). Sync stays on: an acknowledged
	 * write must survive kill -9 and power loss. */
	rc = mdb_env_open(s->env, o->dir, MDB_NOTLS, 0640);
	if (rc)
		goto out;
	mdb_reader_check(s->env, &dead);
	if (dead)
		log_warn("store", "%s: cleared %d stale reader slots", o->dir, dead);
	rc = open_dbs(s);
	if (rc)
		goto out;
	pthread_mutex_init(&s->pool_mu, NULL);
	store_writer_start(s);
	*sp = s;
	return 0;
out:
	log_err("store", "open %s: %s", o->dir, mdb_strerror(rc));
	if (s->env)
		mdb_env_close(s->env);
	free(s);
	return store_errno(rc);
}

void store_close(struct store *s)
{
	struct store_txn *t;

	if (s == NULL)
		return;
	store_writer_stop(s);
	while ((t = s->pool) != NULL) {
		s->pool = t->next;
		store_cursors_close(t);
		mdb_txn_abort(t->txn);
		free(t);
	}
	pthread_mutex_destroy(&s->pool_mu);
	mdb_env_close(s->env);
	free(s);
}

int store_read_begin(struct store *s, struct store_txn **tp)
{
	struct store_txn *t;
	int rc;

	pthread_mutex_lock(&s->pool_mu);
	t = s->pool;
	if (t) {
		s->pool = t->next;
		s->pool_len--;
	}
	pthread_mutex_unlock(&s->pool_mu);
	if (t) {
		t->cur_bound = 0;
		t->cur_busy = 0;
		rc = mdb_txn_renew(t->txn);
		if (rc == 0) {
			*tp = t;
			return 0;
		}
		mdb_txn_abort(t->txn);
	} else {
		t = calloc(1, sizeof(*t));
		if (t == NULL)
			return ENOMEM;
		t->s = s;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t->txn);
	if (rc) {
		store_cursors_close(t);
		free(t);
		log_err("store", "read begin: %s", mdb_strerror(rc));
		return store_errno(rc);
	}
	*tp = t;
	return 0;
}

void store_read_end(struct store_txn *t)
{
	struct store *s;

	if (t == NULL)
		return;
	s = t->s;
	/* A reset transaction keeps its reader slot but pins no snapshot, so
	 * pooled ones cost the writer nothing. */
	mdb_txn_reset(t->txn);
	pthread_mutex_lock(&s->pool_mu);
	if (s->pool_len < s->pool_max) {
		t->next = s->pool;
		s->pool = t;
		s->pool_len++;
		t = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	if (t) {
		store_cursors_close(t);
		mdb_txn_abort(t->txn);
		free(t);
	}
}

void store_stats(struct store *s, struct store_stats *st)
{
	MDB_envinfo info;
	MDB_stat ms;

	memset(st, 0, sizeof(*st));
	if (mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &ms) == 0) {
		st->map_size = info.me_mapsize;
		st->map_used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	}
	pthread_mutex_lock(&s->mu);
	st->batches = s->batches;
	st->jobs = s->jobs;
	st->commit_errors = s->commit_errors;
	memcpy(st->batch_hist, s->batch_hist, sizeof(st->batch_hist));
	pthread_mutex_unlock(&s->mu);
}

int store_reader_check(struct store *s)
{
	int dead = 0, rc;

	rc = mdb_reader_check(s->env, &dead);
	if (rc) {
		log_err("store", "reader check: %s", mdb_strerror(rc));
		return 0;
	}
	if (dead)
		log_warn("store", "cleared %d stale reader slots", dead);
	return dead;
}
