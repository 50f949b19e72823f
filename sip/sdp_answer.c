/* sdp_answer: pinbridge's answers and offers, rendered from struct
 * sdp_desc alone. This file does not include Sofia and never sees the
 * peer's text, so nothing of one leg's SDP can reach another. */
#include "sip/sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const media_names[] = {
    [SDP_MEDIA_OTHER] = "application",
    [SDP_MEDIA_AUDIO] = "audio",
    [SDP_MEDIA_VIDEO] = "video",
    [SDP_MEDIA_IMAGE] = "image",
    [SDP_MEDIA_APPLICATION] = "application",
    [SDP_MEDIA_TEXT] = "text",
    [SDP_MEDIA_MESSAGE] = "message",
};

/* The OTHER placeholder is a non-RTP protocol so that any format parses. */
static const char *const proto_names[] = {
    [SDP_PROTO_OTHER] = "UDP",
    [SDP_PROTO_RTP_AVP] = "RTP/AVP",
    [SDP_PROTO_RTP_SAVP] = "RTP/SAVP",
    [SDP_PROTO_RTP_AVPF] = "RTP/AVPF",
    [SDP_PROTO_RTP_SAVPF] = "RTP/SAVPF",
    [SDP_PROTO_UDP_TLS_RTP_SAVP] = "UDP/TLS/RTP/SAVP",
    [SDP_PROTO_UDP_TLS_RTP_SAVPF] = "UDP/TLS/RTP/SAVPF",
    [SDP_PROTO_UDPTL] = "udptl",
    [SDP_PROTO_UDP] = "UDP",
    [SDP_PROTO_TCP] = "TCP",
    [SDP_PROTO_TCP_MSRP] = "TCP/MSRP",
    [SDP_PROTO_TCP_TLS_MSRP] = "TCP/TLS/MSRP",
};

static const char *const fmt_tokens[] = {NULL, "t38", "*"};

static const char *const dir_names[] = {
    [SDP_DIR_INACTIVE] = "inactive",
    [SDP_DIR_SENDONLY] = "sendonly",
    [SDP_DIR_RECVONLY] = "recvonly",
    [SDP_DIR_SENDRECV] = "sendrecv",
};

#define TE_PT_OFFER     101
#define PTIME_OFFER_DEF 20

const char *sdp_media_name(enum sdp_media_kind kind)
{
	return (unsigned)kind < sizeof(media_names) / sizeof(*media_names) && media_names[kind]
	           ? media_names[kind]
	           : media_names[SDP_MEDIA_OTHER];
}

const char *sdp_proto_name(enum sdp_proto_kind kind)
{
	return (unsigned)kind < sizeof(proto_names) / sizeof(*proto_names) && proto_names[kind]
	           ? proto_names[kind]
	           : proto_names[SDP_PROTO_OTHER];
}

const char *sdp_fmt_token_name(uint8_t token)
{
	return token < sizeof(fmt_tokens) / sizeof(*fmt_tokens) ? fmt_tokens[token] : NULL;
}

const char *sdp_dir_name(enum sdp_dir dir)
{
	return dir_names[dir & SDP_DIR_SENDRECV];
}

struct text {
	char *buf;
	size_t len, cap;
	bool full;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len)
		t->full = true;
	else
		t->len += (size_t)n;
}

static void put_events(struct text *t, uint32_t mask)
{
	const char *sep = "";

	for (int e = 0; e < 32; e++) {
		int hi = e;

		if (!(mask & (1u << e)))
			continue;
		while (hi < 31 && (mask & (1u << (hi + 1))))
			hi++;
		if (hi == e)
			put(t, "%s%d", sep, e);
		else
			put(t, "%s%d-%d", sep, e, hi);
		sep = ",";
		e = hi;
	}
}

static bool proto_is_rtp(enum sdp_proto_kind p)
{
	return p >= SDP_PROTO_RTP_AVP && p <= SDP_PROTO_UDP_TLS_RTP_SAVPF;
}

static void put_rejected(struct text *t, const struct sdp_mline *l)
{
	size_t shown = 0;

	put(t, "m=%s 0 %s", sdp_media_name(l->media), sdp_proto_name(l->proto));
	for (size_t i = 0; i < l->nfmts; i++) {
		const struct sdp_fmt *f = &l->fmts[i];

		if (f->token && sdp_fmt_token_name(f->token) && !proto_is_rtp(l->proto))
			put(t, " %s", sdp_fmt_token_name(f->token));
		else if (!f->token && (!proto_is_rtp(l->proto) || f->num < 128))
			put(t, " %u", (unsigned)f->num);
		else
			continue;
		shown++;
	}
	/* SDP needs at least one format, even on a rejected line. */
	put(t, "%s\r\n", shown ? "" : " 0");
}

const char *sdp_codec_name(enum sdp_codec_kind k)
{
	switch (k) {
	case SDP_CODEC_PCMU:
		return "PCMU";
	case SDP_CODEC_PCMA:
		return "PCMA";
	case SDP_CODEC_TELEPHONE_EVENT:
		return "telephone-event";
	default:
		return NULL;
	}
}

static void put_audio(struct text *t, const struct sdp_desc *d, const struct sdp_local *local)
{
	put(t, "m=audio %u %s", (unsigned)d->port, d->srtp ? "RTP/SAVP" : "RTP/AVP");
	for (size_t i = 0; i < d->ncodecs; i++)
		put(t, " %u", (unsigned)d->codecs[i].pt);
	put(t, "\r\n");
	for (size_t i = 0; i < d->ncodecs; i++)
		put(t, "a=rtpmap:%u %s/8000\r\n", (unsigned)d->codecs[i].pt,
		    sdp_codec_name(d->codecs[i].kind));
	for (size_t i = 0; i < d->ncodecs; i++) {
		if (d->codecs[i].kind != SDP_CODEC_TELEPHONE_EVENT)
			continue;
		put(t, "a=fmtp:%u ", (unsigned)d->codecs[i].pt);
		put_events(t, d->codecs[i].events);
		put(t, "\r\n");
	}
	if (d->ptime)
		put(t, "a=ptime:%u\r\n", d->ptime);
	if (d->rtcp_mux)
		put(t, "a=rtcp-mux\r\n");
	else if (d->rtcp_port)
		put(t, "a=rtcp:%u\r\n", (unsigned)d->rtcp_port);
	put(t, "a=%s\r\n", sdp_dir_name(d->dir));
	for (size_t i = 0; i < local->ncrypto; i++) {
		char line[SDP_CRYPTO_LINE_MAX];

		if (sdp_crypto_format(&local->crypto[i], line, sizeof(line)) != 0) {
			t->full = true; /* checked by local_init: cannot happen */
			continue;
		}
		put(t, "%s\r\n", line);
		explicit_bzero(line, sizeof(line));
	}
}

static int render(const struct sdp_desc *d, const struct sdp_local *local, char *buf, size_t buflen)
{
	struct text t = {.buf = buf, .cap = buflen};
	const char *ip = d->ipv6 ? "IP6" : "IP4";

	if (!buf || buflen == 0)
		return ENOSPC;
	for (size_t i = 0; i < d->ncodecs; i++)
		if (!sdp_codec_name(d->codecs[i].kind))
			return EINVAL;
	put(&t, "v=0\r\no=pinbridge %llu %llu IN %s %s\r\ns=pinbridge\r\nc=IN %s %s\r\nt=0 0\r\n",
	    (unsigned long long)local->session_id, (unsigned long long)local->session_version, ip,
	    d->addr, ip, d->addr);
	for (size_t i = 0; i < d->nlines; i++) {
		if (i == d->audio)
			put_audio(&t, d, local);
		else
			put_rejected(&t, &d->lines[i]);
	}
	if (t.full) {
		buf[0] = '\0';
		return ENOSPC;
	}
	return 0;
}

/* Our own address, checked and canonical; port room for RTCP on port + 1. */
static int local_init(const struct sdp_local *local, struct sdp_desc *d)
{
	unsigned char bin[sizeof(struct in6_addr)];
	int af;

	memset(d, 0, sizeof(*d));
	if (!local || !local->addr || local->port == 0 || local->port == 65535 ||
	    (unsigned)local->dir > SDP_DIR_SENDRECV || local->ncrypto > SDP_LOCAL_CRYPTO_MAX ||
	    (local->ncrypto && !local->crypto) || (local->savp && !local->ncrypto))
		return EINVAL;
	for (size_t i = 0; i < local->ncrypto; i++)
		if (!sdp_crypto_suite_name(local->crypto[i].suite) ||
		    local->crypto[i].tag > 999999999u)
			return EINVAL;
	af = strchr(local->addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, local->addr, bin) != 1 || !inet_ntop(af, bin, d->addr, sizeof(d->addr)))
		return EINVAL;
	d->ipv6 = af == AF_INET6;
	d->port = local->port;
	d->nlines = 1;
	d->audio = 0;
	d->lines[0] = (struct sdp_mline){.media = SDP_MEDIA_AUDIO, .proto = SDP_PROTO_RTP_AVP};
	return 0;
}

static void add_codec(struct sdp_desc *d, enum sdp_codec_kind kind, uint8_t pt, uint32_t events)
{
	struct sdp_codec *c = &d->codecs[d->ncodecs++];
	struct sdp_mline *l = &d->lines[d->audio];

	*c = (struct sdp_codec){.pt = pt, .kind = kind, .rate = 8000, .events = events};
	snprintf(c->name, sizeof(c->name), "%s", sdp_codec_name(kind));
	if (l->nfmts < SDP_FMTS_MAX)
		l->fmts[l->nfmts++] = (struct sdp_fmt){.num = pt};
}

static const struct sdp_codec *pick_codec(const struct sdp_desc *offer,
                                          const struct sdp_local *local)
{
	const struct sdp_codec *c;

	for (size_t i = 0; i < SDP_PREFER_MAX && local->prefer[i] != SDP_CODEC_NONE; i++) {
		enum sdp_codec_kind k = local->prefer[i];

		if ((k == SDP_CODEC_PCMU || k == SDP_CODEC_PCMA) && (c = sdp_desc_codec(offer, k)))
			return c;
	}
	return sdp_desc_voice(offer);
}

int sdp_answer(const struct sdp_desc *offer, const struct sdp_local *local, struct sdp_desc *chosen,
               char *buf, size_t buflen)
{
	struct sdp_desc d;
	const struct sdp_codec *codec, *te;
	int rc;

	rc = local_init(local, &d);
	if (rc)
		return rc;
	if (!offer || offer->nlines == 0 || offer->nlines > SDP_MLINES_MAX ||
	    offer->audio >= offer->nlines || offer->port == 0 || offer->ncodecs > SDP_CODECS_MAX)
		return EINVAL;
	/* An RTP/SAVP offer needs our key; an RTP/AVP one may get it (best
	 * effort SRTP). One line: the one the offer's choice answers. */
	if ((offer->srtp && !local->ncrypto) || local->ncrypto > 1 || local->savp)
		return offer->srtp && !local->ncrypto ? ENOTSUP : EINVAL;
	codec = pick_codec(offer, local);
	if (!codec)
		return ENOTSUP;
	te = sdp_desc_codec(offer, SDP_CODEC_TELEPHONE_EVENT);
	if (codec->pt > 127 || (te && te->pt > 127))
		return EINVAL;
	/* One payload type cannot mean two formats in our answer. */
	if (te && te->pt == codec->pt)
		te = NULL;

	/* Every offered m-line gets its answer line, in order (RFC 3264 §6);
	 * all but the audio one are rejected with port 0. */
	d.nlines = offer->nlines;
	d.audio = offer->audio;
	for (size_t i = 0; i < d.nlines; i++) {
		d.lines[i] = offer->lines[i];
		d.lines[i].port = 0;
		if (d.lines[i].nfmts > SDP_FMTS_MAX)
			d.lines[i].nfmts = SDP_FMTS_MAX;
	}
	d.srtp = offer->srtp;
	d.lines[d.audio] =
	    (struct sdp_mline){.media = SDP_MEDIA_AUDIO,
	                       .proto = d.srtp ? SDP_PROTO_RTP_SAVP : SDP_PROTO_RTP_AVP,
	                       .port = d.port};
	add_codec(&d, codec->kind, codec->pt, 0);
	if (te)
		add_codec(&d, SDP_CODEC_TELEPHONE_EVENT, te->pt,
		          te->events & SDP_TE_EVENTS_SUPPORTED);
	d.ptime = offer->ptime >= SDP_PTIME_MIN && offer->ptime <= SDP_PTIME_MAX ? offer->ptime : 0;
	d.rtcp_mux = offer->rtcp_mux && local->rtcp_mux;
	d.rtcp_port = d.rtcp_mux ? 0 : (uint16_t)(d.port + 1);
	/* Mirror the offer's direction (sendonly answers recvonly, ...), then
	 * keep only what we want ourselves. */
	d.dir = (enum sdp_dir)(
	    (((offer->dir & SDP_DIR_SENDONLY) << 1) | ((offer->dir & SDP_DIR_RECVONLY) >> 1)) &
	    local->dir);
	rc = render(&d, local, buf, buflen);
	if (rc)
		return rc;
	if (chosen)
		*chosen = d;
	return 0;
}

int sdp_offer(const struct sdp_local *local, char *buf, size_t buflen)
{
	static const enum sdp_codec_kind voice[] = {SDP_CODEC_PCMU, SDP_CODEC_PCMA};
	struct sdp_desc d;
	int rc;

	rc = local_init(local, &d);
	if (rc)
		return rc;
	for (size_t i = 0; i < SDP_PREFER_MAX && local->prefer[i] != SDP_CODEC_NONE; i++) {
		enum sdp_codec_kind k = local->prefer[i];

		if ((k == SDP_CODEC_PCMU || k == SDP_CODEC_PCMA) && !sdp_desc_codec(&d, k))
			add_codec(&d, k, k == SDP_CODEC_PCMU ? 0 : 8, 0);
	}
	for (size_t i = 0; i < sizeof(voice) / sizeof(*voice); i++)
		if (!sdp_desc_codec(&d, voice[i]))
			add_codec(&d, voice[i], voice[i] == SDP_CODEC_PCMU ? 0 : 8, 0);
	add_codec(&d, SDP_CODEC_TELEPHONE_EVENT, TE_PT_OFFER, SDP_TE_EVENTS_SUPPORTED);
	d.ptime = local->ptime ? local->ptime : PTIME_OFFER_DEF;
	if (d.ptime < SDP_PTIME_MIN || d.ptime > SDP_PTIME_MAX)
		return EINVAL;
	d.rtcp_mux = local->rtcp_mux;
	d.rtcp_port = d.rtcp_mux ? 0 : (uint16_t)(d.port + 1);
	d.dir = local->dir;
	d.srtp = local->savp;
	return render(&d, local, buf, buflen);
}
