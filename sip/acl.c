/* acl: trunks' allowed source blocks, matched against a packet's source
 * address in the 128-bit (IPv4-mapped) form config uses. */
#include "sip/sip_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"

static bool addr_128(const struct sockaddr *sa, uint8_t out[16])
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static bool cidr_has(const struct sip_cidr *c, const uint8_t a[16])
{
	int bits = c->prefix < 0 ? 0 : c->prefix > 128 ? 128 : c->prefix;
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(c->addr, a, (size_t)whole) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		return (c->addr[whole] & mask) == (a[whole] & mask);
	}
	return true;
}

const struct sip_trunk_acl *sip_acl_match(const struct sip *sip, const struct sockaddr *sa)
{
	uint8_t a[16];

	if (!addr_128(sa, a))
		return NULL;
	for (size_t t = 0; t < sip->acl.ntrunks; t++)
		for (size_t i = 0; i < sip->acl.trunks[t].nallow; i++)
			if (cidr_has(&sip->acl.trunks[t].allow[i], a))
				return &sip->acl.trunks[t];
	return NULL;
}

/* A refused source cannot be tied to one trunk, so the refusal is silent
 * only when every trunk asks for silence (no trunks: 403). */
bool sip_acl_all_silent(const struct sip *sip)
{
	for (size_t t = 0; t < sip->acl.ntrunks; t++)
		if (!sip->acl.trunks[t].silent_deny)
			return false;
	return sip->acl.ntrunks > 0;
}

struct acl_job {
	struct sip *sip;
	struct sip_opts acl;
};

static void acl_swap(void *arg)
{
	struct acl_job *j = arg;
	struct sip_opts old = j->sip->acl;

	j->sip->acl = j->acl;
	sip_opts_free(&old);
	log_info("sip", "trunk allow lists replaced: %zu trunks", j->sip->acl.ntrunks);
	free(j);
}

int sip_set_trunks(struct sip *sip, const struct sip_trunk_acl *trunks, size_t n)
{
	struct acl_job *j = calloc(1, sizeof(*j));
	int rc;

	if (!j)
		return ENOMEM;
	j->sip = sip;
	rc = sip_opts_copy(&j->acl, &(struct sip_opts){.trunks = trunks, .ntrunks = n});
	if (!rc)
		rc = sip_post(sip, acl_swap, j);
	if (rc) {
		sip_opts_free(&j->acl);
		free(j);
	}
	return rc;
}
