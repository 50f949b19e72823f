/* pin_guard: the brute-force guard of DESIGN §3: failed PINs counted per
 * (VN, caller) and per caller in a sliding window; past `after` failures
 * the caller's PIN attempts are refused for lock_ms. Per-VN failure counts
 * are exported, with no per-VN lockout (a spoofing caller must not close a
 * VN to everyone). Entries live on the SIP thread; only the per-VN counts
 * are read from elsewhere (metrics), under a lock. */
#include "core/pin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD_BUCKETS 4096
#define GUARD_KEY_MAX (2 * STORE_NUM_LEN + 2)
#define EXPIRE_EVERY  256 /* failures between sweeps of stale entries */

struct guard_entry {
	char key[GUARD_KEY_MAX];
	int64_t locked_until;
	uint32_t n, cap, head; /* ring of failure times, oldest at head */
	int64_t *t;
	struct guard_entry *next;
};

struct vn_count {
	char vn[STORE_NUM_LEN];
	uint64_t failures;
	struct vn_count *next;
};

struct pin_guard {
	struct guard_entry *b[GUARD_BUCKETS];
	unsigned since_expire;
	pthread_mutex_t vn_lock; /* guards vns */
	struct vn_count *vns;
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h % GUARD_BUCKETS;
}

int pin_guard_new(struct pin_guard **gp)
{
	struct pin_guard *g = calloc(1, sizeof(*g));

	if (!g)
		return ENOMEM;
	pthread_mutex_init(&g->vn_lock, NULL);
	*gp = g;
	return 0;
}

static void entry_free(struct guard_entry *e)
{
	free(e->t);
	free(e);
}

void pin_guard_free(struct pin_guard *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < GUARD_BUCKETS; i++)
		while (g->b[i]) {
			struct guard_entry *e = g->b[i];

			g->b[i] = e->next;
			entry_free(e);
		}
	while (g->vns) {
		struct vn_count *v = g->vns;

		g->vns = v->next;
		free(v);
	}
	pthread_mutex_destroy(&g->vn_lock);
	free(g);
}

static struct guard_entry *find(struct pin_guard *g, const char *key, bool create)
{
	uint32_t h = hash(key);
	struct guard_entry *e;

	for (e = g->b[h]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create || !(e = calloc(1, sizeof(*e))))
		return NULL;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->next = g->b[h];
	g->b[h] = e;
	return e;
}

static void keys(const char *vn, const char *caller, char pair[GUARD_KEY_MAX],
                 char alone[GUARD_KEY_MAX])
{
	snprintf(pair, GUARD_KEY_MAX, "%s|%s", vn, caller);
	snprintf(alone, GUARD_KEY_MAX, "|%s", caller);
}

bool pin_guard_locked(struct pin_guard *g, const char *vn, const char *caller, int64_t now_ms)
{
	char pair[GUARD_KEY_MAX], alone[GUARD_KEY_MAX];
	struct guard_entry *a, *b;

	keys(vn, caller, pair, alone);
	a = find(g, pair, false);
	b = find(g, alone, false);
	return (a && a->locked_until > now_ms) || (b && b->locked_until > now_ms);
}

/* Drops failure times older than the window. */
static void prune(struct guard_entry *e, int64_t window_ms, int64_t now_ms)
{
	while (e->n && e->t[e->head] <= now_ms - window_ms) {
		e->head = (e->head + 1) % e->cap;
		e->n--;
	}
}

static int grow(struct guard_entry *e, uint32_t cap)
{
	int64_t *t = malloc(cap * sizeof(*t));

	if (!t)
		return ENOMEM;
	for (uint32_t i = 0; i < e->n; i++)
		t[i] = e->t[(e->head + i) % e->cap];
	free(e->t);
	e->t = t;
	e->cap = cap;
	e->head = 0;
	return 0;
}

/* One failure on the entry of key; true when it locks now. */
static bool fail_one(struct pin_guard *g, const struct pin_guard_cfg *c, const char *key,
                     int64_t now_ms)
{
	struct guard_entry *e = find(g, key, true);
	uint32_t after = c->after > 0 ? (uint32_t)c->after : 1;

	if (!e)
		return false;
	prune(e, c->window_ms, now_ms);
	if (e->n >= e->cap && grow(e, after > e->n + 1 ? after : e->n + 1) != 0)
		return false;
	e->t[(e->head + e->n) % e->cap] = now_ms;
	e->n++;
	if (e->n < after || e->locked_until > now_ms)
		return false;
	e->locked_until = now_ms + c->lock_ms;
	e->n = e->head = 0;
	return true;
}

static void count_vn(struct pin_guard *g, const char *vn)
{
	struct vn_count *v;

	pthread_mutex_lock(&g->vn_lock);
	for (v = g->vns; v; v = v->next)
		if (strcmp(v->vn, vn) == 0)
			break;
	if (!v && (v = calloc(1, sizeof(*v)))) {
		snprintf(v->vn, sizeof(v->vn), "%s", vn);
		v->next = g->vns;
		g->vns = v;
	}
	if (v)
		v->failures++;
	pthread_mutex_unlock(&g->vn_lock);
}

bool pin_guard_fail(struct pin_guard *g, const struct pin_guard_cfg *c, const char *vn,
                    const char *caller, int64_t now_ms)
{
	char pair[GUARD_KEY_MAX], alone[GUARD_KEY_MAX];
	bool locked;

	keys(vn, caller, pair, alone);
	count_vn(g, vn);
	locked = fail_one(g, c, pair, now_ms);
	locked = fail_one(g, c, alone, now_ms) || locked;
	if (++g->since_expire >= EXPIRE_EVERY) {
		g->since_expire = 0;
		pin_guard_expire(g, c, now_ms);
	}
	return locked;
}

void pin_guard_expire(struct pin_guard *g, const struct pin_guard_cfg *c, int64_t now_ms)
{
	for (size_t i = 0; i < GUARD_BUCKETS; i++)
		for (struct guard_entry **p = &g->b[i]; *p;) {
			struct guard_entry *e = *p;

			prune(e, c->window_ms, now_ms);
			if (e->n == 0 && e->locked_until <= now_ms) {
				*p = e->next;
				entry_free(e);
			} else {
				p = &e->next;
			}
		}
}

int pin_guard_metrics(struct pin_guard *g, char **buf, size_t *len)
{
	pthread_mutex_lock(&g->vn_lock);
	for (struct vn_count *v = g->vns; v; v = v->next) {
		char line[96];
		int n =
		    snprintf(line, sizeof(line), "pinbridge_pin_failures_total{vn=\"%s\"} %llu\n",
		             v->vn, (unsigned long long)v->failures);
		char *q = realloc(*buf, *len + (size_t)n + 1);

		if (!q) {
			pthread_mutex_unlock(&g->vn_lock);
			return ENOMEM;
		}
		memcpy(q + *len, line, (size_t)n + 1);
		*buf = q;
		*len += (size_t)n;
	}
	pthread_mutex_unlock(&g->vn_lock);
	return 0;
}
