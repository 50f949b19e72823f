/* store_writer: the one thread that writes. It takes every queued job, runs
 * them in one LMDB write transaction (a job in its own nested transaction,
 * each step nested again inside it), commits once (one sync for the batch:
 * group commit), and only then reports to each job. */
#include "store/store_int.h"
#include "core/base/clock.h"
#include "core/base/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READER_CHECK_MS 60000
/* A batch is one transaction: bound it so its dirty pages stay far from
 * MDB_TXN_FULL and one burst cannot delay every waiter by a long commit. */
#define BATCH_MAX 1024

struct store_job {
	struct store_job *next;
	store_step_fn fn;
	void *arg;
	size_t nsteps;
	store_done_fn done; /* NULL: a store_write() caller waits for finished */
	int rc;
	bool finished; /* guarded by store.mu */
};

/* Runs one job's steps inside its own nested transaction of the batch (a
 * one-step job needs no level of its own: its step's is the job's). Returns
 * 0 when the job's changes joined the batch, else the errno that made the
 * whole job roll back; the batch goes on without it. */
static int run_job(struct store *s, MDB_txn *batch, struct store_job *j)
{
	MDB_txn *jt = batch;
	int rc = 0, err = 0;

	if (j->nsteps > 1) {
		rc = mdb_txn_begin(s->env, batch, 0, &jt);
		if (rc) {
			log_err("store", "job begin: %s", mdb_strerror(rc));
			return store_errno(rc);
		}
	}
	for (size_t i = 0; i < j->nsteps && err == 0; i++) {
		struct store_txn st = {.s = s, .write = true};

		rc = mdb_txn_begin(s->env, jt, 0, &st.txn);
		if (rc) {
			err = store_errno(rc);
			log_err("store", "step begin: %s", mdb_strerror(rc));
		} else if (j->fn(&st, j->arg, i) != 0) {
			mdb_txn_abort(st.txn);
		} else if (st.err) {
			/* The step went on after a failed write: LMDB has poisoned
			 * its transaction, and what the step believes it wrote is
			 * not there. Fail the job rather than report a write that
			 * did not happen. */
			mdb_txn_abort(st.txn);
			err = st.err;
			log_err("store", "step %zu returned 0 after a failed write", i);
		} else if ((rc = mdb_txn_commit(st.txn)) != 0) {
			err = store_errno(rc);
			log_err("store", "step commit: %s", mdb_strerror(rc));
		}
	}
	if (jt == batch)
		return err;
	if (err) {
		mdb_txn_abort(jt);
		return err;
	}
	rc = mdb_txn_commit(jt);
	if (rc) {
		log_err("store", "job commit: %s", mdb_strerror(rc));
		return store_errno(rc);
	}
	return 0;
}

static int hist_bucket(size_t n)
{
	int b = 0;

	/* 1, 2, 3-4, 5-8, ... : the bucket of n is ceil(log2(n)). */
	for (size_t lim = 1; lim < n && b < 7; lim <<= 1)
		b++;
	return b;
}

/* Runs a batch and records each job's rc; nothing is reported yet. */
static void run_batch(struct store *s, struct store_job *list, size_t n)
{
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc == 0) {
		for (struct store_job *j = list; j; j = j->next)
			j->rc = run_job(s, txn, j);
		rc = mdb_txn_commit(txn);
	}
	pthread_mutex_lock(&s->mu);
	if (rc) {
		s->commit_errors++;
	} else {
		s->batches++;
		s->batch_hist[hist_bucket(n)]++;
	}
	s->jobs += n;
	pthread_mutex_unlock(&s->mu);
	if (rc) {
		/* Nothing of the batch is on disk: every job fails with it. */
		int err = store_errno(rc);

		log_err("store", "batch of %zu jobs failed: %s", n, mdb_strerror(rc));
		for (struct store_job *j = list; j; j = j->next)
			j->rc = err ? err : EIO;
	}
}

/* Reports a finished batch: waiters are woken, async jobs get done(). */
static void complete(struct store *s, struct store_job *list)
{
	struct store_job *async = NULL, **atail = &async, *next;

	pthread_mutex_lock(&s->mu);
	for (struct store_job *j = list; j; j = next) {
		next = j->next;
		if (j->done) {
			*atail = j;
			atail = &j->next;
			j->next = NULL;
		} else {
			/* After this the waiter may return and free j. */
			j->finished = true;
		}
	}
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->mu);
	for (struct store_job *j = async; j; j = next) {
		next = j->next;
		j->done(j->arg, j->rc);
		free(j);
	}
}

static void maybe_reader_check(struct store *s)
{
	int64_t now = clock_mono_ms();

	if (now >= s->next_reader_check_ms) {
		store_reader_check(s);
		s->next_reader_check_ms = now + READER_CHECK_MS;
	}
}

static void *writer_main(void *arg)
{
	struct store *s = arg;

	s->next_reader_check_ms = clock_mono_ms() + READER_CHECK_MS;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct store_job *list, *last;
		size_t n = 1;

		while (s->head == NULL && !s->stopping) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += READER_CHECK_MS / 1000;
			if (pthread_cond_timedwait(&s->wake, &s->mu, &ts) == ETIMEDOUT) {
				pthread_mutex_unlock(&s->mu);
				maybe_reader_check(s);
				pthread_mutex_lock(&s->mu);
			}
		}
		if (s->head == NULL)
			break; /* stopping, and everything queued is done */
		list = last = s->head;
		while (last->next && n < BATCH_MAX) {
			last = last->next;
			n++;
		}
		s->head = last->next;
		if (s->head == NULL)
			s->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->mu);

		run_batch(s, list, n);
		complete(s, list);
		maybe_reader_check(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

void store_writer_start(struct store *s)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->done, NULL);
	if (pthread_create(&s->writer, NULL, writer_main, s) == 0) {
		s->writer_started = true;
	} else {
		/* Reads still work; every write will answer ESHUTDOWN. */
		log_err("store", "cannot start the writer thread");
		s->stopping = true;
	}
}

void store_writer_stop(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	/* Woken waiters may not have left store_write() yet; they still need
	 * the mutex and condition variable. */
	pthread_mutex_lock(&s->mu);
	while (s->waiters)
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->mu);
}

/* Queues j; false when the store is closing. Called with s->mu held. */
static bool enqueue(struct store *s, struct store_job *j)
{
	if (s->stopping)
		return false;
	j->next = NULL;
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->wake);
	return true;
}

static bool on_writer(struct store *s)
{
	return s->writer_started && pthread_equal(pthread_self(), s->writer);
}

int store_write(struct store *s, store_step_fn fn, void *arg, size_t nsteps)
{
	struct store_job j = {.fn = fn, .arg = arg, .nsteps = nsteps};

	if (on_writer(s)) {
		/* Waiting for our own batch would wait forever. */
		log_err("store", "store_write called on the writer thread");
		return EDEADLK;
	}
	pthread_mutex_lock(&s->mu);
	if (!enqueue(s, &j)) {
		pthread_mutex_unlock(&s->mu);
		return ESHUTDOWN;
	}
	s->waiters++;
	while (!j.finished)
		pthread_cond_wait(&s->done, &s->mu);
	if (--s->waiters == 0 && s->stopping)
		pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->mu);
	return j.rc;
}

int store_write_async(struct store *s, store_step_fn fn, void *arg, size_t nsteps,
                      store_done_fn done)
{
	struct store_job *j;

	if (done == NULL)
		return EINVAL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return ENOMEM;
	j->fn = fn;
	j->arg = arg;
	j->nsteps = nsteps;
	j->done = done;
	pthread_mutex_lock(&s->mu);
	if (!enqueue(s, j)) {
		pthread_mutex_unlock(&s->mu);
		free(j);
		return ESHUTDOWN;
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}
