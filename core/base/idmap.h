/* idmap: nonzero 64-bit ids to pointers, for finding a call by its SIP
 * handle or serial in O(1) rather than by walking the call list. Open
 * addressing with linear probing and backward-shift deletion (no
 * tombstones); the table doubles at half load and never shrinks. Not
 * thread-safe: one owner thread. */
#ifndef PB_BASE_IDMAP_H
#define PB_BASE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	uint64_t key; /* 0: free */
	void *val;
};

struct idmap {
	struct idmap_slot *slot;
	size_t cap; /* a power of two, or 0 before the first put */
	size_t n;
};

/* A zeroed struct idmap is an empty map too. */
void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
/* The value under key; NULL if none (or key is 0). */
void *idmap_get(const struct idmap *m, uint64_t key);
/* Sets key to val (replacing): 0, EINVAL for key 0 or val NULL, ENOMEM. */
int idmap_put(struct idmap *m, uint64_t key, void *val);
/* Room for n entries in all: puts up to that many cannot fail. 0 or
 * ENOMEM. */
int idmap_reserve(struct idmap *m, size_t n);
/* Removes key; returns its value, or NULL if it was not there. */
void *idmap_del(struct idmap *m, uint64_t key);

#endif
