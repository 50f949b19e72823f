/* engine: the media worker threads. Each runs an epoll loop over its
 * sessions' sockets, a 20 ms timerfd tick (RTCP, ringback, prompts, later
 * timeouts) and an eventfd-woken command queue from the owner thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "media/media_int.h"

#define EPOLL_EVENTS 64

void media_worker_call(struct media_worker *w, struct media_cmd *cmd)
{
	uint64_t one = 1;

	cmd->done = false;
	cmd->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = cmd;
	else
		w->head = cmd;
	w->tail = cmd;
	pthread_mutex_unlock(&w->lock);
	/* An eventfd write only fails when the counter would overflow. */
	if (write(w->evfd, &one, sizeof(one)) != sizeof(one))
		log_err("media", "command wake-up: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	while (!cmd->done)
		pthread_cond_wait(&w->acked, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static void session_link(struct media_worker *w, struct media_session *s)
{
	s->prev = NULL;
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->prev = s;
	w->sessions = s;
}

static void session_unlink(struct media_worker *w, struct media_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

/* Carry out the queued commands; true when told to stop. Runs after a whole
 * epoll batch, so no event of this batch can point at a removed session. */
static bool drain_commands(struct media_worker *w)
{
	struct media_cmd *list, *c, *nx;
	int64_t now_us = clock_mono_us();
	uint64_t n;
	bool stop = false;

	if (read(w->evfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("media", "command queue read: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	list = w->head;
	w->head = w->tail = NULL;
	pthread_mutex_unlock(&w->lock);
	for (c = list; c; c = c->next) {
		switch (c->type) {
		case MEDIA_CMD_ADD:
			c->result = media_session_attach(c->sess, w->epfd);
			if (!c->result)
				session_link(w, c->sess);
			break;
		case MEDIA_CMD_REMOVE:
			media_session_detach(c->sess, w->epfd);
			session_unlink(w, c->sess);
			break;
		case MEDIA_CMD_UPDATE:
			media_leg_set_remote(&c->sess->leg[c->leg], &c->remote, now_us);
			break;
		case MEDIA_CMD_SET_LEG:
			media_leg_set_cfg(&c->sess->leg[c->leg], &c->cfg, now_us);
			break;
		case MEDIA_CMD_RINGBACK:
			media_leg_ringback_set(&c->sess->leg[c->leg], c->on);
			break;
		case MEDIA_CMD_SET_ARG:
			c->sess->arg = c->arg;
			break;
		case MEDIA_CMD_COLLECT:
			media_leg_collect_set(&c->sess->leg[c->leg], c->on);
			break;
		case MEDIA_CMD_PLAY:
			media_leg_play_set(&c->sess->leg[c->leg], c->prompt, c->barge, c->cookie);
			break;
		case MEDIA_CMD_TIMEOUT:
			media_session_timeout_set(c->sess, c->ms, now_us);
			break;
		case MEDIA_CMD_DIRECTION:
			media_leg_direction_set(&c->sess->leg[c->leg], c->dir, now_us);
			break;
		case MEDIA_CMD_RECORD:
			media_session_record_set(c->sess, c->rec, c->t0_us);
			break;
		case MEDIA_CMD_STOP:
			stop = true;
			break;
		}
	}
	/* Read next before done: the waiter may release a command as soon as
	 * it sees done, which it can only do once we unlock. */
	pthread_mutex_lock(&w->lock);
	for (c = list; c; c = nx) {
		nx = c->next;
		c->done = true;
	}
	pthread_cond_broadcast(&w->acked);
	pthread_mutex_unlock(&w->lock);
	return stop;
}

static void tick(struct media_worker *w)
{
	uint64_t expirations = 0;
	int64_t now_us = clock_mono_us();
	unsigned ticks;

	if (read(w->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_err("media", "tick read: %s", strerror(errno));
	if (expirations == 0) /* EAGAIN: a spurious wake-up, not a tick */
		return;
	/* Generated audio skips what a late worker missed; bounded so that
	 * a stall of minutes cannot overflow anything. */
	ticks = expirations > 1000 ? 1000 : (unsigned)expirations;
	for (struct media_session *s = w->sessions; s; s = s->next)
		media_session_tick(s, now_us, ticks);
}

static void *worker_main(void *arg)
{
	struct media_worker *w = arg;
	struct epoll_event evs[EPOLL_EVENTS];

	for (;;) {
		bool cmds = false;
		int n = epoll_wait(w->epfd, evs, EPOLL_EVENTS, -1);

		if (n < 0) {
			if (errno != EINTR)
				log_err("media", "epoll_wait: %s", strerror(errno));
			continue;
		}
		for (int i = 0; i < n; i++) {
			struct media_ep *ep = evs[i].data.ptr;

			switch (ep->kind) {
			case MEDIA_EP_CMD:
				cmds = true;
				break;
			case MEDIA_EP_TIMER:
				tick(w);
				break;
			case MEDIA_EP_RTP:
				media_leg_rtp_input(w, ep->leg);
				break;
			case MEDIA_EP_RTCP:
				media_leg_rtcp_input(w, ep->leg);
				break;
			}
		}
		if (cmds && drain_commands(w))
			break;
	}
	return NULL;
}

static void batch_init(struct media_batch *b)
{
	memset(b->rx, 0, sizeof(b->rx));
	memset(b->tx, 0, sizeof(b->tx));
	for (unsigned i = 0; i < MEDIA_BATCH; i++) {
		b->rx_iov[i].iov_base = b->buf[i];
		b->rx_iov[i].iov_len = MEDIA_PKT_MAX; /* the slot's rest: an SRTP trailer */
		b->rx[i].msg_hdr.msg_iov = &b->rx_iov[i];
		b->rx[i].msg_hdr.msg_iovlen = 1;
		b->rx[i].msg_hdr.msg_name = &b->src[i];
		b->tx[i].msg_hdr.msg_iov = &b->tx_iov[i];
		b->tx[i].msg_hdr.msg_iovlen = 1;
	}
}

static int epoll_add(int epfd, int fd, struct media_ep *ep)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ep};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
}

static void worker_close(struct media_worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	if (w->tfd >= 0)
		close(w->tfd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->acked);
}

static int worker_open(struct media_engine *eng, struct media_worker *w)
{
	struct itimerspec its = {
	    .it_interval = {.tv_nsec = MEDIA_TICK_MS * 1000000L},
	    .it_value = {.tv_nsec = MEDIA_TICK_MS * 1000000L},
	};
	int rc;

	w->eng = eng;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->acked, NULL);
	w->ep_cmd.kind = MEDIA_EP_CMD;
	w->ep_timer.kind = MEDIA_EP_TIMER;
	batch_init(&w->batch);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->epfd < 0 || w->evfd < 0 || w->tfd < 0)
		rc = errno;
	else if (timerfd_settime(w->tfd, 0, &its, NULL) != 0)
		rc = errno;
	else if ((rc = epoll_add(w->epfd, w->evfd, &w->ep_cmd)) == 0)
		rc = epoll_add(w->epfd, w->tfd, &w->ep_timer);
	if (!rc)
		rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc) {
		log_err("media", "media worker: %s", strerror(rc));
		worker_close(w);
	}
	return rc;
}

int media_engine_start(struct media_engine **engp, unsigned nworkers, struct in_addr ip,
                       struct media_ports *ports)
{
	struct media_engine *eng;
	unsigned i;
	int rc = 0;

	if (nworkers == 0 || !ports)
		return EINVAL;
	eng = calloc(1, sizeof(*eng));
	if (!eng)
		return ENOMEM;
	/* Worker structs hold the packet buffers: one allocation, up front. */
	eng->workers = calloc(nworkers, sizeof(*eng->workers));
	if (!eng->workers) {
		free(eng);
		return ENOMEM;
	}
	eng->ip = ip;
	eng->ports = ports;
	ringback_init();
	media_dtmf_init();
	media_dtmfgen_init();
	for (i = 0; i < nworkers; i++) {
		eng->workers[i].epfd = eng->workers[i].evfd = eng->workers[i].tfd = -1;
		rc = worker_open(eng, &eng->workers[i]);
		if (rc)
			break;
	}
	eng->nworkers = i;
	if (rc) {
		media_engine_stop(eng);
		return rc;
	}
	*engp = eng;
	return 0;
}

void media_engine_stop(struct media_engine *eng)
{
	if (!eng)
		return;
	for (unsigned i = 0; i < eng->nworkers; i++) {
		struct media_worker *w = &eng->workers[i];
		struct media_cmd stop = {.type = MEDIA_CMD_STOP};

		if (w->sessions)
			log_err("media", "engine stopped with sessions on worker %u", i);
		media_worker_call(w, &stop);
		pthread_join(w->thread, NULL);
		worker_close(w);
	}
	free(eng->workers);
	free(eng);
}

void media_engine_set_events(struct media_engine *eng, media_event_fn fn, void *arg)
{
	eng->ev_fn = fn;
	eng->ev_arg = arg;
}

void media_session_emit(struct media_session *s, const struct media_event *ev)
{
	if (s->eng->ev_fn)
		s->eng->ev_fn(s->eng->ev_arg, s->arg, ev);
}

static void counters_add(const struct media_counters *c, struct media_stats *st)
{
	st->relayed += atomic_load_explicit(&c->relayed, memory_order_relaxed);
	st->dropped_malformed += atomic_load_explicit(&c->dropped_malformed, memory_order_relaxed);
	st->dropped_source += atomic_load_explicit(&c->dropped_source, memory_order_relaxed);
	st->dropped_no_remote += atomic_load_explicit(&c->dropped_no_remote, memory_order_relaxed);
	st->dropped_send += atomic_load_explicit(&c->dropped_send, memory_order_relaxed);
	st->dropped_srtp_auth += atomic_load_explicit(&c->dropped_srtp_auth, memory_order_relaxed);
	st->dropped_srtp_replay +=
	    atomic_load_explicit(&c->dropped_srtp_replay, memory_order_relaxed);
	st->rtcp_received += atomic_load_explicit(&c->rtcp_received, memory_order_relaxed);
	st->rtcp_sent += atomic_load_explicit(&c->rtcp_sent, memory_order_relaxed);
	st->generated += atomic_load_explicit(&c->generated, memory_order_relaxed);
}

void media_engine_get_stats(struct media_engine *eng, struct media_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < eng->nworkers; i++)
		counters_add(&eng->workers[i].ctr, st);
}

void media_session_get_stats(const struct media_session *sess, struct media_stats *st)
{
	memset(st, 0, sizeof(*st));
	counters_add(&sess->ctr, st);
}
