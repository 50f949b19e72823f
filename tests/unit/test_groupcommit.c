/* Tests store/store_writer.c: concurrent writers share batches, steps roll
 * back alone, a failing job leaves its batch-mates alone, async jobs are
 * completed, and a full map fails writes with ENOSPC while the store stays
 * readable and writable once space is freed. */
#include "store/store.h"
#include "tmpstore.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];
static struct store *st;

static void open_store(uint64_t map_size)
{
	tmpstore_mkdir(dir, "gc");
	tmpstore_open(&st, dir, map_size);
}

static int setup(void **state)
{
	open_store(0);
	return 0;
}

static void remove_store(void)
{
	tmpstore_remove(st, dir);
}

static int teardown(void **state)
{
	remove_store();
	return 0;
}

/* Allocation n: unique id, transaction_id and PIN; numbers per side as asked. */
static void mk(struct store_alloc *r, uint32_t n, unsigned nums)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->id, &n, sizeof(n));
	r->id[15] = 0x5a;
	strcpy(r->tenant, "acme");
	snprintf(r->txn_id, sizeof(r->txn_id), "txn-%u", n);
	for (int s = 0; s < 2; s++) {
		struct store_side *sd = &r->side[s];

		sd->nnumbers = (uint8_t)nums;
		sd->nvns = (uint8_t)nums;
		for (unsigned i = 0; i < nums; i++) {
			char c = s ? '2' : '1';

			snprintf(sd->numbers[i], STORE_NUM_LEN, "+%c%07u%02u", c, n % 10000000u,
			         i % 100u);
			snprintf(sd->vns[i], STORE_NUM_LEN, "+9%c%08u", c, i % 100u);
		}
	}
	snprintf(r->side[0].pin, sizeof(r->side[0].pin), "%u", 100000000u + n);
	r->created_ms = 1000 + n;
	r->dealloc_ms = 900000 + n;
}

static int exists(uint32_t n)
{
	struct store_alloc r, back;
	struct store_txn *t;
	int rc;

	mk(&r, n, 0);
	assert_int_equal(store_read_begin(st, &t), 0);
	rc = store_alloc_get(t, r.id, &back);
	store_read_end(t);
	assert_true(rc == 0 || rc == ENOENT);
	return rc == 0;
}

/* A job creating allocations first..first+nsteps-1, one per step; steps
 * listed in fail return non-zero after writing. */
struct job {
	uint32_t first;
	unsigned nums;
	uint32_t fail_mask;
	bool ignore_errors; /* return 0 even when the put failed */
	int rc[8];
	atomic_int done_rc;
	atomic_int done_calls;
};

static int step_put(struct store_txn *t, void *arg, size_t i)
{
	struct job *j = arg;
	struct store_alloc r;

	mk(&r, j->first + (uint32_t)i, j->nums);
	j->rc[i] = store_alloc_put(t, &r);
	if (j->ignore_errors)
		return 0;
	if (j->rc[i])
		return j->rc[i];
	return (j->fail_mask >> i) & 1;
}

static void job_done(void *arg, int rc)
{
	struct job *j = arg;

	atomic_store(&j->done_rc, rc);
	atomic_fetch_add(&j->done_calls, 1);
}

static void wait_done(struct job *j)
{
	for (int i = 0; i < 10000 && atomic_load(&j->done_calls) == 0; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&j->done_calls), 1);
}

#define THREADS 16
#define PER     100

static void *writer_thread(void *arg)
{
	uint32_t base = (uint32_t)(uintptr_t)arg;

	for (uint32_t i = 0; i < PER; i++) {
		struct job j = {.first = base + i, .nums = 1};

		if (store_write(st, step_put, &j, 1) != 0 || j.rc[0] != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent_writers_share_batches(void **state)
{
	pthread_t th[THREADS];
	struct store_stats s;
	struct store_txn *t;
	struct timespec a, b;
	uint64_t multi = 0;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (uintptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_thread, (void *)(i * 1000)),
		                 0);
	for (int i = 0; i < THREADS; i++) {
		void *ret;

		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	store_stats(st, &s);
	for (int i = 1; i < 8; i++)
		multi += s.batch_hist[i];
	printf("# %d synced creates in %.3f s (%.0f/s), %llu batches, %llu with >1 job\n",
	       THREADS * PER, secs, THREADS * PER / secs, (unsigned long long)s.batches,
	       (unsigned long long)multi);
	assert_true(s.jobs == THREADS * PER);
	assert_true(s.batches < s.jobs);
	assert_true(multi > 0);
	assert_true(s.map_used > 0 && s.map_used < s.map_size);
	assert_int_equal(store_read_begin(st, &t), 0);
	assert_true(store_active_count(t, "acme") == THREADS * PER);
	store_read_end(t);
	for (uint32_t i = 0; i < THREADS; i++)
		assert_true(exists(i * 1000 + PER - 1));
}

static void test_failing_middle_step(void **state)
{
	struct job j = {.first = 10, .nums = 1, .fail_mask = 2};

	assert_int_equal(store_write(st, step_put, &j, 3), 0);
	assert_true(exists(10));
	assert_false(exists(11));
	assert_true(exists(12));
}

/* A job that holds the writer until released, so what is queued meanwhile
 * lands in one batch. */
struct gate {
	sem_t entered, release;
};

static int step_gate(struct store_txn *t, void *arg, size_t i)
{
	struct gate *g = arg;

	sem_post(&g->entered);
	sem_wait(&g->release);
	return 0;
}

static void gate_done(void *arg, int rc)
{
}

static void test_failing_job_in_batch(void **state)
{
	struct gate g;
	struct job good[4], bad = {.first = 200, .nums = 1, .fail_mask = 1};
	struct job empty = {0};
	struct store_stats before, after;

	sem_init(&g.entered, 0, 0);
	sem_init(&g.release, 0, 0);
	assert_int_equal(store_write_async(st, step_gate, &g, 1, gate_done), 0);
	sem_wait(&g.entered);
	store_stats(st, &before);
	for (int i = 0; i < 4; i++) {
		good[i] = (struct job){.first = 100 + 10 * (uint32_t)i, .nums = 2};
		assert_int_equal(store_write_async(st, step_put, &good[i], 2, job_done), 0);
		if (i == 1)
			assert_int_equal(store_write_async(st, step_put, &bad, 1, job_done), 0);
	}
	assert_int_equal(store_write_async(st, step_put, &empty, 0, job_done), 0);
	sem_post(&g.release);
	for (int i = 0; i < 4; i++)
		wait_done(&good[i]);
	wait_done(&bad);
	wait_done(&empty);
	store_stats(st, &after);

	/* The gate's batch, then one batch of the six queued behind it. */
	assert_true(after.batches == before.batches + 2);
	assert_true(after.batch_hist[3] == before.batch_hist[3] + 1); /* 5-8 jobs */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(atomic_load(&good[i].done_rc), 0);
		assert_true(exists(100 + 10 * (uint32_t)i));
		assert_true(exists(101 + 10 * (uint32_t)i));
	}
	assert_int_equal(atomic_load(&bad.done_rc),
	                 0); /* its step rolled back, the job did not fail */
	assert_int_equal(bad.rc[0], 0);
	assert_false(exists(200));
	assert_int_equal(atomic_load(&empty.done_rc), 0);
	sem_destroy(&g.entered);
	sem_destroy(&g.release);
}

static int step_recurse(struct store_txn *t, void *arg, size_t i)
{
	*(int *)arg = store_write(st, step_gate, NULL, 1);
	return 0;
}

static void test_write_from_writer_refused(void **state)
{
	int rc = 0;

	assert_int_equal(store_write(st, step_recurse, &rc, 1), 0);
	assert_int_equal(rc, EDEADLK);
}

static int step_del(struct store_txn *t, void *arg, size_t i)
{
	struct store_alloc r;

	mk(&r, *(uint32_t *)arg + (uint32_t)i, 0);
	return store_alloc_del(t, r.id);
}

/* Step 0 deletes allocation 0; step 1 creates a large one that cannot fit
 * and, wrongly, carries on as if it had. */
struct overflow {
	uint32_t big; /* the allocation that cannot fit */
	int rc;
};

static int step_del_then_overflow(struct store_txn *t, void *arg, size_t i)
{
	struct overflow *o = arg;
	struct store_alloc r;
	uint32_t zero = 0;

	if (i == 0)
		return step_del(t, &zero, 0);
	mk(&r, o->big, STORE_MAX_NUMS);
	o->rc = store_alloc_put(t, &r);
	return 0;
}

static void test_map_full(void **state)
{
	struct store_stats s;
	struct job j;
	struct overflow o;
	uint32_t n, full_at = 0;
	int rc;

	remove_store();
	open_store(1 << 20);

	/* Fill until a step is told the map is full. */
	for (n = 0; n < 100000 && full_at == 0; n++) {
		j = (struct job){.first = n, .nums = 2};
		rc = store_write(st, step_put, &j, 1);
		assert_int_equal(rc, 0);
		if (j.rc[0] == ENOSPC)
			full_at = n;
		else
			assert_int_equal(j.rc[0], 0);
	}
	assert_true(full_at > 10);
	assert_false(exists(full_at));
	store_stats(st, &s);
	printf("# map full after %u allocations, %llu of %llu bytes used\n", full_at,
	       (unsigned long long)s.map_used, (unsigned long long)s.map_size);

	/* Reads go on. */
	for (uint32_t i = 0; i < full_at; i++)
		assert_true(exists(i));

	/* A step that ignores its ENOSPC fails its whole job: the first step,
	 * which fitted, is not committed either. */
	o = (struct overflow){.big = full_at};
	assert_int_equal(store_write(st, step_del_then_overflow, &o, 2), ENOSPC);
	assert_int_equal(o.rc, ENOSPC);
	assert_true(exists(0));

	/* Writes that fit go on: free some space, then create again. */
	for (uint32_t i = 1; i <= 5; i++) {
		uint32_t id = i;

		assert_int_equal(store_write(st, step_del, &id, 1), 0);
		assert_false(exists(i));
	}
	j = (struct job){.first = full_at, .nums = 2};
	assert_int_equal(store_write(st, step_put, &j, 1), 0);
	assert_int_equal(j.rc[0], 0);
	assert_true(exists(full_at));
}

static void test_close_drains_queue(void **state)
{
	struct store_opts o = {.dir = dir};
	struct job *jobs = calloc(50, sizeof(*jobs));

	for (uint32_t i = 0; i < 50; i++) {
		jobs[i].first = 1000 + i;
		jobs[i].nums = 1;
		assert_int_equal(store_write_async(st, step_put, &jobs[i], 1, job_done), 0);
	}
	store_close(st); /* runs every queued job before it returns */
	for (int i = 0; i < 50; i++) {
		assert_int_equal(atomic_load(&jobs[i].done_calls), 1);
		assert_int_equal(atomic_load(&jobs[i].done_rc), 0);
	}
	assert_int_equal(store_open(&st, &o), 0);
	for (uint32_t i = 0; i < 50; i++)
		assert_true(exists(1000 + i));
	free(jobs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_concurrent_writers_share_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failing_middle_step, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failing_job_in_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_from_writer_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_drains_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
