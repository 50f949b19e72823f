/* store_keys: the byte layout of every index key. Each field is fixed-width
 * or length-prefixed, so one byte string has exactly one reading and no two
 * field combinations collide; times sort numerically. */
#include "store/store_int.h"

#include <errno.h>
#include <string.h>

int key_num16(uint8_t out[KEY_NUM_LEN], const char *num)
{
	size_t n = strnlen(num, KEY_NUM_LEN + 1);

	if (n == 0 || n > KEY_NUM_LEN)
		return EINVAL;
	memset(out, 0, KEY_NUM_LEN);
	memcpy(out, num, n);
	return 0;
}

size_t key_lp(uint8_t *p, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max || n > 255)
		return 0;
	p[0] = (uint8_t)n;
	memcpy(p + 1, s, n);
	return n + 1;
}

void key_be64(uint8_t out[8], int64_t v)
{
	uint64_t u = (uint64_t)v ^ (UINT64_C(1) << 63);

	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)u;
		u >>= 8;
	}
}

int64_t key_get_be64(const uint8_t in[8])
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u = (u << 8) | in[i];
	return (int64_t)(u ^ (UINT64_C(1) << 63));
}

void key_u64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t key_get_u64(const uint8_t in[8])
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u = (u << 8) | in[i];
	return u;
}

size_t key_bytenant_prefix(uint8_t *k, const char *tenant)
{
	return key_lp(k, tenant, STORE_TENANT_MAX);
}

size_t key_bytenant(uint8_t *k, const char *tenant, int64_t created_ms,
                    const uint8_t id[STORE_ID_LEN])
{
	size_t n = key_lp(k, tenant, STORE_TENANT_MAX);

	if (n == 0)
		return 0;
	key_be64(k + n, created_ms);
	memcpy(k + n + 8, id, STORE_ID_LEN);
	return n + 8 + STORE_ID_LEN;
}

size_t key_txn(uint8_t *k, const char *tenant, const char *txn_id)
{
	size_t n = key_lp(k, tenant, STORE_TENANT_MAX), m;

	if (n == 0)
		return 0;
	m = key_lp(k + n, txn_id, STORE_TXNID_MAX);
	return m ? n + m : 0;
}

size_t key_vnpin(uint8_t *k, const char *vn, const char *pin)
{
	size_t m;

	if (key_num16(k, vn) || pin[0] == '\0')
		return 0;
	m = key_lp(k + KEY_NUM_LEN, pin, STORE_PIN_MAX);
	return m ? KEY_NUM_LEN + m : 0;
}

size_t key_vnpin_prefix(uint8_t *k, const char *vn, const char *pin, size_t len)
{
	size_t have = strnlen(pin, STORE_PIN_MAX + 1);

	if (key_num16(k, vn) || len == 0 || len > STORE_PIN_MAX)
		return 0;
	if (have > len)
		have = len;
	k[KEY_NUM_LEN] = (uint8_t)len;
	memcpy(k + KEY_NUM_LEN + 1, pin, have);
	return KEY_NUM_LEN + 1 + have;
}

size_t key_vnnum(uint8_t *k, const char *vn, const char *num)
{
	if (key_num16(k, vn) || key_num16(k + KEY_NUM_LEN, num))
		return 0;
	return 2 * KEY_NUM_LEN;
}

size_t key_byvn(uint8_t *k, const char *vn, const uint8_t id[STORE_ID_LEN])
{
	if (key_num16(k, vn))
		return 0;
	memcpy(k + KEY_NUM_LEN, id, STORE_ID_LEN);
	return KEY_NUM_LEN + STORE_ID_LEN;
}

size_t key_expiry(uint8_t *k, int64_t at_ms, const uint8_t id[STORE_ID_LEN])
{
	key_be64(k, at_ms);
	memcpy(k + 8, id, STORE_ID_LEN);
	return 8 + STORE_ID_LEN;
}

/* meta keys start with a tag byte, so other kinds of meta can join later. */
size_t key_meta_active(uint8_t *k, const char *tenant)
{
	size_t n;

	k[0] = 'A';
	n = key_lp(k + 1, tenant, STORE_TENANT_MAX);
	return n ? n + 1 : 0;
}

size_t key_evtenant_prefix(uint8_t *k, const char *tenant, uint8_t state)
{
	size_t n;

	if (tenant[0] == '\0')
		return 0;
	n = key_lp(k, tenant, STORE_TENANT_MAX);
	if (n == 0)
		return 0;
	k[n] = state;
	return n + 1;
}

size_t key_evtenant(uint8_t *k, const char *tenant, uint8_t state, uint64_t seq)
{
	size_t n = key_evtenant_prefix(k, tenant, state);

	if (n == 0)
		return 0;
	key_u64(k + n, seq);
	return n + 8;
}

void key_evdue(uint8_t k[KEY_EVDUE_LEN], int64_t due_ms, uint64_t seq)
{
	key_be64(k, due_ms);
	key_u64(k + 8, seq);
}

size_t key_meta_evpending(uint8_t *k, const char *tenant)
{
	size_t n;

	k[0] = 'E';
	n = key_lp(k + 1, tenant, STORE_TENANT_MAX);
	return n ? n + 1 : 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase too: one sid, one spelling */
}

int key_sid16(uint8_t out[KEY_SID_LEN], const char *sid)
{
	if (strnlen(sid, STORE_SID_LEN + 1) != STORE_SID_LEN)
		return EINVAL;
	for (int i = 0; i < KEY_SID_LEN; i++) {
		int hi = hex_digit(sid[2 * i]), lo = hex_digit(sid[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

size_t key_calltenant(uint8_t *k, const char *tenant, int64_t started_ms,
                      const uint8_t sid[KEY_SID_LEN])
{
	size_t n = tenant[0] ? key_lp(k, tenant, STORE_TENANT_MAX) : 0;

	if (n == 0)
		return 0;
	key_be64(k + n, started_ms);
	memcpy(k + n + 8, sid, KEY_SID_LEN);
	return n + 8 + KEY_SID_LEN;
}

size_t key_callalloc(uint8_t *k, const uint8_t id[STORE_ID_LEN], int64_t started_ms,
                     const uint8_t sid[KEY_SID_LEN])
{
	memcpy(k, id, STORE_ID_LEN);
	key_be64(k + STORE_ID_LEN, started_ms);
	memcpy(k + STORE_ID_LEN + 8, sid, KEY_SID_LEN);
	return STORE_ID_LEN + 8 + KEY_SID_LEN;
}

void key_callat(uint8_t k[KEY_CALLAT_LEN], int64_t at_ms, const uint8_t sid[KEY_SID_LEN])
{
	key_be64(k, at_ms);
	memcpy(k + 8, sid, KEY_SID_LEN);
}

int key_vnpin_pin(const uint8_t *k, size_t len, char pin[STORE_PIN_MAX + 1])
{
	size_t n;

	if (len < KEY_NUM_LEN + 2)
		return EINVAL;
	n = k[KEY_NUM_LEN];
	if (n == 0 || n > STORE_PIN_MAX || len != KEY_NUM_LEN + 1 + n)
		return EINVAL;
	memcpy(pin, k + KEY_NUM_LEN + 1, n);
	pin[n] = '\0';
	return 0;
}

void val_vnpin(uint8_t v[VNPIN_VAL], const uint8_t id[STORE_ID_LEN], uint8_t side,
               int64_t cooling_until_ms)
{
	memcpy(v, id, STORE_ID_LEN);
	v[STORE_ID_LEN] = side;
	key_be64(v + STORE_ID_LEN + 1, cooling_until_ms);
}
