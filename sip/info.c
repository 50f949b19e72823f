/* info: DTMF by SIP INFO on an inbound call (DESIGN §3 DTMF): the body of
 * application/dtmf-relay ("Signal=5") or application/dtmf ("5") read as one
 * digit, answered here and reported to core through cb->info_digit. */
#include "sip/sip_int.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tag.h>

#include "core/base/log.h"

#define MOD "sip"

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* One digit as gateways write it: 0-9 * # A-D (either case), or the
 * event codes 10 and 11 some send for * and #. */
static int digit_of(const char *v, size_t n, char *digit)
{
	while (n > 0 && blank(*v))
		v++, n--;
	while (n > 0 && blank(v[n - 1]))
		n--;
	if (n == 2 && v[0] == '1' && (v[1] == '0' || v[1] == '1')) {
		*digit = v[1] == '0' ? '*' : '#';
		return 0;
	}
	if (n != 1)
		return EINVAL;
	char ch = (char)toupper((unsigned char)v[0]);
	if (!((ch >= '0' && ch <= '9') || ch == '*' || ch == '#' || (ch >= 'A' && ch <= 'D')))
		return EINVAL;
	*digit = ch;
	return 0;
}

/* The value of the first "Signal = x" line of a dtmf-relay body. */
static int relay_digit(const char *body, size_t len, char *digit)
{
	const char *end = body + len;

	for (const char *line = body; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *p = line, *stop = eol ? eol : end;
		line = eol ? eol + 1 : end;
		while (p < stop && blank(*p))
			p++;
		if ((size_t)(stop - p) < 6 || strncasecmp(p, "signal", 6) != 0)
			continue;
		for (p += 6; p < stop && blank(*p); p++)
			;
		if (p == stop || *p != '=')
			continue;
		return digit_of(p + 1, (size_t)(stop - p - 1), digit);
	}
	return EINVAL;
}

int sip_info_parse(const char *ctype, const char *body, size_t len, char *digit)
{
	size_t n = ctype ? strcspn(ctype, "; \t") : 0;

	if (!body)
		len = 0;
	if (!ctype && len == 0)
		return ENODATA;
	if (n == 22 && strncasecmp(ctype, "application/dtmf-relay", n) == 0)
		return relay_digit(body, len, digit);
	if (n == 16 && strncasecmp(ctype, "application/dtmf", n) == 0)
		return digit_of(body, len, digit);
	return ENOTSUP;
}

/* Answers an INFO on inbound call c; nua hands it over unanswered because
 * invite_in() made INFO an application method on the call's handle. */
void sip_info_in(struct sip *sip, nua_t *nua, int status, struct sip_call *c, sip_t const *s)
{
	const char *ct = s && s->sip_content_type ? s->sip_content_type->c_type : NULL;
	const char *body = s && s->sip_payload ? s->sip_payload->pl_data : NULL;
	size_t len = s && s->sip_payload ? s->sip_payload->pl_len : 0;
	char digit = 0;
	int rc = sip_info_parse(ct, body, len, &digit);

	if (status < 200) {
		if (rc == ENOTSUP)
			nua_respond(c->nh, SIP_415_UNSUPPORTED_MEDIA,
			            SIPTAG_ACCEPT_STR("application/dtmf-relay, application/dtmf"),
			            NUTAG_WITH_THIS(nua), TAG_END());
		else if (rc == EINVAL)
			nua_respond(c->nh, 400, "Bad DTMF Body", NUTAG_WITH_THIS(nua), TAG_END());
		else
			nua_respond(c->nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
	}
	if (rc) {
		/* ENODATA: an empty INFO, a keep-alive some gateways send. */
		if (rc != ENODATA)
			log_msg(LVL_INFO, MOD, NULL, "call %u: INFO %s refused: %s", c->id,
			        ct ? ct : "without a type",
			        rc == ENOTSUP ? "not DTMF" : "no digit in it");
		return;
	}
	/* The digit itself is not logged: it is part of a PIN. */
	log_debug(MOD, "call %u: digit by INFO", c->id);
	if (sip->cb.info_digit && !c->ended && !c->hungup)
		sip->cb.info_digit(sip->arg, c->id, digit);
}
