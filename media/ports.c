/* ports: the RTP/RTCP port pair pool: a FIFO free list and a FIFO
 * quarantine queue (released pairs wait quarantine_ms), both rings over pair
 * indices, so every operation is O(1); and binding of real sockets. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "media/media.h"

enum pair_state { PAIR_FREE = 0, PAIR_USED, PAIR_QUARANTINED };

struct quarantined {
	uint32_t idx;
	int64_t until_ms;
};

struct media_ports {
	pthread_mutex_t lock; /* guards everything below */
	uint16_t first;       /* RTP port of pair 0 */
	uint32_t n;           /* pairs */
	unsigned quarantine_ms;
	uint32_t *free_ring; /* n slots */
	uint32_t free_head, free_count;
	struct quarantined *q_ring; /* n slots; until_ms never decreases along it */
	uint32_t q_head, q_count;
	uint8_t *state; /* enum pair_state per pair, to catch double releases */
	uint64_t exhausted;
};

int media_ports_new(struct media_ports **poolp, uint16_t port_min, uint16_t port_max,
                    unsigned quarantine_ms)
{
	struct media_ports *p;
	uint32_t first = (uint32_t)port_min + (port_min & 1u);

	if (port_min == 0 || first + 1 > port_max)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->first = (uint16_t)first;
	p->n = ((uint32_t)port_max - first + 1) / 2;
	p->quarantine_ms = quarantine_ms;
	p->free_ring = calloc(p->n, sizeof(*p->free_ring));
	p->q_ring = calloc(p->n, sizeof(*p->q_ring));
	p->state = calloc(p->n, 1);
	if (!p->free_ring || !p->q_ring || !p->state) {
		media_ports_free(p);
		return ENOMEM;
	}
	for (uint32_t i = 0; i < p->n; i++)
		p->free_ring[i] = i;
	p->free_count = p->n;
	pthread_mutex_init(&p->lock, NULL);
	*poolp = p;
	return 0;
}

void media_ports_free(struct media_ports *pool)
{
	if (!pool)
		return;
	if (pool->free_ring && pool->q_ring && pool->state)
		pthread_mutex_destroy(&pool->lock);
	free(pool->free_ring);
	free(pool->q_ring);
	free(pool->state);
	free(pool);
}

/* Move pairs whose quarantine is over to the free list's tail. Called with
 * the lock held; amortised O(1): each pair passes through once per release. */
static void unquarantine(struct media_ports *p, int64_t now_ms)
{
	while (p->q_count && p->q_ring[p->q_head].until_ms <= now_ms) {
		uint32_t idx = p->q_ring[p->q_head].idx;

		p->q_head = (p->q_head + 1) % p->n;
		p->q_count--;
		p->free_ring[(p->free_head + p->free_count) % p->n] = idx;
		p->free_count++;
		p->state[idx] = PAIR_FREE;
	}
}

static int take_locked(struct media_ports *p, uint32_t *idx)
{
	unquarantine(p, clock_mono_ms());
	if (!p->free_count) {
		p->exhausted++;
		return ENOSPC;
	}
	*idx = p->free_ring[p->free_head];
	p->free_head = (p->free_head + 1) % p->n;
	p->free_count--;
	p->state[*idx] = PAIR_USED;
	return 0;
}

static void release_locked(struct media_ports *p, uint32_t idx)
{
	p->q_ring[(p->q_head + p->q_count) % p->n] =
	    (struct quarantined){.idx = idx, .until_ms = clock_mono_ms() + p->quarantine_ms};
	p->q_count++;
	p->state[idx] = PAIR_QUARANTINED;
}

int media_ports_alloc(struct media_ports *pool, uint16_t *rtp_port)
{
	uint32_t idx;
	int rc;

	pthread_mutex_lock(&pool->lock);
	rc = take_locked(pool, &idx);
	pthread_mutex_unlock(&pool->lock);
	if (!rc)
		*rtp_port = (uint16_t)(pool->first + 2 * idx);
	return rc;
}

void media_ports_release(struct media_ports *pool, uint16_t rtp_port)
{
	uint32_t idx = (uint32_t)(rtp_port - pool->first) / 2;

	pthread_mutex_lock(&pool->lock);
	if (rtp_port < pool->first || (rtp_port & 1u) || idx >= pool->n ||
	    pool->state[idx] != PAIR_USED) {
		pthread_mutex_unlock(&pool->lock);
		log_err("media", "port %u released but not allocated", rtp_port);
		return;
	}
	release_locked(pool, idx);
	pthread_mutex_unlock(&pool->lock);
}

static int udp_bind(struct in_addr ip, uint16_t port, int *fdp)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = ip};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = errno;
		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}

int media_ports_bind(struct media_ports *pool, struct in_addr ip, struct media_port_pair *pair)
{
	/* Each pair is tried at most once per call: a range full of foreign
	 * sockets ends in ENOSPC rather than a loop. */
	for (uint32_t tries = 0; tries < pool->n; tries++) {
		uint16_t port;
		int rtp_fd = -1, rtcp_fd = -1, rc;

		rc = media_ports_alloc(pool, &port);
		if (rc)
			return rc;
		rc = udp_bind(ip, port, &rtp_fd);
		if (!rc) {
			rc = udp_bind(ip, (uint16_t)(port + 1), &rtcp_fd);
			if (rc)
				close(rtp_fd);
		}
		if (!rc) {
			pair->rtp_port = port;
			pair->rtcp_port = (uint16_t)(port + 1);
			pair->rtp_fd = rtp_fd;
			pair->rtcp_fd = rtcp_fd;
			return 0;
		}
		media_ports_release(pool, port);
		if (rc != EADDRINUSE) {
			log_err("media", "bind of port pair %u: %s", port, strerror(rc));
			return rc;
		}
	}
	/* Every pair was free and someone else's: refused for want of ports
	 * all the same, so counted as media_ports_alloc counts it. */
	pthread_mutex_lock(&pool->lock);
	pool->exhausted++;
	pthread_mutex_unlock(&pool->lock);
	return ENOSPC;
}

void media_ports_unbind(struct media_ports *pool, struct media_port_pair *pair)
{
	if (pair->rtp_fd >= 0)
		close(pair->rtp_fd);
	if (pair->rtcp_fd >= 0)
		close(pair->rtcp_fd);
	pair->rtp_fd = pair->rtcp_fd = -1;
	media_ports_release(pool, pair->rtp_port);
}

void media_ports_get_stats(struct media_ports *pool, struct media_ports_stats *st)
{
	pthread_mutex_lock(&pool->lock);
	unquarantine(pool, clock_mono_ms());
	st->pairs = pool->n;
	st->free = pool->free_count;
	st->quarantined = pool->q_count;
	st->exhausted = pool->exhausted;
	pthread_mutex_unlock(&pool->lock);
}
