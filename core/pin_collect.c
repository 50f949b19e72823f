/* pin_collect: digits into a PIN (DESIGN §3 step 4 and "DTMF"): complete as
 * soon as they equal a PIN on the VN (PINs there are prefix-free), on '#',
 * or when full; '*' starts over; the first route to deliver a digit is the
 * only one heard for the rest of the call. Pure. */
#include "core/pin.h"

#include <string.h>

void pin_collect_reset(struct pin_collect *pc)
{
	pc->n = 0;
	memset(pc->digits, 0, sizeof(pc->digits));
}

static bool pad_key(char d)
{
	return (d >= '0' && d <= '9') || d == '*' || d == '#';
}

enum pin_feed pin_collect_feed(struct pin_collect *pc, char digit, enum pin_route route,
                               pin_match_fn match, void *arg)
{
	if (!pad_key(digit) || route == PIN_ROUTE_NONE)
		return PIN_FEED_IGNORED;
	if (pc->route == PIN_ROUTE_NONE)
		pc->route = route;
	else if (pc->route != route)
		return PIN_FEED_IGNORED;
	if (digit == '*') {
		pin_collect_reset(pc);
		return PIN_FEED_RESTART;
	}
	if (digit == '#')
		return PIN_FEED_COMPLETE;
	if (pc->n >= STORE_PIN_MAX)
		return PIN_FEED_COMPLETE;
	pc->digits[pc->n++] = digit;
	pc->digits[pc->n] = '\0';
	if (match && match(arg, pc->digits) == ROUTE_PIN_COMPLETE)
		return PIN_FEED_COMPLETE;
	return pc->n >= STORE_PIN_MAX ? PIN_FEED_COMPLETE : PIN_FEED_MORE;
}
