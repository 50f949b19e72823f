/* callflow_metrics: the calls' part of /metrics: active calls, outcomes,
 * setup latency (INVITE in to the first callee INVITE out), hunt attempts,
 * RTP relayed and dropped, the port pool, recordings. Counters are relaxed atomics
 * written on the SIP thread and read by the HTTP threads. */
#include "core/callflow_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the setup-latency buckets, in microseconds. */
static const int64_t setup_le_us[CF_SETUP_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

static const char *const outcome_name[CF_OUT_N] = {
    [CF_OUT_COMPLETED] = "completed",   [CF_OUT_CLIENT_HANGUP] = "client-hangup",
    [CF_OUT_INCOMPLETE] = "incomplete", [CF_OUT_NOT_FOUND] = "not-found",
    [CF_OUT_FORBIDDEN] = "forbidden",   [CF_OUT_UNAVAILABLE] = "unavailable",
    [CF_OUT_REJECTED] = "rejected",     [CF_OUT_CALL_ATTEMPT] = "call-attempt",
};

void cf_metrics_outcome(struct callflow *cf, enum cf_outcome o)
{
	atomic_fetch_add_explicit(&cf->m.outcomes[o], 1, memory_order_relaxed);
}

void cf_metrics_setup(struct callflow *cf, int64_t us)
{
	unsigned i = 0;

	if (us < 0)
		us = 0;
	while (i < CF_SETUP_BUCKETS && us > setup_le_us[i])
		i++;
	atomic_fetch_add_explicit(&cf->m.setup_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cf->m.setup_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cf->m.setup_sum_us, (uint64_t)us, memory_order_relaxed);
}

struct buf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = EINVAL;
			return;
		}
		if ((size_t)n < b->cap - b->len)
			break;
		char *q = realloc(b->p, b->cap * 2 + (size_t)n);

		if (!q) {
			b->err = ENOMEM;
			return;
		}
		b->p = q;
		b->cap = b->cap * 2 + (size_t)n;
	}
	b->len += (size_t)n;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void calls_part(struct buf *b, struct callflow *cf)
{
	uint64_t cum = 0;

	put(b,
	    "# HELP pinbridge_calls_active Calls routed and not yet ended.\n"
	    "# TYPE pinbridge_calls_active gauge\npinbridge_calls_active %d\n",
	    LOAD(cf->m.active));
	put(b, "# HELP pinbridge_calls_total Inbound calls by outcome.\n"
	       "# TYPE pinbridge_calls_total counter\n");
	for (int i = 0; i < CF_OUT_N; i++)
		put(b, "pinbridge_calls_total{outcome=\"%s\"} %llu\n", outcome_name[i],
		    (unsigned long long)LOAD(cf->m.outcomes[i]));
	/* Step 1's other refusal happens in sip/, before core sees the call. */
	if (cf->sip) {
		struct sip_stats ss;

		sip_get_stats(cf->sip, &ss);
		put(b, "pinbridge_calls_total{outcome=\"source-refused\"} %llu\n",
		    (unsigned long long)ss.acl_refused);
		put(b,
		    "# HELP pinbridge_sip_handles SIP calls and legs held by the stack.\n"
		    "# TYPE pinbridge_sip_handles gauge\npinbridge_sip_handles %llu\n",
		    (unsigned long long)ss.handles);
		put(b,
		    "# HELP pinbridge_sip_legs_total Outbound INVITEs sent.\n"
		    "# TYPE pinbridge_sip_legs_total counter\npinbridge_sip_legs_total %llu\n"
		    "# HELP pinbridge_sip_register_total Trunk REGISTER outcomes.\n"
		    "# TYPE pinbridge_sip_register_total counter\n"
		    "pinbridge_sip_register_total{result=\"ok\"} %llu\n"
		    "pinbridge_sip_register_total{result=\"failed\"} %llu\n",
		    (unsigned long long)ss.legs_out, (unsigned long long)ss.register_ok,
		    (unsigned long long)ss.register_failed);
		put(b,
		    "# HELP pinbridge_sip_tls_failures_total TLS connections that failed: "
		    "the handshake, or a trunk's certificate we refused.\n"
		    "# TYPE pinbridge_sip_tls_failures_total counter\n"
		    "pinbridge_sip_tls_failures_total{reason=\"handshake\"} %llu\n"
		    "pinbridge_sip_tls_failures_total{reason=\"peer_refused\"} %llu\n",
		    (unsigned long long)ss.tls_handshake_failed,
		    (unsigned long long)ss.tls_peer_refused);
	}
	put(b,
	    "# HELP pinbridge_call_hunt_attempts_total Callee INVITEs sent.\n"
	    "# TYPE pinbridge_call_hunt_attempts_total counter\n"
	    "pinbridge_call_hunt_attempts_total %llu\n",
	    (unsigned long long)LOAD(cf->m.hunt_attempts));
	put(b,
	    "# HELP pinbridge_pin_attempts_total PINs keyed, by result.\n"
	    "# TYPE pinbridge_pin_attempts_total counter\n"
	    "pinbridge_pin_attempts_total{result=\"success\"} %llu\n"
	    "pinbridge_pin_attempts_total{result=\"failure\"} %llu\n"
	    "# HELP pinbridge_pin_lockouts_total Callers locked out of PIN entry.\n"
	    "# TYPE pinbridge_pin_lockouts_total counter\npinbridge_pin_lockouts_total %llu\n"
	    "# HELP pinbridge_pin_locked_refusals_total PIN attempts refused by a lockout.\n"
	    "# TYPE pinbridge_pin_locked_refusals_total counter\n"
	    "pinbridge_pin_locked_refusals_total %llu\n"
	    "# HELP pinbridge_pin_join_refused_total Open-side joins skipped for rule R1.\n"
	    "# TYPE pinbridge_pin_join_refused_total counter\n"
	    "pinbridge_pin_join_refused_total %llu\n",
	    (unsigned long long)LOAD(cf->m.pin_success),
	    (unsigned long long)LOAD(cf->m.pin_failure),
	    (unsigned long long)LOAD(cf->m.pin_lockouts),
	    (unsigned long long)LOAD(cf->m.pin_locked_refused),
	    (unsigned long long)LOAD(cf->m.join_refused_r1));
	put(b, "# HELP pinbridge_call_setup_seconds From the caller's INVITE to the first "
	       "callee INVITE.\n# TYPE pinbridge_call_setup_seconds histogram\n");
	for (int i = 0; i <= CF_SETUP_BUCKETS; i++) {
		cum += LOAD(cf->m.setup_bucket[i]);
		if (i < CF_SETUP_BUCKETS)
			put(b, "pinbridge_call_setup_seconds_bucket{le=\"%g\"} %llu\n",
			    (double)setup_le_us[i] / 1e6, (unsigned long long)cum);
		else
			put(b, "pinbridge_call_setup_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	put(b, "pinbridge_call_setup_seconds_sum %.6f\npinbridge_call_setup_seconds_count %llu\n",
	    (double)LOAD(cf->m.setup_sum_us) / 1e6, (unsigned long long)LOAD(cf->m.setup_count));
}

static void media_part(struct buf *b, struct callflow *cf)
{
	struct media_stats st;
	struct media_ports_stats ps;

	if (!cf->media || !cf->ports)
		return;
	media_engine_get_stats(cf->media, &st);
	media_ports_get_stats(cf->ports, &ps);
	put(b,
	    "# HELP pinbridge_rtp_packets_relayed_total RTP packets relayed between legs.\n"
	    "# TYPE pinbridge_rtp_packets_relayed_total counter\n"
	    "pinbridge_rtp_packets_relayed_total %llu\n",
	    (unsigned long long)st.relayed);
	put(b,
	    "# HELP pinbridge_rtp_packets_dropped_total RTP packets dropped, by reason.\n"
	    "# TYPE pinbridge_rtp_packets_dropped_total counter\n"
	    "pinbridge_rtp_packets_dropped_total{reason=\"malformed\"} %llu\n"
	    "pinbridge_rtp_packets_dropped_total{reason=\"source\"} %llu\n"
	    "pinbridge_rtp_packets_dropped_total{reason=\"no_remote\"} %llu\n"
	    "pinbridge_rtp_packets_dropped_total{reason=\"send\"} %llu\n"
	    "pinbridge_rtp_packets_dropped_total{reason=\"srtp_auth\"} %llu\n"
	    "pinbridge_rtp_packets_dropped_total{reason=\"srtp_replay\"} %llu\n",
	    (unsigned long long)st.dropped_malformed, (unsigned long long)st.dropped_source,
	    (unsigned long long)st.dropped_no_remote, (unsigned long long)st.dropped_send,
	    (unsigned long long)st.dropped_srtp_auth, (unsigned long long)st.dropped_srtp_replay);
	put(b,
	    "# HELP pinbridge_rtcp_packets_total RTCP terminated per leg.\n"
	    "# TYPE pinbridge_rtcp_packets_total counter\n"
	    "pinbridge_rtcp_packets_total{dir=\"received\"} %llu\n"
	    "pinbridge_rtcp_packets_total{dir=\"sent\"} %llu\n",
	    (unsigned long long)st.rtcp_received, (unsigned long long)st.rtcp_sent);
	put(b,
	    "# HELP pinbridge_media_port_pairs RTP/RTCP port pairs by state.\n"
	    "# TYPE pinbridge_media_port_pairs gauge\n"
	    "pinbridge_media_port_pairs{state=\"free\"} %u\n"
	    "pinbridge_media_port_pairs{state=\"quarantined\"} %u\n"
	    "pinbridge_media_port_pairs{state=\"in_use\"} %u\n",
	    ps.free, ps.quarantined, ps.pairs - ps.free - ps.quarantined);
	put(b,
	    "# HELP pinbridge_media_ports_exhausted_total Calls refused for want of ports.\n"
	    "# TYPE pinbridge_media_ports_exhausted_total counter\n"
	    "pinbridge_media_ports_exhausted_total %llu\n",
	    (unsigned long long)ps.exhausted);
}

static void recording_part(struct buf *b, struct callflow *cf)
{
	struct media_recorder_stats st;

	if (!cf->recorder)
		return;
	media_recorder_get_stats(cf->recorder, &st);
	put(b,
	    "# HELP pinbridge_recordings_active Recordings being written.\n"
	    "# TYPE pinbridge_recordings_active gauge\n"
	    "pinbridge_recordings_active %llu\n",
	    (unsigned long long)st.active);
	put(b,
	    "# HELP pinbridge_recordings_total Recordings closed, by how they ended.\n"
	    "# TYPE pinbridge_recordings_total counter\n"
	    "pinbridge_recordings_total{status=\"completed\"} %llu\n"
	    "pinbridge_recordings_total{status=\"partial\"} %llu\n"
	    "pinbridge_recordings_total{status=\"failed\"} %llu\n",
	    (unsigned long long)st.completed, (unsigned long long)st.partial,
	    (unsigned long long)st.failed);
	put(b,
	    "# HELP pinbridge_recording_frames_total Audio frames handed to the recorder, "
	    "by fate.\n"
	    "# TYPE pinbridge_recording_frames_total counter\n"
	    "pinbridge_recording_frames_total{result=\"queued\"} %llu\n"
	    "pinbridge_recording_frames_total{result=\"dropped\"} %llu\n",
	    (unsigned long long)st.frames, (unsigned long long)st.dropped);
	put(b,
	    "# HELP pinbridge_recording_bytes_total Bytes of recordings written to disk.\n"
	    "# TYPE pinbridge_recording_bytes_total counter\n"
	    "pinbridge_recording_bytes_total %llu\n",
	    (unsigned long long)st.bytes);
	put(b,
	    "# HELP pinbridge_recording_queue_slots The recorder's queue: size and most "
	    "ever used.\n"
	    "# TYPE pinbridge_recording_queue_slots gauge\n"
	    "pinbridge_recording_queue_slots{kind=\"size\"} %u\n"
	    "pinbridge_recording_queue_slots{kind=\"peak\"} %u\n",
	    st.queue_slots, st.queue_peak);
}

int callflow_metrics_text(struct callflow *cf, char **out)
{
	struct buf b = {.cap = 4096};

	b.p = malloc(b.cap);
	if (!b.p)
		return ENOMEM;
	b.p[0] = '\0';
	if (cf) {
		calls_part(&b, cf);
		media_part(&b, cf);
		recording_part(&b, cf);
		if (!b.err && cf->guard) {
			put(&b,
			    "# HELP pinbridge_pin_failures_total Wrong PINs per VN (a failure "
			    "rate, no lockout).\n# TYPE pinbridge_pin_failures_total counter\n");
			if (!b.err)
				b.err = pin_guard_metrics(cf->guard, &b.p, &b.len);
		}
	}
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	return 0;
}
