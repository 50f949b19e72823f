/* RTP generator and sink for the concurrency benchmark (issue 6).
 *
 *   rtpgen [-srtp] SECONDS FLOWS_FILE
 *
 * FLOWS_FILE has one flow a line: "LOCAL_IP LOCAL_PORT DEST_IP DEST_PORT",
 * with -srtp followed by "OUT_KEY IN_KEY" (see "SRTP" below).
 * Each flow sends 20 ms G.711 (12-byte RTP header + 160 bytes of payload =
 * 172 bytes, 50 packets/s, PT 0) from LOCAL_IP:LOCAL_PORT to DEST for
 * SECONDS. Flows with the same local address share one socket (the
 * concurrency benchmark gives every call's SDP the same port on each side,
 * so sends batch into one sendmmsg and arrivals into one recvmmsg: the
 * generator then costs far less CPU than one socket per call would, and a
 * 2-core machine has some left for the relay under test). Flows start
 * staggered over one 20 ms period. The payload carries a magic, the sending
 * flow's index, a sequence number and the send time, so whatever relays the
 * packets may rewrite the RTP header (pinbridge does) and loss and delay are
 * still measured per sending flow:
 *   loss    = sent - received (after a 1 s drain at the end),
 *   transit = arrival time - send time (same clock, same process),
 *   offered = packets sent / packets the schedule asked for (below 100 %
 *             when this process did not get the CPU it needed),
 *   jitter  = RFC 3550 interarrival jitter of the transit times per flow,
 *             i.e. the jitter the relay (and this machine) added, since the
 *             send times are taken from the packets, not the schedule.
 * sink_overflow counts datagrams the kernel dropped on these sockets
 * (SO_RXQ_OVFL): loss there is the sink's, not the relay's.
 * Sending uses sendmmsg, receiving recvmmsg, one epoll loop, one thread.
 * Prints one line "BENCH key=value ...".
 *
 * SRTP (-srtp): every packet is protected (AES_CM_128_HMAC_SHA1_80, 182
 * bytes on the wire) with the flow's OUT_KEY before it is sent, and what
 * arrives is unprotected with the IN_KEY of the flow whose DEST is the
 * packet's source (the relay's port for that leg of that call sends what it
 * relays into the leg, under the key it gave that leg): the payload is
 * encrypted, so the source is all there is to go by. Keys are SDES inline
 * values (base64 of 30 bytes: master key and salt). Each flow has its own
 * inbound srtp_t (ssrc_any_inbound); flows with the same OUT_KEY share one
 * outbound srtp_t (ssrc_any_outbound: a stream per SSRC, all on the one
 * key's cipher contexts), which halves the keys this process holds (see
 * below).
 * Packets that fail to unprotect are counted (srtp_failed), not received.
 * The protect and unprotect cost this process CPU (gen_cpu_s), and a
 * packet's transit includes the protect of that one packet.
 *
 * Debian's libsrtp2 runs on NSS, and each of its ciphers initialises NSS
 * with NSS_INIT_OPTIMIZESPACE: NSS's software token then keeps its objects
 * in small hash tables, and since libsrtp makes an NSS context from its key
 * for every packet, a protect or unprotect costs time linear in the number
 * of keys alive in the process (measured on a 2-vCPU VM, one protect plus
 * one unprotect: 5 us with 100 srtp_t, 40 us with 1,000, 90 us with 2,000,
 * 280 us with 4,000). NSS keeps the parameters of its first
 * initialisation, so this program initialises it first without that flag
 * (14, 22 and 35 us at 1,000, 2,000 and 4,000): the generator has as many
 * keys as the relay under test and should not be the one that runs out of
 * CPU. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nss.h>
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PKT      172
#define PTIME_NS 20000000LL
#define MAGIC    0x50424e48u /* "PBNH" */
#define BATCH    64
#define SBATCH   1024
#define HIST_US  1000000 /* transit histogram: 1 us buckets up to 1 s */
#define KEY_LEN  30      /* SRTP master key (16) and salt (14) */

struct sock {
	int fd;
	struct sockaddr_in local;
};

struct flow {
	int fd;
	struct sockaddr_in dst;
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	int64_t next; /* next send time, ns */
	uint64_t sent;
	/* what this flow sent that arrived anywhere */
	uint64_t rx;
	int64_t last_transit;
	double jitter; /* ns */
	int have_transit;
	/* -srtp only: protects what it sends (shared), unprotects what DEST sends */
	srtp_t out, in;
};

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static struct flow *flows;
static size_t nflows;
static struct sock socks[64]; /* distinct local addresses (flows may share one) */
static size_t nsocks;
static uint64_t rx_overflow; /* datagrams the kernel dropped on our sockets (SO_RXQ_OVFL) */

/* the socket bound to a (possibly shared) local address, or -1 */
static int sock_for(const struct sockaddr_in *a)
{
	for (size_t i = 0; i < nsocks; i++)
		if (socks[i].local.sin_addr.s_addr == a->sin_addr.s_addr &&
		    socks[i].local.sin_port == a->sin_port)
			return socks[i].fd;
	if (nsocks == sizeof socks / sizeof socks[0])
		return -1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), one = 1;
	int buf = 1 << 26; /* 64 MiB: a shared socket takes every flow's packets */
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)a, sizeof *a) != 0) {
		close(fd);
		return -1;
	}
	socks[nsocks].fd = fd;
	socks[nsocks].local = *a;
	nsocks++;
	return fd;
}
static uint32_t *hist;
static uint64_t hist_over, other, rx_total, send_errors, bind_failures;
static uint64_t srtp_failed; /* arrivals that did not unprotect */

/* -srtp: the flow each relay port (a flow's DEST_PORT) sends from, index + 1
 * (0: none); the relay under test is on one address */
static uint32_t *flow_by_src_port;

static int b64_value(int c)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(a, c) : NULL;
	return p ? (int)(p - a) : -1;
}

/* An SDES inline key (base64 of exactly KEY_LEN bytes) into key; 0 or -1. */
static int key_decode(const char *s, unsigned char key[KEY_LEN])
{
	size_t n = strlen(s), o = 0;
	if (n != (KEY_LEN + 2) / 3 * 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t w = 0;
		for (size_t j = 0; j < 4; j++) {
			int v = s[i + j] == '=' && i + 4 == n && j >= 2 ? 0 : b64_value(s[i + j]);
			if (v < 0)
				return -1;
			w = w << 6 | (uint32_t)v;
		}
		for (int j = 2; j >= 0 && o < KEY_LEN; j--)
			key[o++] = (unsigned char)(w >> (8 * j));
	}
	return 0;
}

/* an srtp_t for one direction of a flow; 0 or -1 */
static int srtp_make(srtp_t *s, const char *b64, srtp_ssrc_type_t dir)
{
	unsigned char key[KEY_LEN];
	srtp_policy_t p;
	if (key_decode(b64, key) != 0)
		return -1;
	memset(&p, 0, sizeof p);
	srtp_crypto_policy_set_rtp_default(&p.rtp); /* AES_CM_128_HMAC_SHA1_80 */
	srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	p.ssrc.type = dir;
	p.key = key;
	p.window_size = 128;
	return srtp_create(s, &p) == srtp_err_status_ok ? 0 : -1;
}

/* the outbound srtp_t for a key, shared by the flows sending under it */
static struct {
	char b64[64];
	srtp_t s;
} outs[64];
static size_t nouts;
static int srtp_out_for(srtp_t *s, const char *b64)
{
	for (size_t i = 0; i < nouts; i++)
		if (strcmp(outs[i].b64, b64) == 0) {
			*s = outs[i].s;
			return 0;
		}
	if (nouts == sizeof outs / sizeof outs[0] || srtp_make(s, b64, ssrc_any_outbound) != 0)
		return -1;
	snprintf(outs[nouts].b64, sizeof outs[nouts].b64, "%s", b64);
	outs[nouts++].s = *s;
	return 0;
}

static void got(const unsigned char *b, size_t len, int64_t t)
{
	uint32_t magic, idx;
	int64_t sent_at;
	if (len != PKT) {
		other++;
		return;
	}
	memcpy(&magic, b + 12, 4);
	memcpy(&idx, b + 16, 4);
	memcpy(&sent_at, b + 24, 8);
	if (magic != MAGIC || idx >= nflows) {
		other++;
		return;
	}
	rx_total++;
	struct flow *f = &flows[idx];
	f->rx++;
	int64_t transit = t - sent_at;
	int64_t us = transit / 1000;
	if (us >= 0 && us < HIST_US)
		hist[us]++;
	else
		hist_over++;
	if (f->have_transit) {
		double d = (double)(transit - f->last_transit);
		if (d < 0)
			d = -d;
		f->jitter += (d - f->jitter) / 16.0;
	}
	f->last_transit = transit;
	f->have_transit = 1;
}

/* -srtp: unprotect with the key of the flow the source port belongs to */
static void got_srtp(unsigned char *b, unsigned len, const struct sockaddr_in *src, int64_t t)
{
	uint32_t k = flow_by_src_port[ntohs(src->sin_port)];
	struct flow *f = k ? &flows[k - 1] : NULL;
	int n = (int)len;
	if (!f || f->dst.sin_addr.s_addr != src->sin_addr.s_addr) {
		other++;
		return;
	}
	if (srtp_unprotect(f->in, b, &n) != srtp_err_status_ok) {
		srtp_failed++;
		return;
	}
	got(b, (size_t)n, t);
}

/* SO_RXQ_OVFL reports a socket's cumulative drop count */
static uint32_t ovfl_last[64];
static void ovfl_note(int fd, uint32_t d)
{
	for (size_t i = 0; i < nsocks; i++)
		if (socks[i].fd == fd && d > ovfl_last[i]) {
			rx_overflow += d - ovfl_last[i];
			ovfl_last[i] = d;
		}
}

static double pct_us(uint64_t n, double p)
{
	uint64_t want = (uint64_t)(p / 100.0 * (double)n + 0.5), acc = 0;
	if (want == 0)
		want = 1;
	for (uint32_t i = 0; i < HIST_US; i++) {
		acc += hist[i];
		if (acc >= want)
			return i;
	}
	return HIST_US;
}

int main(int argc, char **argv)
{
	int use_srtp = argc == 4 && strcmp(argv[1], "-srtp") == 0;
	if (argc != 3 + use_srtp) {
		fprintf(stderr, "usage: rtpgen [-srtp] SECONDS FLOWS_FILE\n");
		return 2;
	}
	argv += use_srtp;
	double secs = atof(argv[1]);
	FILE *in = fopen(argv[2], "r");
	if (!in) {
		perror(argv[2]);
		return 2;
	}
	if (use_srtp) {
		flow_by_src_port = calloc(65536, sizeof *flow_by_src_port);
		/* before libsrtp's own NSS_InitContext: see the top */
		if (!NSS_InitContext("", "", "", "", NULL,
		                     NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB |
		                         NSS_INIT_FORCEOPEN | NSS_INIT_NOROOTINIT))
			fprintf(stderr,
			        "rtpgen: NSS_InitContext failed (libsrtp will set NSS up)\n");
		if (srtp_init() != srtp_err_status_ok) {
			fprintf(stderr, "rtpgen: srtp_init failed\n");
			return 2;
		}
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	size_t cap = 1024;
	flows = calloc(cap, sizeof *flows);
	hist = calloc(HIST_US, sizeof *hist);
	int ep = epoll_create1(0);
	char lip[64], dip[64], okey[64], ikey[64];
	unsigned lport, dport;
	while (fscanf(in, "%63s %u %63s %u", lip, &lport, dip, &dport) == 4) {
		if (use_srtp && fscanf(in, "%63s %63s", okey, ikey) != 2) {
			fprintf(stderr, "rtpgen: line %zu has no keys\n", nflows + 1);
			return 2;
		}
		if (nflows == cap) {
			cap *= 2;
			flows = realloc(flows, cap * sizeof *flows);
		}
		struct flow *f = &flows[nflows];
		memset(f, 0, sizeof *f);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
		if (inet_pton(AF_INET, lip, &a.sin_addr) != 1 ||
		    inet_pton(AF_INET, dip, &f->dst.sin_addr) != 1) {
			fprintf(stderr, "rtpgen: bad address in line %zu\n", nflows + 1);
			return 2;
		}
		f->dst.sin_family = AF_INET;
		f->dst.sin_port = htons((uint16_t)dport);
		size_t before = nsocks;
		f->fd = sock_for(&a);
		if (f->fd < 0) {
			/* someone else on this machine holds the port: skip the flow
			 * (counted), the others still say something */
			fprintf(stderr, "rtpgen: bind %s:%u: %s (flow skipped)\n", lip, lport,
			        strerror(errno));
			bind_failures++;
			continue;
		}
		if (nsocks > before) {
			struct epoll_event ev = {.events = EPOLLIN, .data.fd = f->fd};
			epoll_ctl(ep, EPOLL_CTL_ADD, f->fd, &ev);
		}
		f->ssrc = (uint32_t)random();
		f->seq = (uint16_t)random();
		f->ts = (uint32_t)random();
		if (use_srtp) {
			if (srtp_out_for(&f->out, okey) != 0 ||
			    srtp_make(&f->in, ikey, ssrc_any_inbound) != 0) {
				fprintf(stderr, "rtpgen: bad key in line %zu\n", nflows + 1);
				return 2;
			}
			if (flow_by_src_port[dport])
				fprintf(stderr, "rtpgen: two flows send to port %u\n", dport);
			flow_by_src_port[dport] = (uint32_t)nflows + 1;
		}
		nflows++;
	}
	fclose(in);
	if (nflows == 0) {
		fprintf(stderr, "rtpgen: no flows\n");
		return 2;
	}
	int64_t t0 = now_ns() + 10000000LL;
	for (size_t i = 0; i < nflows; i++)
		flows[i].next = t0 + (int64_t)((double)PTIME_NS * (double)i / (double)nflows);
	int64_t stop = t0 + (int64_t)(secs * 1e9), end = stop + 1000000000LL;

	static unsigned char rbuf[BATCH][2048];
	static char rctl[BATCH][CMSG_SPACE(sizeof(uint32_t))];
	static struct sockaddr_in rsrc[BATCH];
	static struct mmsghdr rmsg[BATCH];
	static struct iovec riov[BATCH];
	/* sends of one pass, batched per socket */
	static struct mmsghdr smsg[SBATCH];
	static struct iovec siov[SBATCH];
	static unsigned char spkt[SBATCH][PKT + SRTP_MAX_TRAILER_LEN];
	static struct flow *sflow[SBATCH];
	memset(spkt, 0xff, sizeof spkt); /* PCMU silence */
	struct epoll_event evs[1024];
	size_t cursor = 0; /* flows are due in index order within a period */
	for (;;) {
		int64_t t = now_ns();
		if (t >= end)
			break;
		/* send everything due */
		if (t < stop) {
			size_t ns = 0;
			for (size_t k = 0; k < nflows && ns < SBATCH; k++) {
				struct flow *f = &flows[cursor];
				if (f->next > t)
					break;
				unsigned char *pkt = spkt[ns];
				pkt[0] = 0x80;
				pkt[1] = 0;
				uint16_t s = htons(f->seq);
				uint32_t ts = htonl(f->ts), ss = htonl(f->ssrc), m = MAGIC,
				         idx = (uint32_t)cursor;
				memcpy(pkt + 2, &s, 2);
				memcpy(pkt + 4, &ts, 4);
				memcpy(pkt + 8, &ss, 4);
				memcpy(pkt + 12, &m, 4);
				memcpy(pkt + 16, &idx, 4);
				uint32_t sq = (uint32_t)f->sent;
				memcpy(pkt + 20, &sq, 4);
				int64_t st = now_ns();
				memcpy(pkt + 24, &st, 8);
				int len = PKT;
				if (use_srtp &&
				    srtp_protect(f->out, pkt, &len) != srtp_err_status_ok) {
					send_errors++; /* not sent, so neither sent nor lost */
					f->seq++;
					f->ts += 160;
					f->next += PTIME_NS;
					cursor = (cursor + 1) % nflows;
					continue;
				}
				siov[ns] = (struct iovec){.iov_base = pkt, .iov_len = (size_t)len};
				smsg[ns].msg_hdr = (struct msghdr){.msg_name = &f->dst,
				                                   .msg_namelen = sizeof f->dst,
				                                   .msg_iov = &siov[ns],
				                                   .msg_iovlen = 1};
				sflow[ns++] = f;
				f->seq++;
				f->ts += 160;
				f->next += PTIME_NS;
				cursor = (cursor + 1) % nflows;
			}
			/* one sendmmsg per run of flows on the same socket */
			for (size_t i = 0; i < ns;) {
				size_t j = i;
				while (j < ns && sflow[j]->fd == sflow[i]->fd)
					j++;
				size_t off = i;
				while (off < j) {
					int w = sendmmsg(sflow[i]->fd, &smsg[off],
					                 (unsigned)(j - off), 0);
					if (w <= 0) {
						send_errors += j - off;
						break;
					}
					for (int q = 0; q < w; q++)
						sflow[off + (size_t)q]->sent++;
					off += (size_t)w;
				}
				i = j;
			}
		}
		int64_t wait_ns = (t < stop ? flows[cursor].next : end) - now_ns();
		/* rounded up: flows fall due every few microseconds, and waking for
		 * each would spin; a pass sends up to 1 ms of them in one batch
		 * (transit is measured from the actual send time, so the lag does
		 * not show as jitter) */
		int timeout = wait_ns <= 0 ? 0 : (int)((wait_ns + 999999) / 1000000);
		int n = epoll_wait(ep, evs, 1024, timeout);
		int64_t at = now_ns();
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, r;
			do {
				for (int j = 0; j < BATCH; j++) {
					riov[j] = (struct iovec){.iov_base = rbuf[j],
					                         .iov_len = sizeof rbuf[j]};
					rmsg[j].msg_hdr =
					    (struct msghdr){.msg_name = &rsrc[j],
					                    .msg_namelen = sizeof rsrc[j],
					                    .msg_iov = &riov[j],
					                    .msg_iovlen = 1,
					                    .msg_control = rctl[j],
					                    .msg_controllen = sizeof rctl[j]};
				}
				r = recvmmsg(fd, rmsg, BATCH, MSG_DONTWAIT, NULL);
				for (int j = 0; j < r; j++) {
					if (use_srtp)
						got_srtp(rbuf[j], rmsg[j].msg_len, &rsrc[j], at);
					else
						got(rbuf[j], rmsg[j].msg_len, at);
					struct cmsghdr *c = CMSG_FIRSTHDR(&rmsg[j].msg_hdr);
					for (; c; c = CMSG_NXTHDR(&rmsg[j].msg_hdr, c))
						if (c->cmsg_level == SOL_SOCKET &&
						    c->cmsg_type == SO_RXQ_OVFL) {
							uint32_t d;
							memcpy(&d, CMSG_DATA(c), sizeof d);
							ovfl_note(fd, d);
						}
				}
			} while (r == BATCH);
		}
	}
	uint64_t sent = 0, rx = 0, zero = 0;
	double jsum = 0, jmax = 0;
	size_t jn = 0;
	for (size_t i = 0; i < nflows; i++) {
		sent += flows[i].sent;
		rx += flows[i].rx;
		if (flows[i].rx == 0)
			zero++;
		if (flows[i].have_transit) {
			jsum += flows[i].jitter;
			if (flows[i].jitter > jmax)
				jmax = flows[i].jitter;
			jn++;
		}
	}
	uint64_t lost = sent > rx ? sent - rx : 0;
	/* what the schedule asked for; less sent means this generator did not
	 * get the CPU it needed (a shared machine), not that the relay failed */
	double expected = (double)nflows * secs * 1e9 / (double)PTIME_NS;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double self_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("BENCH flows=%zu seconds=%.1f sent=%llu received=%llu lost=%llu loss_pct=%.4f "
	       "rx_pps=%.0f silent_flows=%llu other=%llu send_errors=%llu jitter_mean_us=%.1f "
	       "jitter_max_us=%.1f transit_p50_us=%.0f transit_p99_us=%.0f transit_over_1s=%llu "
	       "offered_pct=%.1f bind_failures=%llu gen_cpu_s=%.1f sink_overflow=%llu sockets=%zu "
	       "srtp=%d srtp_failed=%llu\n",
	       nflows, secs, (unsigned long long)sent, (unsigned long long)rx,
	       (unsigned long long)lost, sent ? 100.0 * (double)lost / (double)sent : 0.0,
	       (double)rx / secs, (unsigned long long)zero, (unsigned long long)other,
	       (unsigned long long)send_errors, jn ? jsum / (double)jn / 1000.0 : 0.0,
	       jmax / 1000.0, pct_us(rx_total, 50), pct_us(rx_total, 99),
	       (unsigned long long)hist_over, 100.0 * (double)sent / expected,
	       (unsigned long long)bind_failures, self_cpu, (unsigned long long)rx_overflow, nsocks,
	       use_srtp, (unsigned long long)srtp_failed);
	return 0;
}
