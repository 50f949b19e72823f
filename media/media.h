/* media: what core/ calls to anchor a call's audio: the RTP/RTCP port pool
 * and the media engine (worker threads relaying RTP between a session's two
 * legs, terminating RTCP per leg). IPv4 only for now.
 *
 * Threads: the engine's workers own every session's packet state. Sessions
 * are created, updated and freed by ONE owner thread (the SIP thread, once
 * core/ wires it in); those calls talk to the worker through its command
 * queue and never touch packet state directly. The port pool is thread-safe. */
#ifndef PB_MEDIA_MEDIA_H
#define PB_MEDIA_MEDIA_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* --- Port pool -------------------------------------------------------------
 * RTP/RTCP pairs (even RTP port, RTCP = RTP + 1) from [port_min, port_max].
 * A released pair is quarantined for quarantine_ms before it is handed out
 * again, so late packets of an ended call never reach a new one. Pairs are
 * handed out in FIFO order of release; all operations are O(1). */
struct media_ports;

struct media_port_pair {
	uint16_t rtp_port;
	uint16_t rtcp_port;
	int rtp_fd; /* non-blocking UDP sockets, -1 when not bound */
	int rtcp_fd;
};

struct media_ports_stats {
	unsigned pairs;       /* in the range */
	unsigned free;        /* ready to hand out now */
	unsigned quarantined; /* released, waiting */
	uint64_t exhausted;   /* ENOSPC answers so far */
};

/* 0, EINVAL for an empty or inverted range, ENOMEM. */
int media_ports_new(struct media_ports **poolp, uint16_t port_min, uint16_t port_max,
                    unsigned quarantine_ms);
void media_ports_free(struct media_ports *pool);

/* Take the next free pair's RTP port (no sockets). ENOSPC when none is free
 * (counted in exhausted). */
int media_ports_alloc(struct media_ports *pool, uint16_t *rtp_port);
/* Put a pair into quarantine. The port must come from media_ports_alloc. */
void media_ports_release(struct media_ports *pool, uint16_t rtp_port);

/* Take the next free pair and bind both sockets to ip; a pair whose bind
 * fails with EADDRINUSE (someone else's socket) is skipped and quarantined.
 * 0 with *pair filled, ENOSPC, or the errno of a failing socket call. */
int media_ports_bind(struct media_ports *pool, struct in_addr ip, struct media_port_pair *pair);
/* Close the pair's sockets and release it into quarantine. */
void media_ports_unbind(struct media_ports *pool, struct media_port_pair *pair);

void media_ports_get_stats(struct media_ports *pool, struct media_ports_stats *st);

/* --- Engine and sessions --------------------------------------------------- */
struct media_engine;
struct media_session;

enum media_codec { MEDIA_PCMU = 0, MEDIA_PCMA };
enum media_latch { MEDIA_LATCH_STRICT = 0, MEDIA_LATCH_LEARN };

#define MEDIA_CIDR_MAX     8
#define MEDIA_LEARN_MS_DEF 5000

struct media_cidr {
	struct in_addr net;
	uint8_t prefix; /* 0-32 */
};

/* An SRTP leg's keys and counters: made and freed with media/srtp.h. */
struct media_srtp;

/* One leg as its SDP and its trunk describe it. */
struct media_leg_cfg {
	struct sockaddr_in remote; /* RTP address from SDP; port 0: not known yet */
	enum media_codec codec;
	uint8_t codec_pt; /* the payload type this leg uses for codec */
	int te_pt;        /* telephone-event payload type, -1 when the leg has none */
	enum media_latch latch;
	unsigned learn_ms; /* learn: window from session start; 0 = MEDIA_LEARN_MS_DEF */
	unsigned ptime_ms; /* packet time this leg wants (a=ptime); 0 = 20 */
	unsigned n_cidrs;  /* learn: sources allowed besides the SDP address's IP */
	struct media_cidr cidrs[MEDIA_CIDR_MAX];
	/* NULL: plain RTP. Else the leg speaks SRTP/SRTCP under this state:
	 * what it sends is unprotected (and dropped, counted, when that fails)
	 * before anything reads it, and everything sent to it (relayed audio,
	 * ringback, prompts, tones, our RTCP reports) is protected. The owner
	 * keeps it and frees it; it must stay alive while the session may use
	 * it: until a later media_session_set_leg() for this leg with another
	 * state has returned, or media_session_free() has. Only the session's
	 * worker touches it in between (media_srtp_get_stats() included).
	 * A packet that fails to unprotect is not received: never relayed,
	 * never a digit, never latched onto, no reprieve from the inactivity
	 * timeout. */
	struct media_srtp *srtp;
};

/* Counters; read at any time from any thread (relaxed atomics inside). */
struct media_stats {
	uint64_t relayed;
	uint64_t dropped_malformed; /* not RTP, a payload type the other leg lacks, or
	                             * SRTP/SRTCP too short or otherwise refused */
	uint64_t dropped_source;    /* latching refused the source */
	uint64_t dropped_no_remote; /* the other leg has no address yet */
	uint64_t dropped_send;      /* the outgoing socket refused it (buffer full), or
	                             * SRTP/SRTCP could not protect it */
	uint64_t dropped_srtp_auth; /* SRTP/SRTCP authentication failed */
	/* SRTP/SRTCP replayed or older than the replay window; or, towards an
	 * SRTP leg, a duplicate sequence number (a repeated RFC 4733 end
	 * packet relayed): libsrtp never protects one index twice. */
	uint64_t dropped_srtp_replay;
	uint64_t rtcp_received; /* parsed for statistics, never relayed */
	uint64_t rtcp_sent;
	uint64_t generated; /* generated frames sent: ringback and prompts */
};

/* Start nworkers threads (each: epoll, a 20 ms timerfd tick, a command
 * queue) relaying on sockets bound to ip with pairs from ports, which must
 * outlive the engine. 0, EINVAL, or the errno of a failing system call. */
int media_engine_start(struct media_engine **engp, unsigned nworkers, struct in_addr ip,
                       struct media_ports *ports);
/* Stop and join the workers. Every session must have been freed. */
void media_engine_stop(struct media_engine *eng);
void media_engine_get_stats(struct media_engine *eng, struct media_stats *st);

/* Bind a port pair per leg and hand the session to a worker (round robin).
 * 0 with *sessp set; ENOSPC when the port range is exhausted; EINVAL for a
 * bad config. Owner thread only. */
int media_session_new(struct media_engine *eng, const struct media_leg_cfg *a,
                      const struct media_leg_cfg *b, struct media_session **sessp);
/* The local RTP port of leg 0 (a) or 1 (b), for that leg's SDP. */
uint16_t media_session_local_port(const struct media_session *sess, unsigned leg);
/* A leg's remote address changed (re-INVITE, late answer): relatch.
 * Waits for the worker's acknowledgement. Owner thread only. */
int media_session_update_remote(struct media_session *sess, unsigned leg,
                                const struct sockaddr_in *remote);
void media_session_get_stats(const struct media_session *sess, struct media_stats *st);
/* Replace a leg's whole description (the callee's answer fixes its codec,
 * payload types and address): both outgoing streams' payload-type maps
 * follow, the leg re-latches. Both streams go on (same SSRC, sequence and
 * timestamps): a new callee's audio is a marked switch for the other leg.
 * Until then a leg without an address refuses what it receives (strict) or
 * learns only from its CIDRs (learn), and nothing is sent to it.
 * Acknowledged. 0, or EINVAL (same rules as media_session_new) with
 * nothing changed. Owner thread only. */
int media_session_set_leg(struct media_session *sess, unsigned leg,
                          const struct media_leg_cfg *cfg);
/* Ringback towards leg (the caller while the callee rings): generated
 * 400 Hz ring-ring cadence in the leg's codec, paced by the worker's tick,
 * as part of the leg's one continuous stream (marker bit on each switch).
 * Silence frames fill the cadence's gaps; nothing is sent while the leg has
 * no address. Frames sent count in media_stats.generated. While the other
 * leg's packets arrive (early media) they are relayed instead and the tone
 * pauses; it resumes 200 ms after they stop. Off when on is false: no
 * frame is generated after this returns. Acknowledged. 0, or EINVAL for a
 * bad leg. Owner thread only. */
int media_session_ringback(struct media_session *sess, unsigned leg, bool on);
/* Take the session off its worker (acknowledged, so no packet is handled
 * after this returns), close its sockets and quarantine its ports. */
void media_session_free(struct media_session *sess);

/* --- Events, DTMF and prompts (the PIN IVR) --------------------------------
 * A session's worker reports what the owner must act on through the
 * engine's event function, called ON THE WORKER THREAD: it must only hand
 * the event over (copy it, queue it, wake the owner), never block and never
 * call back into the session. Events of one session come in the order they
 * happened; some are handed over inside an acknowledged call (play's
 * replaced prompt), i.e. before that call returns. A freed session reports
 * nothing more, not even PROMPT_DONE for a prompt it was playing. */
enum media_event_kind {
	MEDIA_EV_DIGIT = 0,   /* a DTMF digit arrived on leg (while collecting) */
	MEDIA_EV_PROMPT_DONE, /* the prompt started with cookie ended (or was cut) */
	MEDIA_EV_RTP_TIMEOUT, /* leg sent no RTP for the session's timeout (once) */
};

enum media_dtmf_route {
	MEDIA_DTMF_RFC4733 = 1, /* telephone-event packets (the leg's te_pt) */
	MEDIA_DTMF_INBAND = 2,  /* tones in the audio (spandsp's dtmf_rx) */
};

struct media_event {
	enum media_event_kind kind;
	unsigned leg;
	char digit;                  /* DIGIT: '0'-'9', '*', '#', 'A'-'D' */
	enum media_dtmf_route route; /* DIGIT */
	uint64_t cookie;             /* PROMPT_DONE: as given to media_session_play */
	bool barged;                 /* PROMPT_DONE: cut short by a digit */
};

typedef void (*media_event_fn)(void *engine_arg, void *session_arg, const struct media_event *ev);

/* Set once, before any session collects or plays. */
void media_engine_set_events(struct media_engine *eng, media_event_fn fn, void *arg);
/* The owner's pointer handed back with each of this session's events.
 * Acknowledged (events after it carry arg). Owner thread only. */
void media_session_set_arg(struct media_session *sess, void *arg);

/* Collect DTMF on leg: RFC 4733 events (one digit per event: redundant end
 * packets, duplicates and reordering handled; the leg's te_pt) always while
 * on, and in-band tones with spandsp only while on (it costs CPU; a leg
 * without te_pt has only this route). Each digit is reported once per
 * route, so a gateway sending tones and events gives two DIGIT events per
 * key, one per route; choosing between routes is the owner's business.
 * Off stops both; an RFC 4733 event that began while off is no digit when
 * it ends after on. Collected packets are still relayed as before. The
 * in-band detector is allocated on the first on, freed with the session.
 * 0, EINVAL for a bad leg, ENOMEM. Acknowledged. Owner thread only. */
int media_session_collect(struct media_session *sess, unsigned leg, bool on);

/* A prompt: 8 kHz mono 16-bit audio, immutable once made, shared by any
 * number of sessions (the owner keeps it alive while a session plays it). */
struct media_prompt;

/* From a WAV file: RIFF/WAVE PCM, 8000 Hz, mono, 16-bit, at most 300 s;
 * chunks other than fmt and data are skipped. Anything else (another
 * format, rate, channel count or width, truncation, no data) is EINVAL with
 * a reason in err naming the file ("...: sample rate 16000 Hz, need 8000").
 * ENOENT/EACCES/EIO from reading it, ENOMEM. err may be NULL. */
int media_prompt_load_wav(const char *path, struct media_prompt **out, char *err, size_t errlen);
/* From the same bytes in memory (the prompts built into the binary). */
int media_prompt_from_wav(const uint8_t *data, size_t len, struct media_prompt **out, char *err,
                          size_t errlen);
void media_prompt_free(struct media_prompt *p);
/* Length in milliseconds. */
unsigned media_prompt_ms(const struct media_prompt *p);

/* What a leg's peer said it does in its SDP: sendrecv is both bits. A leg
 * whose peer receives nothing (sendonly, inactive: on hold) is sent nothing
 * (relay, ringback, prompts); a leg whose peer sends nothing (recvonly,
 * inactive) or holds has its inactivity timeout suspended. Back to both
 * restarts the leg's inactivity count. Acknowledged. Owner thread only. */
enum { MEDIA_PEER_SENDS = 1, MEDIA_PEER_RECEIVES = 2, MEDIA_PEER_SENDRECV = 3 };
int media_session_direction(struct media_session *sess, unsigned leg, unsigned dir);

/* RTP inactivity: when a leg accepts no RTP packet for ms (0 = off), one
 * MEDIA_EV_RTP_TIMEOUT is reported for it. Counting starts afresh for both
 * legs when this is called (arm it once both legs are answered).
 * Acknowledged. Owner thread only. */
int media_session_rtp_timeout(struct media_session *sess, unsigned ms);

/* The IVR's prompts. Built-in English ones (espeak-ng, 8 kHz, regenerated
 * by media/prompts/make-prompts.sh) are compiled into the binary; a tenant
 * may replace each with its own WAV (config: prompts.<name>). */
enum media_prompt_id {
	MEDIA_PROMPT_ENTER_PIN = 0, /* "enter_pin": please enter your PIN */
	MEDIA_PROMPT_WRONG_PIN,     /* "wrong_pin": that PIN is not valid, try again */
	MEDIA_PROMPT_GOODBYE,       /* "goodbye": too many attempts, goodbye */
	MEDIA_PROMPT_NOT_ALLOWED,   /* "not_allowed": you are not allowed to make this call */
	MEDIA_PROMPT_PLEASE_WAIT,   /* "please_wait": connecting, please wait */
	MEDIA_PROMPT_NOBODY,        /* "nobody": there is nobody to connect you to */
	MEDIA_PROMPT_N
};
/* "enter_pin", ... (the config key), or NULL. */
const char *media_prompt_name(enum media_prompt_id id);
/* The built-in prompt, made once on first use and kept for the process's
 * life (thread-safe). NULL only when out of memory. */
const struct media_prompt *media_builtin_prompt(enum media_prompt_id id);

/* Play p to leg from its start, one 20 ms frame per worker tick (the leg
 * description has no ptime: 20 ms it is) encoded in the leg's codec with
 * its codec_pt, as part of the leg's one stream (marker bit on the switch,
 * and again when relayed audio or ringback takes over after it). While it
 * plays, audio relayed from the other leg towards this one is dropped (not
 * counted) and ringback pauses; relayed audio keeps ringback paused after
 * the prompt as early media does. barge: a digit collected on the same
 * leg (either route, so only while collecting) stops it at once: DIGIT,
 * then PROMPT_DONE barged true. At its end, PROMPT_DONE barged false on
 * the tick after the last frame went out (the peer's jitter buffer may
 * still be playing it: allow ~100 ms before a BYE). A prompt already
 * playing on leg is replaced (its PROMPT_DONE, barged false, comes first).
 * NULL p stops playing (PROMPT_DONE, barged false, if one was playing).
 * p must stay alive until its PROMPT_DONE. 0 or EINVAL for a bad leg.
 * Acknowledged. Owner thread only. */
int media_session_play(struct media_session *sess, unsigned leg, const struct media_prompt *p,
                       bool barge, uint64_t cookie);

/* --- Recording -------------------------------------------------------------
 * A bridged call's audio as a stereo WAV (RIFF, PCM 16-bit, 8000 Hz, two
 * channels): leg 0 (the caller) left, leg 1 (the callee) right, each
 * sample at the time it was heard, silence where a leg sent nothing.
 *
 * The recorder is one writer thread behind one bounded queue. A session's
 * worker only copies each accepted audio payload (after SRTP, before any
 * relaying) with its place in the recording into a queue slot: no
 * allocation, no system call, never a wait. A full queue drops the frame
 * (counted; the recording ends PARTIAL). The writer decodes G.711, places
 * the samples in a per-recording window (jitter and reordering within it
 * are absorbed) and appends what falls out of the window to
 * "<path>.part", renamed to path when the recording ends well. A disk that
 * is slow only makes the queue fill; a failing one (ENOSPC, EIO, EFBIG,
 * EACCES) fails that recording (its file removed), never the call.
 *
 * Placing: a leg's packets are placed by RTP timestamp relative to the
 * first packet of their SSRC, which is placed by its arrival time since
 * media_session_record(); a new SSRC, or a timestamp more than 300 ms away
 * from what the arrival time says, is placed anew by arrival time. Frames
 * of telephone-event or comfort noise are not audio: not recorded. */
struct media_recorder;
struct media_rec;

enum media_rec_status {
	MEDIA_REC_COMPLETED = 0, /* every frame written */
	MEDIA_REC_PARTIAL,       /* written, but frames were lost to a full queue */
	MEDIA_REC_FAILED,        /* not written: the file could not be made or written */
};

struct media_rec_result {
	enum media_rec_status status;
	uint64_t dropped; /* frames the full queue refused */
	uint64_t late;    /* frames that came after their place was written (the
	                   * network's doing: counted, not PARTIAL) */
	uint64_t bytes;   /* the WAV's size, header included (0 when FAILED) */
	int err;          /* FAILED: the errno that failed it */
};

/* Called ON THE WRITER THREAD once the file is closed (and renamed, or
 * removed): hand the result over, never block for long. */
typedef void (*media_rec_done_fn)(void *arg, const struct media_rec_result *res);

struct media_recorder_stats {
	uint64_t active;    /* recordings made and not yet done */
	uint64_t completed; /* done, by status */
	uint64_t partial;
	uint64_t failed;
	uint64_t frames;  /* frames (RTP packets) queued */
	uint64_t dropped; /* frames the full queue refused */
	uint64_t bytes;   /* written to disk */
	unsigned queue_slots;
	unsigned queue_peak; /* most slots ever in use at once (a packet longer
	                      * than 20 ms takes several, all or none) */
};

/* Queue slots, each up to 20 ms of one leg: 12 MB, 0.65 s of 1,000
 * recorded calls, so a writer held up by the disk that long loses nothing. */
#define MEDIA_REC_QUEUE_DEF 65536

/* Starts the writer thread with a queue of queue_slots (0: the default).
 * 0, EINVAL, ENOMEM, or pthread_create's errno. */
int media_recorder_start(struct media_recorder **out, unsigned queue_slots);
/* Every recording made must have been finished (media_rec_finish): waits
 * until each one's done has been called, then joins the writer. */
void media_recorder_stop(struct media_recorder *r);
/* Any thread (relaxed atomics). */
void media_recorder_get_stats(struct media_recorder *r, struct media_recorder_stats *st);

/* A recording to path (its directory is made when missing, 0750; the
 * file 0640). No I/O here: the writer opens the file when it first
 * writes audio out of the window (a second or so in) or at finish.
 * 0, EINVAL (path empty or too long), ENOMEM. Owner thread (the one that
 * then finishes it). */
int media_rec_new(struct media_recorder *r, const char *path, struct media_rec **out);
/* Record sess into rec from now (time zero of the WAV is this call's
 * moment); NULL stops recording sess (no frame of it is queued once this
 * returns). A session records into at most one rec, and a rec takes one
 * session, once. Acknowledged. 0, or EINVAL (sess records another rec,
 * or rec was given to a session before). Owner thread only. */
int media_session_record(struct media_session *sess, struct media_rec *rec);
/* Ends rec at duration_ms after its time zero (the WAV then holds exactly
 * duration_ms * 8 sample frames: cut or padded with silence). Its session
 * must have stopped recording it (media_session_record NULL, or
 * media_session_free, returned; if not, this stops it first and logs the
 * mistake). fn(arg, result) follows on the writer thread; rec is freed by
 * the recorder after it. Owner thread. */
void media_rec_finish(struct media_rec *rec, uint64_t duration_ms, media_rec_done_fn fn, void *arg);

#endif
