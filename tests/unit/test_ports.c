/* Unit tests for media/ports.c: even RTP ports in FIFO order, ENOSPC on
 * exhaustion, quarantine before reuse, and binding real sockets past ports
 * someone else holds. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "media/media.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void test_order_even(void **state)
{
	struct media_ports *p;
	struct media_ports_stats st;
	uint16_t port;

	(void)state;
	/* Odd start rounds up; the last port 30009 cannot start a pair. */
	assert_int_equal(media_ports_new(&p, 30001, 30009, 50), 0);
	media_ports_get_stats(p, &st);
	assert_int_equal(st.pairs, 4);
	for (uint16_t want = 30002; want <= 30008; want += 2) {
		assert_int_equal(media_ports_alloc(p, &port), 0);
		assert_int_equal(port, want);
	}
	media_ports_free(p);
	assert_int_equal(media_ports_new(&p, 30001, 30001, 50), EINVAL);
	assert_int_equal(media_ports_new(&p, 30010, 30000, 50), EINVAL);
}

static void test_exhaustion(void **state)
{
	struct media_ports *p;
	struct media_ports_stats st;
	uint16_t a, b, c;

	(void)state;
	assert_int_equal(media_ports_new(&p, 30000, 30003, 50), 0);
	assert_int_equal(media_ports_alloc(p, &a), 0);
	assert_int_equal(media_ports_alloc(p, &b), 0);
	assert_int_equal(media_ports_alloc(p, &c), ENOSPC);
	assert_int_equal(media_ports_alloc(p, &c), ENOSPC);
	media_ports_get_stats(p, &st);
	assert_int_equal(st.exhausted, 2);
	assert_int_equal(st.free, 0);
	media_ports_free(p);
}

static void test_quarantine(void **state)
{
	struct media_ports *p;
	struct media_ports_stats st;
	uint16_t a, b, c;

	(void)state;
	assert_int_equal(media_ports_new(&p, 30000, 30003, 50), 0);
	assert_int_equal(media_ports_alloc(p, &a), 0);
	assert_int_equal(media_ports_alloc(p, &b), 0);
	media_ports_release(p, a);
	/* Released but quarantined: not handed out yet. */
	assert_int_equal(media_ports_alloc(p, &c), ENOSPC);
	media_ports_get_stats(p, &st);
	assert_int_equal(st.quarantined, 1);
	sleep_ms(80);
	assert_int_equal(media_ports_alloc(p, &c), 0);
	assert_int_equal(c, a);
	media_ports_free(p);
}

static void test_reuse_fifo(void **state)
{
	struct media_ports *p;
	uint16_t a, b, c, d;

	(void)state;
	assert_int_equal(media_ports_new(&p, 30000, 30007, 50), 0);
	assert_int_equal(media_ports_alloc(p, &a), 0); /* 30000 */
	assert_int_equal(media_ports_alloc(p, &b), 0); /* 30002 */
	media_ports_release(p, b);
	media_ports_release(p, a);
	sleep_ms(80);
	/* Never-used pairs first, then released ones in release order. */
	assert_int_equal(media_ports_alloc(p, &c), 0);
	assert_int_equal(c, 30004);
	assert_int_equal(media_ports_alloc(p, &c), 0);
	assert_int_equal(c, 30006);
	assert_int_equal(media_ports_alloc(p, &c), 0);
	assert_int_equal(c, b);
	assert_int_equal(media_ports_alloc(p, &d), 0);
	assert_int_equal(d, a);
	/* A double release is refused, not queued twice. */
	media_ports_release(p, d);
	media_ports_release(p, d);
	sleep_ms(80);
	assert_int_equal(media_ports_alloc(p, &c), 0);
	assert_int_equal(media_ports_alloc(p, &c), ENOSPC);
	media_ports_free(p);
}

/* Bind a UDP socket on 127.0.0.1:port, or -1. */
static int hold_port(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void test_bind_skips_busy(void **state)
{
	struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
	struct media_port_pair pair;
	struct media_ports *p;
	int held = -1;
	uint16_t base = 0;

	(void)state;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	/* A range whose first RTCP port we hold ourselves; retry elsewhere
	 * when some other process has the range. */
	for (int tries = 0; tries < 50 && held < 0; tries++) {
		base = (uint16_t)(20000 + 2 * (rand() % 20000));
		held = hold_port((uint16_t)(base + 1));
	}
	assert_true(held >= 0);
	assert_int_equal(media_ports_new(&p, base, (uint16_t)(base + 5), 50), 0);
	assert_int_equal(media_ports_bind(p, lo, &pair), 0);
	assert_int_not_equal(pair.rtp_port, base);
	assert_int_equal(pair.rtp_port % 2, 0);
	assert_int_equal(pair.rtcp_port, pair.rtp_port + 1);
	assert_true(pair.rtp_fd >= 0 && pair.rtcp_fd >= 0);
	media_ports_unbind(p, &pair);
	assert_int_equal(pair.rtp_fd, -1);
	media_ports_free(p);
	close(held);
}

/* A range whose every port someone else holds: ENOSPC, counted as
 * exhausted like a range whose pairs are all in use, every pair tried once
 * and quarantined. */
static void test_bind_all_busy_counts_exhausted(void **state)
{
	struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
	struct media_port_pair pair = {.rtp_fd = -1, .rtcp_fd = -1};
	struct media_ports_stats st;
	struct media_ports *p;
	int held[4] = {-1, -1, -1, -1};
	uint16_t base = 0;
	bool ok = false;

	(void)state;
	srand((unsigned)time(NULL) ^ (unsigned)getpid() ^ 0x5a5a);
	for (int tries = 0; tries < 50 && !ok; tries++) {
		base = (uint16_t)(20000 + 2 * (rand() % 20000));
		ok = true;
		for (int i = 0; i < 4; i++) {
			held[i] = hold_port((uint16_t)(base + i));
			ok = ok && held[i] >= 0;
		}
		for (int i = 0; !ok && i < 4; i++) {
			if (held[i] >= 0)
				close(held[i]);
			held[i] = -1;
		}
	}
	assert_true(ok);
	assert_int_equal(media_ports_new(&p, base, (uint16_t)(base + 3), 60000), 0);
	assert_int_equal(media_ports_bind(p, lo, &pair), ENOSPC);
	assert_int_equal(pair.rtp_fd, -1);
	media_ports_get_stats(p, &st);
	assert_int_equal(st.pairs, 2);
	assert_int_equal(st.exhausted, 1);
	assert_int_equal(st.quarantined, 2);
	assert_int_equal(st.free, 0);
	/* the next refusal is counted once too (alloc finds none free) */
	assert_int_equal(media_ports_bind(p, lo, &pair), ENOSPC);
	media_ports_get_stats(p, &st);
	assert_int_equal(st.exhausted, 2);
	media_ports_free(p);
	for (int i = 0; i < 4; i++)
		close(held[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_even),
	    cmocka_unit_test(test_exhaustion),
	    cmocka_unit_test(test_quarantine),
	    cmocka_unit_test(test_reuse_fifo),
	    cmocka_unit_test(test_bind_skips_busy),
	    cmocka_unit_test(test_bind_all_busy_counts_exhausted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
