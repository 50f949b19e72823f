/* baseline_mhd: the API benchmark's upper bound for GET. A libmicrohttpd
 * server with the same threading as pinbridge's listener that answers every
 * request with one fixed JSON body (pinbridge's own GET response, read from a
 * file), so the ratio shows what auth, the store read and JSON cost.
 *
 * Flags as pinbridge's api/api.c: internal polling thread, epoll, a thread
 * pool of THREADS.
 *
 * Usage: baseline_mhd PORT THREADS BODY_FILE   (runs until SIGINT/SIGTERM) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

static struct MHD_Response *fixed;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	/* First call per request carries headers only; answer on the second
	 * like a real handler that may read a body. */
	if (*con_cls == NULL) {
		*con_cls = conn;
		return MHD_YES;
	}
	*upload_data_size = 0;
	return MHD_queue_response(conn, MHD_HTTP_OK, fixed);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct sigaction sa;
	size_t len = 0;
	char *body;
	int port, threads;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PORT THREADS BODY_FILE\n", argv[0]);
		return 2;
	}
	port = atoi(argv[1]);
	threads = atoi(argv[2]);
	body = read_file(argv[3], &len);
	if (body == NULL || port <= 0 || threads <= 0) {
		fprintf(stderr, "baseline_mhd: bad arguments or unreadable %s\n", argv[3]);
		return 2;
	}
	fixed = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(fixed, "Content-Type", "application/json");

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL,
	                     NULL, answer, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
	                     MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	                     MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "baseline_mhd: cannot listen on port %d\n", port);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("baseline_mhd: listening on 127.0.0.1:%d, %d threads, %zu-byte body\n", port,
	       threads, len);
	fflush(stdout);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	MHD_destroy_response(fixed);
	free(body);
	return 0;
}
