/* sip_int: sip/'s private view of the SIP thread: the struct behind
 * struct sip, the calls it holds, and Sofia's magic types bound to them. */
#ifndef PB_SIP_SIP_INT_H
#define PB_SIP_SIP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip/sip.h"

struct sip_call;

/* Sofia's callbacks carry these typed pointers instead of void *. */
#define SU_ROOT_MAGIC_T struct sip
#define SU_WAKEUP_ARG_T void
#define SU_TIMER_ARG_T  struct sip_call
#define NUA_MAGIC_T     struct sip
#define NUA_HMAGIC_T    struct sip_call

#include <sofia-sip/nua.h>
#include <sofia-sip/su_wait.h>

/* Silently refused INVITEs are held this long (the caller's Timer B, 64*T1)
 * before their handle is dropped. */
#define SIP_SILENT_HOLD_MS 32000

/* One inbound INVITE. Owned by the SIP thread; freed on nua_i_state
 * terminated or when a silent hold expires. */
struct sip_call {
	sip_call_t id;
	nua_handle_t *nh;
	su_timer_t *silent; /* set while a refused INVITE is held unanswered */
	bool final_sent;
	bool ended; /* cb->ended already reported */
	struct sip_call *next;
};

struct sip_job {
	void (*fn)(void *arg);
	void *arg;
	struct sip_job *next;
};

struct sip {
	/* Immutable after sip_start(). */
	struct sip_opts opts; /* deep copy; strings and arrays in one block */
	struct sip_callbacks cb;
	void *arg;
	pthread_t thread;
	int efd;

	/* Guarded by lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sip_job *qhead, *qtail;
	bool closed;  /* sip_stop() began: sip_post() refuses */
	bool started; /* thread finished start-up; start_rc valid */
	int start_rc;

	/* SIP thread only. */
	su_root_t *root;
	nua_t *nua;
	su_wait_t wait[1];
	int wait_index; /* from su_root_register(); > 0 once registered */
	struct sip_call *calls;
	sip_call_t next_id;
	bool shut_down;
};

/* call.c: nua events and the calls (SIP thread). */
void sip_call_event(nua_event_t event, int status, char const *phrase, nua_t *nua, struct sip *sip,
                    nua_handle_t *nh, struct sip_call *call, sip_t const *s, tagi_t tags[]);
void sip_call_respond(struct sip *sip, sip_call_t id, int status, const char *reason);
void sip_call_free_all(struct sip *sip);

/* acl.c: which trunk, if any, allows this source. */
const struct sip_trunk_acl *sip_acl_match(const struct sip *sip, const struct sockaddr *sa);
bool sip_acl_all_silent(const struct sip *sip);

/* stack.c: true on the SIP thread of sip. */
bool sip_on_thread(const struct sip *sip);

#endif
