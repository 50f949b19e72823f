/* sdp: parse a leg's SDP with Sofia into struct sdp_desc, and render
 * pinbridge's offers and answers from such structs alone. */
#include "sip/sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/sdp.h>

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
#define TE_EVENTS_DEF   0xffffu /* RFC 4733: 0-15 when no fmtp */
#define PTIME_MIN       5
#define PTIME_MAX       200
#define PTIME_OFFER_DEF 20

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static size_t lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 1; s && i < n; i++)
		if (names[i] && strcasecmp(names[i], s) == 0)
			return i;
	return 0;
}

/* Digits only, value <= max; returns -1 otherwise. */
static long parse_num(const char *s, size_t n, long max)
{
	long v = 0;

	if (n == 0 || n > 6)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* "0-15,16" → bits 0..31; other events are ignored. A value that does not
 * parse counts as absent, so RFC 4733's default applies. */
static uint32_t parse_events(const char *fmtp)
{
	uint32_t mask = 0;
	const char *s = fmtp;

	if (!s)
		return TE_EVENTS_DEF;
	while (*s) {
		size_t n = strspn(s, "0123456789");
		long lo = parse_num(s, n, 255), hi;

		if (lo < 0)
			return TE_EVENTS_DEF;
		s += n;
		hi = lo;
		if (*s == '-') {
			s++;
			n = strspn(s, "0123456789");
			hi = parse_num(s, n, 255);
			if (hi < lo)
				return TE_EVENTS_DEF;
			s += n;
		}
		for (long e = lo; e <= hi && e < 32; e++)
			mask |= 1u << e;
		s += strspn(s, " \t");
		if (*s == ',')
			s += 1 + strspn(s + 1, " \t");
		else if (*s)
			return TE_EVENTS_DEF;
	}
	return mask;
}

static enum sdp_codec_kind codec_kind(const sdp_rtpmap_t *rm)
{
	const char *enc = rm->rm_encoding;
	bool mono = !rm->rm_params || strcmp(rm->rm_params, "1") == 0;

	if (!enc || rm->rm_rate != 8000)
		return SDP_CODEC_OTHER;
	if (strcasecmp(enc, "PCMU") == 0 && mono)
		return SDP_CODEC_PCMU;
	if (strcasecmp(enc, "PCMA") == 0 && mono)
		return SDP_CODEC_PCMA;
	if (strcasecmp(enc, "telephone-event") == 0)
		return SDP_CODEC_TELEPHONE_EVENT;
	return SDP_CODEC_OTHER;
}

const struct sdp_codec *sdp_desc_codec(const struct sdp_desc *d, enum sdp_codec_kind kind)
{
	for (size_t i = 0; i < d->ncodecs; i++)
		if (d->codecs[i].kind == kind && (kind != SDP_CODEC_TELEPHONE_EVENT ||
		                                  (d->codecs[i].events & SDP_TE_EVENTS_SUPPORTED)))
			return &d->codecs[i];
	return NULL;
}

static bool has_voice_codec(const sdp_media_t *m)
{
	for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm; rm = rm->rm_next) {
		enum sdp_codec_kind k = codec_kind(rm);

		if (k == SDP_CODEC_PCMU || k == SDP_CODEC_PCMA)
			return true;
	}
	return false;
}

static int read_mline(const sdp_media_t *m, struct sdp_mline *line, char *err, size_t errlen)
{
	line->media =
	    lookup(media_names, sizeof(media_names) / sizeof(*media_names), m->m_type_name);
	line->proto =
	    lookup(proto_names, sizeof(proto_names) / sizeof(*proto_names), m->m_proto_name);
	if (m->m_port > 65535)
		return fail(EINVAL, err, errlen, "m= port %lu is out of range", m->m_port);
	line->port = (uint16_t)m->m_port;
	if (!m->m_rtpmaps && !m->m_format)
		return fail(EINVAL, err, errlen, "an m= line has no formats");
	for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm && line->nfmts < SDP_FMTS_MAX;
	     rm = rm->rm_next)
		line->fmts[line->nfmts++] = (struct sdp_fmt){.num = rm->rm_pt};
	for (const sdp_list_t *l = m->m_format; l && line->nfmts < SDP_FMTS_MAX; l = l->l_next) {
		long v = parse_num(l->l_text, strlen(l->l_text), 65535);
		size_t tok =
		    lookup(fmt_tokens, sizeof(fmt_tokens) / sizeof(*fmt_tokens), l->l_text);

		if (v >= 0)
			line->fmts[line->nfmts++] = (struct sdp_fmt){.num = (uint16_t)v};
		else if (tok)
			line->fmts[line->nfmts++] = (struct sdp_fmt){.token = (uint8_t)tok};
	}
	return 0;
}

static int read_connection(const sdp_media_t *m, struct sdp_desc *out, char *err, size_t errlen)
{
	const sdp_connection_t *c =
	    m->m_connections ? m->m_connections : m->m_session->sdp_connection;
	unsigned char bin[sizeof(struct in6_addr)];
	int af;

	if (!c || !c->c_address)
		return fail(EINVAL, err, errlen, "no c= for the audio stream");
	if (c->c_nettype != sdp_net_in ||
	    (c->c_addrtype != sdp_addr_ip4 && c->c_addrtype != sdp_addr_ip6))
		return fail(ENOTSUP, err, errlen, "c= is not IN IP4 or IN IP6");
	af = c->c_addrtype == sdp_addr_ip6 ? AF_INET6 : AF_INET;
	if (c->c_mcast || inet_pton(af, c->c_address, bin) != 1)
		return fail(ENOTSUP, err, errlen, "c= address is not a unicast IP literal");
	if ((af == AF_INET && bin[0] >= 224 && bin[0] <= 239) || (af == AF_INET6 && bin[0] == 0xff))
		return fail(ENOTSUP, err, errlen, "c= address is multicast");
	out->ipv6 = af == AF_INET6;
	/* Canonical text: what we keep is ours, not a copy of the peer's. */
	if (!inet_ntop(af, bin, out->addr, sizeof(out->addr)))
		return fail(EINVAL, err, errlen, "c= address does not print");
	return 0;
}

static void read_attributes(const sdp_media_t *m, struct sdp_desc *out)
{
	const sdp_attribute_t *a;

	/* ptime belongs to the media level; some UAs put it at session level. */
	a = sdp_attribute_find2(m->m_attributes, m->m_session->sdp_attributes, "ptime");
	if (a && a->a_value) {
		long v = parse_num(a->a_value, strcspn(a->a_value, " \t"), 100000);

		if (v >= PTIME_MIN && v <= PTIME_MAX)
			out->ptime = (unsigned)v;
	}
	out->rtcp_mux = sdp_attribute_find(m->m_attributes, "rtcp-mux") != NULL;
	a = sdp_attribute_find(m->m_attributes, "rtcp");
	if (a && a->a_value) {
		long v = parse_num(a->a_value, strcspn(a->a_value, " \t"), 65535);

		if (v > 0)
			out->rtcp_port = (uint16_t)v;
	}
	for (a = m->m_attributes; a; a = a->a_next) {
		if (strcasecmp(a->a_name, "crypto") != 0 || !a->a_value ||
		    strlen(a->a_value) >= SDP_CRYPTO_LEN || out->ncrypto == SDP_CRYPTO_MAX)
			continue;
		strcpy(out->crypto[out->ncrypto++], a->a_value);
	}
}

static void read_codecs(const sdp_media_t *m, struct sdp_desc *out)
{
	for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm && out->ncodecs < SDP_CODECS_MAX;
	     rm = rm->rm_next) {
		struct sdp_codec *c = &out->codecs[out->ncodecs++];

		c->pt = (uint8_t)rm->rm_pt;
		c->kind = codec_kind(rm);
		c->rate = (uint32_t)rm->rm_rate;
		if (c->kind == SDP_CODEC_TELEPHONE_EVENT)
			c->events = parse_events(rm->rm_fmtp);
		snprintf(c->name, sizeof(c->name), "%s", rm->rm_encoding ? rm->rm_encoding : "");
	}
}

/* Plain RTP/AVP audio first; RTP/SAVP audio only when there is no other,
 * so that best-effort SRTP offers still get a plain call. */
static const sdp_media_t *pick_audio(const sdp_session_t *sdp, size_t *index)
{
	for (int pass = 0; pass < 2; pass++) {
		size_t i = 0;

		for (const sdp_media_t *m = sdp->sdp_media; m; m = m->m_next, i++) {
			sdp_proto_e want = pass == 0 ? sdp_proto_rtp : sdp_proto_srtp;

			if (m->m_type == sdp_media_audio && m->m_proto == want && m->m_port != 0 &&
			    m->m_number_of_ports <= 1 && has_voice_codec(m)) {
				*index = i;
				return m;
			}
		}
	}
	return NULL;
}

static int read_session(const sdp_session_t *sdp, struct sdp_desc *out, char *err, size_t errlen)
{
	const sdp_media_t *audio;
	size_t n = 0;
	int rc;

	for (const sdp_media_t *m = sdp->sdp_media; m; m = m->m_next, n++) {
		if (n == SDP_MLINES_MAX)
			return fail(ENOTSUP, err, errlen, "more than %d m= lines", SDP_MLINES_MAX);
		rc = read_mline(m, &out->lines[n], err, errlen);
		if (rc)
			return rc;
	}
	out->nlines = n;
	if (n == 0)
		return fail(ENOTSUP, err, errlen, "no m= line");
	audio = pick_audio(sdp, &out->audio);
	if (!audio)
		return fail(ENOTSUP, err, errlen, "no audio stream with PCMU or PCMA");
	rc = read_connection(audio, out, err, errlen);
	if (rc)
		return rc;
	out->port = out->lines[out->audio].port;
	out->srtp = audio->m_proto == sdp_proto_srtp;
	out->dir = (enum sdp_dir)(audio->m_mode & SDP_DIR_SENDRECV);
	read_attributes(audio, out);
	read_codecs(audio, out);
	return 0;
}

/* Sofia-SIP 1.12.11 loops forever, allocating, when a format of a non-RTP
 * m= line starts with a character that is not a token one, or when blanks
 * end the line after a tab ("m=image 9 udptl t38 (x)"); later Sofia
 * releases fail such lines. So every m= line, found as Sofia finds lines
 * (split at CR and LF, leading blanks skipped), is first held to the shape
 * RFC 4566 gives it, which Sofia splits exactly as we do here: fields
 * separated by spaces, a media token, port digits with an optional
 * "/count", a protocol of tokens and '/', format tokens. */
#define TOKEN_CHARS                                                                                \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`{|}~"

static bool mline_safe(const char *p, const char *eol)
{
	for (int field = 0; p < eol; field++) {
		const char *start, *slash = NULL;

		while (p < eol && *p == ' ')
			p++;
		for (start = p; p < eol && *p != ' '; p++) {
			if (field == 1 && *p == '/' && !slash && p > start)
				slash = p;
			else if (field == 1
			             ? !(*p >= '0' && *p <= '9')
			             : !strchr(field == 2 ? "/" TOKEN_CHARS : TOKEN_CHARS, *p))
				return false;
		}
		if (slash && slash == p - 1)
			return false;
	}
	return true;
}

static bool mlines_safe(const char *text, size_t len)
{
	const char *end = text + len;

	for (const char *p = text; p < end;) {
		const char *eol = p;

		while (eol < end && *eol != '\r' && *eol != '\n')
			eol++;
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		if (eol - p >= 2 && p[0] == 'm' && p[1] == '=' && !mline_safe(p + 2, eol))
			return false;
		p = eol + 1;
	}
	return true;
}

int sdp_parse_desc(const char *text, size_t len, struct sdp_desc *out, char *err, size_t errlen)
{
	su_home_t *home;
	sdp_parser_t *parser;
	const sdp_session_t *sdp;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!text || len == 0)
		return fail(EINVAL, err, errlen, "empty SDP");
	if (len > SDP_INPUT_MAX)
		return fail(EINVAL, err, errlen, "SDP longer than %d bytes", SDP_INPUT_MAX);
	/* Sofia would stop at a NUL and parse only what precedes it. */
	if (memchr(text, '\0', len))
		return fail(EINVAL, err, errlen, "SDP contains a NUL byte");
	if (!mlines_safe(text, len))
		return fail(EINVAL, err, errlen, "an m= line has a character outside tokens");
	home = su_home_new(sizeof(*home));
	if (!home)
		return fail(ENOMEM, err, errlen, "out of memory");
	parser = sdp_parse(home, text, (issize_t)len, 0);
	sdp = sdp_session(parser);
	if (!sdp) {
		const char *why = sdp_parsing_error(parser);

		rc = fail(EINVAL, err, errlen, "malformed SDP: %s", why ? why : "unknown error");
	} else {
		rc = read_session(sdp, out, err, errlen);
	}
	sdp_parser_free(parser);
	su_home_unref(home);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- rendering: only from struct fields, never from peer text ---- */

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

	put(t, "m=%s 0 %s", media_names[l->media], proto_names[l->proto]);
	for (size_t i = 0; i < l->nfmts; i++) {
		const struct sdp_fmt *f = &l->fmts[i];

		if (f->token && f->token < sizeof(fmt_tokens) / sizeof(*fmt_tokens) &&
		    !proto_is_rtp(l->proto))
			put(t, " %s", fmt_tokens[f->token]);
		else if (!f->token && (!proto_is_rtp(l->proto) || f->num < 128))
			put(t, " %u", (unsigned)f->num);
		else
			continue;
		shown++;
	}
	/* SDP needs at least one format, even on a rejected line. */
	put(t, "%s\r\n", shown ? "" : " 0");
}

static const char *codec_name(enum sdp_codec_kind k)
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

static void put_audio(struct text *t, const struct sdp_desc *d)
{
	put(t, "m=audio %u RTP/AVP", (unsigned)d->port);
	for (size_t i = 0; i < d->ncodecs; i++)
		put(t, " %u", (unsigned)d->codecs[i].pt);
	put(t, "\r\n");
	for (size_t i = 0; i < d->ncodecs; i++)
		put(t, "a=rtpmap:%u %s/8000\r\n", (unsigned)d->codecs[i].pt,
		    codec_name(d->codecs[i].kind));
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
	put(t, "a=%s\r\n", dir_names[d->dir & SDP_DIR_SENDRECV]);
}

static int render(const struct sdp_desc *d, const struct sdp_local *local, char *buf, size_t buflen)
{
	struct text t = {.buf = buf, .cap = buflen};
	const char *ip = d->ipv6 ? "IP6" : "IP4";

	if (!buf || buflen == 0)
		return ENOSPC;
	for (size_t i = 0; i < d->ncodecs; i++)
		if (!codec_name(d->codecs[i].kind))
			return EINVAL;
	put(&t, "v=0\r\no=pinbridge %llu %llu IN %s %s\r\ns=pinbridge\r\nc=IN %s %s\r\nt=0 0\r\n",
	    (unsigned long long)local->session_id, (unsigned long long)local->session_version, ip,
	    d->addr, ip, d->addr);
	for (size_t i = 0; i < d->nlines; i++) {
		if (i == d->audio)
			put_audio(&t, d);
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
	    (unsigned)local->dir > SDP_DIR_SENDRECV)
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
	snprintf(c->name, sizeof(c->name), "%s", codec_name(kind));
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
	for (size_t i = 0; i < offer->ncodecs; i++) {
		c = &offer->codecs[i];
		if (c->kind == SDP_CODEC_PCMU || c->kind == SDP_CODEC_PCMA)
			return c;
	}
	return NULL;
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
	if (offer->srtp)
		return ENOTSUP;
	codec = pick_codec(offer, local);
	if (!codec)
		return ENOTSUP;
	te = sdp_desc_codec(offer, SDP_CODEC_TELEPHONE_EVENT);

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
	d.lines[d.audio] = (struct sdp_mline){
	    .media = SDP_MEDIA_AUDIO, .proto = SDP_PROTO_RTP_AVP, .port = d.port};
	add_codec(&d, codec->kind, codec->pt, 0);
	if (te)
		add_codec(&d, SDP_CODEC_TELEPHONE_EVENT, te->pt,
		          te->events & SDP_TE_EVENTS_SUPPORTED);
	d.ptime = offer->ptime >= PTIME_MIN && offer->ptime <= PTIME_MAX ? offer->ptime : 0;
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
	if (d.ptime < PTIME_MIN || d.ptime > PTIME_MAX)
		return EINVAL;
	d.rtcp_mux = local->rtcp_mux;
	d.rtcp_port = d.rtcp_mux ? 0 : (uint16_t)(d.port + 1);
	d.dir = local->dir;
	return render(&d, local, buf, buflen);
}
