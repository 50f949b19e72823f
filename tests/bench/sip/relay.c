/* Baseline for the concurrency benchmark: the least a userspace RTP relay
 * must do. One thread, one epoll loop, recvmmsg/sendmmsg, no header rewriting.
 *
 *   relay SECONDS PAIRS_FILE
 *
 * PAIRS_FILE: one call a line, "IP PORT_A DEST_A_IP DEST_A_PORT PORT_B
 * DEST_B_IP DEST_B_PORT": what arrives on IP:PORT_A goes out of IP:PORT_B to
 * DEST_B, what arrives on IP:PORT_B goes out of IP:PORT_A to DEST_A. Runs
 * for SECONDS, then prints "BENCH relayed=N". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 32

struct side {
	int fd;
	struct sockaddr_in to; /* where the other side's packets go out to */
	int peer;              /* index of the other side */
};

static int sock(const char *ip, unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), buf = 1 << 20;
	inet_pton(AF_INET, ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		fprintf(stderr, "relay: cannot bind %s:%u\n", ip, port);
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: relay SECONDS PAIRS_FILE\n"), 2;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rl.rlim_cur = rl.rlim_max))
		setrlimit(RLIMIT_NOFILE, &rl);
	FILE *in = fopen(argv[2], "r");
	if (!in)
		return perror(argv[2]), 2;
	size_t n = 0, cap = 1024;
	struct side *s = calloc(cap, sizeof *s);
	char ip[64], da[64], db[64];
	unsigned pa, dpa, pb, dpb;
	int ep = epoll_create1(0);
	while (fscanf(in, "%63s %u %63s %u %u %63s %u", ip, &pa, da, &dpa, &pb, db, &dpb) == 7) {
		if (n + 2 > cap)
			s = realloc(s, (cap *= 2) * sizeof *s);
		struct side *a = &s[n], *b = &s[n + 1];
		a->fd = sock(ip, pa);
		b->fd = sock(ip, pb);
		a->peer = (int)n + 1;
		b->peer = (int)n;
		a->to =
		    (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)dpa)};
		b->to =
		    (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)dpb)};
		inet_pton(AF_INET, da, &a->to.sin_addr);
		inet_pton(AF_INET, db, &b->to.sin_addr);
		for (size_t k = n; k < n + 2; k++) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = k};
			epoll_ctl(ep, EPOLL_CTL_ADD, s[k].fd, &ev);
		}
		n += 2;
	}
	static char buf[BATCH][2048];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct epoll_event evs[1024];
	unsigned long long relayed = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >
		    atof(argv[1]))
			break;
		int ne = epoll_wait(ep, evs, 1024, 100);
		for (int i = 0; i < ne; i++) {
			struct side *from = &s[evs[i].data.u64], *out = &s[from->peer];
			for (int j = 0; j < BATCH; j++) {
				iov[j] =
				    (struct iovec){.iov_base = buf[j], .iov_len = sizeof buf[j]};
				m[j].msg_hdr = (struct msghdr){.msg_iov = &iov[j], .msg_iovlen = 1};
			}
			int r = recvmmsg(from->fd, m, BATCH, MSG_DONTWAIT, NULL);
			if (r <= 0)
				continue;
			for (int j = 0; j < r; j++) {
				iov[j].iov_len = m[j].msg_len;
				m[j].msg_hdr = (struct msghdr){.msg_name = &out->to,
				                               .msg_namelen = sizeof out->to,
				                               .msg_iov = &iov[j],
				                               .msg_iovlen = 1};
			}
			int w = sendmmsg(out->fd, m, (unsigned)r, 0);
			if (w > 0)
				relayed += (unsigned long long)w;
		}
	}
	printf("BENCH relayed=%llu\n", relayed);
	return 0;
}
