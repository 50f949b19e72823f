/* lmdb_commit: the raw rate of one synced LMDB commit per write on a disk,
 * the baseline that group commit has to beat. Each put runs in its own write
 * transaction with LMDB's default durability (fsync/fdatasync on commit).
 *
 * Usage: lmdb_commit DIR [SECONDS] [VALUE_BYTES]
 * Prints: "commits N seconds S rate R" (R = synced commits per second). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ != 0) {                                                                    \
			fprintf(stderr, "lmdb_commit: %s: %s\n", #expr, mdb_strerror(rc_));        \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 5.0;
	size_t vlen = argc > 3 ? (size_t)atol(argv[3]) : 400;
	unsigned char key[16], *val;
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t n = 0;
	double t0, t1;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [SECONDS] [VALUE_BYTES]\n", argv[0]);
		return 2;
	}
	val = calloc(1, vlen);
	if (val == NULL)
		return 1;
	CHECK(mdb_env_create(&env));
	CHECK(mdb_env_set_mapsize(env, (size_t)1 << 30));
	CHECK(mdb_env_set_maxdbs(env, 4));
	CHECK(mdb_env_open(env, argv[1], MDB_NOTLS, 0600));
	CHECK(mdb_txn_begin(env, NULL, 0, &txn));
	CHECK(mdb_dbi_open(txn, "alloc", MDB_CREATE, &dbi));
	CHECK(mdb_txn_commit(txn));

	t0 = now_s();
	do {
		memset(key, 0, sizeof(key));
		memcpy(key, &n, sizeof(n));
		memcpy(val, &n, sizeof(n) < vlen ? sizeof(n) : vlen);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		v.mv_size = vlen;
		v.mv_data = val;
		CHECK(mdb_txn_begin(env, NULL, 0, &txn));
		CHECK(mdb_put(txn, dbi, &k, &v, 0));
		CHECK(mdb_txn_commit(txn)); /* synced: no MDB_NOSYNC/NOMETASYNC */
		n++;
		t1 = now_s();
	} while (t1 - t0 < secs);

	printf("commits %llu seconds %.3f rate %.0f\n", (unsigned long long)n, t1 - t0,
	       (double)n / (t1 - t0));
	mdb_env_close(env);
	free(val);
	return 0;
}
