/* udp_peer: a test's RTP peer on 127.0.0.1 (an even port for RTP, the next
 * for RTCP, as the media engine assumes), for the media tests that drive
 * a session over real UDP sockets. Header-only, like fixture.h. */
#ifndef PB_TESTS_UDP_PEER_H
#define PB_TESTS_UDP_PEER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct peer {
	int rtp, rtcp;
	uint16_t port; /* rtp; rtcp is port + 1 */
};

static inline struct sockaddr_in addr_of(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static inline int bind_port(uint16_t port)
{
	struct sockaddr_in sa = addr_of(port);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static inline uint16_t random_even_port(void)
{
	return (uint16_t)(20000 + 2 * (rand() % 20000));
}

static inline void peer_open(struct peer *p)
{
	for (int tries = 0; tries < 100; tries++) {
		p->port = random_even_port();
		p->rtp = bind_port(p->port);
		if (p->rtp < 0)
			continue;
		p->rtcp = bind_port((uint16_t)(p->port + 1));
		if (p->rtcp >= 0)
			return;
		close(p->rtp);
	}
	fail_msg("no free port pair for a test peer");
}

static inline void peer_close(struct peer *p)
{
	close(p->rtp);
	close(p->rtcp);
}

#endif
