/* alloc_metrics: the store's side of /metrics. */
#include "core/alloc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int alloc_metrics_text(struct alloc_service *s, const struct config *cfg, char **out)
{
	static const char *const le[] = {"1", "2", "4", "8", "16", "32", "64", "+Inf"};
	struct store_stats st;
	struct store_txn *txn;
	uint64_t cum = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return ENOMEM;
	fputs("# HELP pinbridge_allocations_active Active allocations per tenant.\n"
	      "# TYPE pinbridge_allocations_active gauge\n",
	      f);
	if (store_read_begin(s->st, &txn) == 0) {
		for (size_t i = 0; i < cfg->ntenants; i++)
			fprintf(f, "pinbridge_allocations_active{tenant=\"%s\"} %llu\n",
			        cfg->tenants[i].id,
			        (unsigned long long)store_active_count(txn, cfg->tenants[i].id));
		store_read_end(txn);
	}
	store_stats(s->st, &st);
	fprintf(f,
	        "# HELP pinbridge_store_map_size_bytes LMDB map size.\n"
	        "# TYPE pinbridge_store_map_size_bytes gauge\n"
	        "pinbridge_store_map_size_bytes %llu\n"
	        "# HELP pinbridge_store_map_used_bytes LMDB map in use.\n"
	        "# TYPE pinbridge_store_map_used_bytes gauge\n"
	        "pinbridge_store_map_used_bytes %llu\n"
	        "# HELP pinbridge_store_commit_errors_total Batches that failed to commit.\n"
	        "# TYPE pinbridge_store_commit_errors_total counter\n"
	        "pinbridge_store_commit_errors_total %llu\n"
	        "# HELP pinbridge_store_batch_jobs Write jobs per group commit.\n"
	        "# TYPE pinbridge_store_batch_jobs histogram\n",
	        (unsigned long long)st.map_size, (unsigned long long)st.map_used,
	        (unsigned long long)st.commit_errors);
	for (int i = 0; i < 8; i++) {
		cum += st.batch_hist[i];
		fprintf(f, "pinbridge_store_batch_jobs_bucket{le=\"%s\"} %llu\n", le[i],
		        (unsigned long long)cum);
	}
	fprintf(f,
	        "pinbridge_store_batch_jobs_sum %llu\n"
	        "pinbridge_store_batch_jobs_count %llu\n",
	        (unsigned long long)st.jobs, (unsigned long long)st.batches);
	if (fclose(f) != 0) {
		free(buf);
		return ENOMEM;
	}
	*out = buf;
	return 0;
}
