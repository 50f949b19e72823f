/* fuzz_sip: a datagram from the network through Sofia's SIP parser, then
 * every part sip/ reads from a request or response: the Request-URI, From,
 * To and P-Asserted-Identity users, a challenge's realm, the Content-Type
 * and the body, which goes through our SDP parser when it is SDP. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

#include "sip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink; /* keeps the reads from being optimised away */

static void read_str(const char *s)
{
	if (s)
		sink += strlen(s);
}

static void read_url(const url_t *u)
{
	if (!u)
		return;
	read_str(u->url_user);
	read_str(u->url_host);
	read_str(u->url_port);
	read_str(u->url_params);
}

static void read_auth(const msg_auth_t *au)
{
	for (; au; au = au->au_next) {
		read_str(au->au_scheme);
		read_str(msg_params_find(au->au_params, "realm="));
	}
}

static void read_body(const sip_t *s)
{
	static struct sdp_desc desc;
	char err[256];
	int rc;

	if (!s->sip_payload)
		return;
	if (s->sip_content_type && s->sip_content_type->c_type &&
	    strcasecmp(s->sip_content_type->c_type, "application/sdp") != 0)
		return;
	rc = sdp_parse_desc(s->sip_payload->pl_data, s->sip_payload->pl_len, &desc, err,
	                    sizeof(err));
	if (rc != 0 && rc != EINVAL && rc != ENOTSUP) {
		fprintf(stderr, "fuzz_sip: sdp_parse_desc returned %d\n", rc);
		abort();
	}
}

static void read_sip(const sip_t *s)
{
	if (s->sip_request) {
		read_str(s->sip_request->rq_method_name);
		read_url(s->sip_request->rq_url);
	}
	if (s->sip_status)
		sink += (size_t)s->sip_status->st_status;
	if (s->sip_from)
		read_url(s->sip_from->a_url);
	if (s->sip_to)
		read_url(s->sip_to->a_url);
	if (sip_p_asserted_identity(s))
		read_url(sip_p_asserted_identity(s)->paid_url);
	if (s->sip_call_id)
		read_str(s->sip_call_id->i_id);
	read_auth(s->sip_www_authenticate);
	read_auth(s->sip_proxy_authenticate);
	if (s->sip_content_type)
		read_str(s->sip_content_type->c_type);
	read_body(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static msg_mclass_t const *mclass;
	msg_t *m;
	void *buf;

	/* nta parses with the extended class (P-Asserted-Identity & co). */
	if (!mclass)
		mclass = sip_extend_mclass(NULL);
	if (size > 65536)
		return 0; /* larger than any UDP datagram tport accepts */
	m = msg_create(mclass, 0);
	if (!m)
		return 0;
	buf = msg_buf_alloc(m, size + 1);
	if (buf) {
		memcpy(buf, data, size);
		msg_buf_commit(m, size, 1);
		if (msg_extract(m) > 0 && sip_object(m))
			read_sip(sip_object(m));
	}
	msg_destroy(m);
	return 0;
}
