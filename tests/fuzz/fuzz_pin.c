/* fuzz_pin: PIN collection (core/pin_collect.c) over any sequence of keys
 * and routes, against a VN whose PINs come from the input too: whatever
 * arrives, the collector never holds more than STORE_PIN_MAX digits, holds
 * only digits, completes exactly when the rules say, and locks the first
 * route. Also the brute-force guard over the same keys as failures. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPINS 4

struct vn_pins {
	char pin[NPINS][STORE_PIN_MAX + 1];
};

static enum route_pin_state match(void *arg, const char *digits)
{
	const struct vn_pins *v = arg;
	size_t n = strlen(digits);
	enum route_pin_state st = ROUTE_PIN_NONE;

	for (int i = 0; i < NPINS; i++) {
		if (!v->pin[i][0])
			continue;
		if (strcmp(v->pin[i], digits) == 0)
			return ROUTE_PIN_COMPLETE;
		if (strncmp(v->pin[i], digits, n) == 0)
			st = ROUTE_PIN_PREFIX;
	}
	return st;
}

static void check(const struct pin_collect *pc)
{
	if (pc->n > STORE_PIN_MAX || strlen(pc->digits) != pc->n)
		abort();
	for (unsigned i = 0; i < pc->n; i++)
		if (pc->digits[i] < '0' || pc->digits[i] > '9')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char keys[] = "0123456789*#ABCDx";
	struct vn_pins v = {0};
	struct pin_collect pc = {0};
	struct pin_guard *g;
	struct pin_guard_cfg gc = {.after = 3, .window_ms = 1000, .lock_ms = 500};
	size_t i = 0;

	/* The first bytes name up to four PINs of 1-9 digits. */
	for (int p = 0; p < NPINS && i < size; p++) {
		size_t len = 1 + data[i++] % STORE_PIN_MAX;

		for (size_t k = 0; k < len && i < size; k++)
			v.pin[p][k] = (char)('0' + data[i++] % 10);
	}
	if (pin_guard_new(&g))
		return 0;
	for (int64_t now = 0; i < size; i++, now += 37) {
		char key = keys[data[i] % (sizeof(keys) - 1)];
		enum pin_route r = (enum pin_route)((data[i] >> 5) % 4);
		enum pin_route locked = pc.route;
		enum pin_feed f = pin_collect_feed(&pc, key, r, match, &v);

		check(&pc);
		if (locked != PIN_ROUTE_NONE && r != locked && f != PIN_FEED_IGNORED)
			abort(); /* another route got through the lock */
		if (f == PIN_FEED_COMPLETE) {
			pin_guard_fail(g, &gc, "+911234567890", pc.digits, now);
			pin_collect_reset(&pc);
		}
		(void)pin_guard_locked(g, "+911234567890", pc.digits, now);
	}
	pin_guard_free(g);
	return 0;
}
