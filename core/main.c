/* main: options, config, and the threads of DESIGN §1 (store writer,
 * sweeper, HTTP pool); the main thread then only waits for signals: SIGHUP
 * reloads, SIGTERM and SIGINT stop. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/callflow.h"
#include "core/config.h"
#include "core/events.h"
#include "core/sweeper.h"
#include "store/store.h"

#define EXIT_CONFIG 2

struct options {
	const char *config;
	bool check_only;
	struct config_overrides ov;
};

static void usage(FILE *f)
{
	fputs("usage: pinbridge [--config FILE] [--check-config [FILE]] [--data DIR]\n"
	      "                 [--http ADDR:PORT] [--sip ADDR:PORT] [--rtp-ports MIN-MAX]\n"
	      "Without --config, pinbridge runs on its embedded default (see README).\n",
	      f);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'k'},
	    {"data", required_argument, NULL, 'd'},   {"http", required_argument, NULL, 'H'},
	    {"sip", required_argument, NULL, 's'},    {"rtp-ports", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'k':
			o->check_only = true;
			break;
		case 'd':
			o->ov.data_dir = optarg;
			break;
		case 'H':
			o->ov.http_listen = optarg;
			break;
		case 's':
			o->ov.sip_listen = optarg;
			break;
		case 'r':
			if (sscanf(optarg, "%d-%d", &o->ov.port_min, &o->ov.port_max) != 2) {
				fprintf(stderr, "pinbridge: --rtp-ports wants MIN-MAX, got %s\n",
				        optarg);
				return EXIT_CONFIG;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	/* "--check-config FILE" reads as naturally as "--config FILE --check-config". */
	if (o->check_only && !o->config && optind == argc - 1)
		o->config = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "pinbridge: unexpected argument %s\n", argv[optind]);
		return EXIT_CONFIG;
	}
	return 0;
}

static void apply_log_level(const struct config *cfg)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};

	for (int i = 0; i < 4; i++)
		if (strcmp(cfg->log_level, names[i]) == 0)
			log_set_level((enum log_level)i);
}

struct vn_check {
	struct store_txn *txn;
	char vn[STORE_NUM_LEN];
};

static int vn_still_used(void *arg, const char *vn)
{
	struct vn_check *c = arg;

	if (store_vn_in_use(c->txn, vn) != 1)
		return 0;
	snprintf(c->vn, sizeof(c->vn), "%s", vn);
	return 1;
}

/* SIGHUP: a new snapshot replaces the old one only when it is valid and drops
 * no VN that an active allocation uses; otherwise the old one stays. */
static void reload(const struct options *o, struct store *st, struct callflow *calls)
{
	char err[512];
	struct config *next, *cur;
	struct vn_check chk = {0};
	int rc;

	if (config_load(o->config, &o->ov, &next, err, sizeof(err)) != 0) {
		log_err("config", "reload refused, keeping the running config: %s", err);
		return;
	}
	cur = config_current();
	rc = store_read_begin(st, &chk.txn);
	if (rc == 0) {
		rc = config_removed_vns(cur, next, vn_still_used, &chk);
		store_read_end(chk.txn);
	}
	if (rc != 0) {
		if (chk.vn[0])
			log_err("config",
			        "reload refused, keeping the running config: VN %s leaves its "
			        "tenant's pool but active allocations use it",
			        chk.vn);
		else
			log_err("config", "reload refused: cannot read the store: %s",
			        strerror(rc));
		config_unref(next);
		config_unref(cur);
		return;
	}
	if (strcmp(cur->data_dir, next->data_dir) != 0 ||
	    strcmp(cur->http_listen, next->http_listen) != 0 || cur->map_size != next->map_size)
		log_warn("config",
		         "data_dir, store.map_size and http.listen change only on restart");
	config_unref(cur);
	callflow_reload(calls, next);
	apply_log_level(next);
	config_install(next);
	log_info("config", "reloaded %s: %zu tenants, %zu trunks", next->source, next->ntenants,
	         next->ntrunks);
}

/* SIGTERM's first half: no new calls (503), those in progress go on for up
 * to sip.drain; a second SIGTERM or SIGINT ends the wait at once. */
static void drain(struct callflow *calls, const sigset_t *sigs)
{
	struct config *cfg = config_current();
	int64_t until = clock_mono_ms() + cfg->sip_drain_ms;
	struct timespec tick = {.tv_nsec = 50 * 1000 * 1000};
	int n = callflow_active(calls);

	config_unref(cfg);
	callflow_refuse_new(calls);
	if (n > 0)
		log_info("main", "draining %d call(s) for up to %lld ms (SIGTERM again: end now)",
		         n, (long long)(until - clock_mono_ms()));
	while (callflow_active(calls) > 0 && clock_mono_ms() < until) {
		int sig = sigtimedwait(sigs, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT) {
			log_info("main", "signal %d again: ending calls now", sig);
			break;
		}
	}
}

static int serve(const struct options *o, struct config *cfg)
{
	struct store_opts so = {
	    .dir = cfg->data_dir, .map_size = cfg->map_size, .max_readers = 512};
	struct store *st = NULL;
	struct alloc_service *svc = NULL;
	struct sweeper *sw = NULL;
	struct events *ev = NULL;
	struct callflow *calls = NULL;
	struct api *api = NULL;
	sigset_t sigs;
	int rc, sig;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGPIPE);
	/* Before any thread starts, so they all inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	rc = store_open(&st, &so);
	if (rc != 0) {
		log_err("main", "cannot open the store in %s: %s", cfg->data_dir, strerror(rc));
		return 1;
	}
	rc = alloc_service_new(&svc, st);
	if (rc == 0)
		rc = events_start(&ev, st);
	if (rc == 0) {
		alloc_service_set_events(svc, ev);
		rc = sweeper_start(&sw, svc);
	}
	if (rc == 0) {
		rc = callflow_start(&calls, cfg, st, ev);
		if (rc)
			log_err("main", "cannot start SIP and media: %s", strerror(rc));
	}
	if (rc == 0)
		rc = api_start(&api,
		               &(struct api_services){.svc = svc, .events = ev, .callflow = calls},
		               cfg->http_listen, cfg->http_threads);
	if (rc != 0) {
		log_err("main", "cannot start: %s", strerror(rc));
		goto out;
	}
	log_info("main",
	         "pinbridge ready: HTTP API on http://%s, SIP on %s, RTP %d-%d, data in %s, "
	         "config %s",
	         cfg->http_listen, cfg->nsip_listen ? cfg->sip_listen[0] : "-", cfg->port_min,
	         cfg->port_max, cfg->data_dir, cfg->source);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			reload(o, st, calls);
		else if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	log_info("main", "stopping on signal %d", sig);
	drain(calls, &sigs);
out:
	if (api)
		api_stop(api);
	/* Calls end with BYE and their records are queued before the store
	 * closes; the store finishes what is queued. */
	callflow_stop(calls);
	sweeper_stop(sw);
	/* Deliveries in flight finish or stay pending for the next start. */
	if (ev)
		events_stop(ev);
	alloc_service_free(svc);
	store_close(st);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct config *cfg;
	char err[512];
	int rc = parse_options(argc, argv, &o);

	if (rc != 0)
		return rc;
	if (config_load(o.config, &o.ov, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "pinbridge: %s\n", err);
		return EXIT_CONFIG;
	}
	if (o.check_only) {
		printf("%s: configuration is valid (%zu tenants, %zu trunks)\n", cfg->source,
		       cfg->ntenants, cfg->ntrunks);
		config_unref(cfg);
		return 0;
	}
	apply_log_level(cfg);
	config_install(config_ref(cfg));
	rc = serve(&o, cfg);
	config_unref(cfg);
	config_install(NULL);
	return rc;
}
