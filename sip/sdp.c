/* sdp: parse a leg's SDP with Sofia into struct sdp_desc. Only this file
 * sees Sofia's types and the peer's text; sdp_answer.c renders pinbridge's
 * own SDP from the structs. */
#include "sip/sdp.h"
#include "sip/sdp_int.h"

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

#define TE_EVENTS_DEF 0xffffu /* RFC 4733: 0-15 when no fmtp */

int sdp_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static enum sdp_media_kind media_kind(const char *s)
{
	for (int k = SDP_MEDIA_AUDIO; s && k <= SDP_MEDIA_MESSAGE; k++)
		if (strcasecmp(sdp_media_name((enum sdp_media_kind)k), s) == 0)
			return (enum sdp_media_kind)k;
	return SDP_MEDIA_OTHER;
}

static enum sdp_proto_kind proto_kind(const char *s)
{
	for (int k = SDP_PROTO_RTP_AVP; s && k <= SDP_PROTO_TCP_TLS_MSRP; k++)
		if (strcasecmp(sdp_proto_name((enum sdp_proto_kind)k), s) == 0)
			return (enum sdp_proto_kind)k;
	return SDP_PROTO_OTHER;
}

static uint8_t fmt_token(const char *s)
{
	const char *name;

	for (uint8_t t = 1; (name = sdp_fmt_token_name(t)); t++)
		if (strcasecmp(name, s) == 0)
			return t;
	return 0;
}

/* Digits only, value <= max; returns -1 otherwise. */
long sdp_parse_num(const char *s, size_t n, long max)
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
		long lo = sdp_parse_num(s, n, 255), hi;

		if (lo < 0)
			return TE_EVENTS_DEF;
		s += n;
		hi = lo;
		if (*s == '-') {
			s++;
			n = strspn(s, "0123456789");
			hi = sdp_parse_num(s, n, 255);
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

const struct sdp_codec *sdp_desc_voice(const struct sdp_desc *d)
{
	for (size_t i = 0; i < d->ncodecs; i++)
		if (d->codecs[i].kind == SDP_CODEC_PCMU || d->codecs[i].kind == SDP_CODEC_PCMA)
			return &d->codecs[i];
	return NULL;
}

/* Only among the formats read_codecs() keeps: a PCMU past the first
 * SDP_CODECS_MAX would make a stream that parses but cannot be answered. */
static bool has_voice_codec(const sdp_media_t *m)
{
	size_t n = 0;

	for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm && n < SDP_CODECS_MAX;
	     rm = rm->rm_next, n++) {
		enum sdp_codec_kind k = codec_kind(rm);

		if (k == SDP_CODEC_PCMU || k == SDP_CODEC_PCMA)
			return true;
	}
	return false;
}

static int read_mline(const sdp_media_t *m, struct sdp_mline *line, char *err, size_t errlen)
{
	line->media = media_kind(m->m_type_name);
	line->proto = proto_kind(m->m_proto_name);
	if (m->m_port > 65535)
		return sdp_fail(EINVAL, err, errlen, "m= port %lu is out of range", m->m_port);
	line->port = (uint16_t)m->m_port;
	if (!m->m_rtpmaps && !m->m_format)
		return sdp_fail(EINVAL, err, errlen, "an m= line has no formats");
	for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm && line->nfmts < SDP_FMTS_MAX;
	     rm = rm->rm_next)
		line->fmts[line->nfmts++] = (struct sdp_fmt){.num = rm->rm_pt};
	for (const sdp_list_t *l = m->m_format; l && line->nfmts < SDP_FMTS_MAX; l = l->l_next) {
		long v = sdp_parse_num(l->l_text, strlen(l->l_text), 65535);
		uint8_t tok = fmt_token(l->l_text);

		if (v >= 0)
			line->fmts[line->nfmts++] = (struct sdp_fmt){.num = (uint16_t)v};
		else if (tok)
			line->fmts[line->nfmts++] = (struct sdp_fmt){.token = tok};
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
		return sdp_fail(EINVAL, err, errlen, "no c= for the audio stream");
	if (c->c_nettype != sdp_net_in ||
	    (c->c_addrtype != sdp_addr_ip4 && c->c_addrtype != sdp_addr_ip6))
		return sdp_fail(ENOTSUP, err, errlen, "c= is not IN IP4 or IN IP6");
	af = c->c_addrtype == sdp_addr_ip6 ? AF_INET6 : AF_INET;
	if (c->c_mcast || inet_pton(af, c->c_address, bin) != 1)
		return sdp_fail(ENOTSUP, err, errlen, "c= address is not a unicast IP literal");
	if ((af == AF_INET && bin[0] >= 224 && bin[0] <= 239) || (af == AF_INET6 && bin[0] == 0xff))
		return sdp_fail(ENOTSUP, err, errlen, "c= address is multicast");
	out->ipv6 = af == AF_INET6;
	/* Canonical text: what we keep is ours, not a copy of the peer's. */
	if (!inet_ntop(af, bin, out->addr, sizeof(out->addr)))
		return sdp_fail(EINVAL, err, errlen, "c= address does not print");
	return 0;
}

static void read_attributes(const sdp_media_t *m, struct sdp_desc *out)
{
	const sdp_attribute_t *a;

	/* ptime belongs to the media level; some UAs put it at session level. */
	a = sdp_attribute_find2(m->m_attributes, m->m_session->sdp_attributes, "ptime");
	if (a && a->a_value) {
		long v = sdp_parse_num(a->a_value, strcspn(a->a_value, " \t"), 100000);

		if (v >= SDP_PTIME_MIN && v <= SDP_PTIME_MAX)
			out->ptime = (unsigned)v;
	}
	out->rtcp_mux = sdp_attribute_find(m->m_attributes, "rtcp-mux") != NULL;
	a = sdp_attribute_find(m->m_attributes, "rtcp");
	if (a && a->a_value) {
		long v = sdp_parse_num(a->a_value, strcspn(a->a_value, " \t"), 65535);

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
			return sdp_fail(ENOTSUP, err, errlen, "more than %d m= lines",
			                SDP_MLINES_MAX);
		rc = read_mline(m, &out->lines[n], err, errlen);
		if (rc)
			return rc;
	}
	out->nlines = n;
	if (n == 0)
		return sdp_fail(ENOTSUP, err, errlen, "no m= line");
	audio = pick_audio(sdp, &out->audio);
	if (!audio)
		return sdp_fail(ENOTSUP, err, errlen, "no audio stream with PCMU or PCMA");
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
	if (err && errlen)
		err[0] = '\0';
	if (!text || len == 0)
		return sdp_fail(EINVAL, err, errlen, "empty SDP");
	if (len > SDP_INPUT_MAX)
		return sdp_fail(EINVAL, err, errlen, "SDP longer than %d bytes", SDP_INPUT_MAX);
	/* Sofia would stop at a NUL and parse only what precedes it. */
	if (memchr(text, '\0', len))
		return sdp_fail(EINVAL, err, errlen, "SDP contains a NUL byte");
	if (!mlines_safe(text, len))
		return sdp_fail(EINVAL, err, errlen,
		                "an m= line is not media, port, protocol and format tokens");
	home = su_home_new(sizeof(*home));
	if (!home)
		return sdp_fail(ENOMEM, err, errlen, "out of memory");
	parser = sdp_parse(home, text, (issize_t)len, 0);
	sdp = sdp_session(parser);
	if (!sdp) {
		const char *why = sdp_parsing_error(parser);

		rc =
		    sdp_fail(EINVAL, err, errlen, "malformed SDP: %s", why ? why : "unknown error");
	} else {
		rc = read_session(sdp, out, err, errlen);
	}
	sdp_parser_free(parser);
	su_home_unref(home);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}
