/* idmap: see idmap.h. */
#include "core/base/idmap.h"

#include <errno.h>
#include <stdlib.h>

#define IDMAP_MIN_CAP 64

void idmap_init(struct idmap *m)
{
	*m = (struct idmap){0};
}

void idmap_free(struct idmap *m)
{
	free(m->slot);
	idmap_init(m);
}

/* Fibonacci hashing: consecutive ids (what callers use) spread evenly. */
static size_t home(const struct idmap *m, uint64_t key)
{
	return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (m->cap - 1);
}

static struct idmap_slot *find(const struct idmap *m, uint64_t key)
{
	if (!m->cap || !key)
		return NULL;
	for (size_t i = home(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->slot[i].key == key)
			return &m->slot[i];
		if (!m->slot[i].key)
			return NULL;
	}
}

void *idmap_get(const struct idmap *m, uint64_t key)
{
	struct idmap_slot *s = find(m, key);

	return s ? s->val : NULL;
}

static void insert(struct idmap *m, uint64_t key, void *val)
{
	size_t i = home(m, key);

	while (m->slot[i].key && m->slot[i].key != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->slot[i].key)
		m->n++;
	m->slot[i] = (struct idmap_slot){key, val};
}

static int grow(struct idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : IDMAP_MIN_CAP;
	struct idmap old = *m;

	m->slot = calloc(cap, sizeof(*m->slot));
	if (!m->slot) {
		*m = old;
		return ENOMEM;
	}
	m->cap = cap;
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slot[i].key)
			insert(m, old.slot[i].key, old.slot[i].val);
	free(old.slot);
	return 0;
}

int idmap_reserve(struct idmap *m, size_t n)
{
	while (n * 2 > m->cap)
		if (grow(m) != 0)
			return ENOMEM;
	return 0;
}

int idmap_put(struct idmap *m, uint64_t key, void *val)
{
	struct idmap_slot *s;

	if (!key || !val)
		return EINVAL;
	s = find(m, key);
	if (s) {
		s->val = val;
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
		return ENOMEM;
	insert(m, key, val);
	return 0;
}

void *idmap_del(struct idmap *m, uint64_t key)
{
	struct idmap_slot *s = find(m, key);
	size_t hole, i;
	void *val;

	if (!s)
		return NULL;
	val = s->val;
	hole = (size_t)(s - m->slot);
	/* Backward shift: pull up each later entry of the run that may sit
	 * in the hole (its home is not cyclically within (hole, i]). */
	for (i = (hole + 1) & (m->cap - 1); m->slot[i].key; i = (i + 1) & (m->cap - 1)) {
		size_t h = home(m, m->slot[i].key);

		if (((i - h) & (m->cap - 1)) >= ((i - hole) & (m->cap - 1))) {
			m->slot[hole] = m->slot[i];
			hole = i;
		}
	}
	m->slot[hole] = (struct idmap_slot){0};
	m->n--;
	return val;
}
