/* fuzz_dtmf: a peer's packets through DTMF collection as a media worker
 * runs it: RTP parsing and RFC 4733 digit tracking across a sequence of
 * packets, and the in-band detector (spandsp) over G.711 audio; plus the
 * whole input as a prompt WAV file. Digits must be DTMF characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"
#include "media/media_int.h"
#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_digit(char d)
{
	if (!d || !strchr("0123456789*#ABCD", d))
		abort();
}

/* One packet as RTP: a telephone-event packet goes to the tracker, an
 * audio one's payload to the detector. */
static void one_rtp(struct rtp_dtmf *t, struct media_dtmf_rx *rx, const uint8_t *p, size_t n,
                    enum media_codec codec)
{
	struct rtp_header h;
	char digits[MEDIA_DTMF_RX_MAX], d;
	size_t k;

	if (rtp_parse(p, n, &h))
		return;
	if (h.payload_off > n || h.payload_len > n - h.payload_off)
		abort();
	if (h.pt == 101) {
		if (rtp_dtmf_feed(t, &h, p + h.payload_off, &d) == 0 && d)
			check_digit(d);
		return;
	}
	k = media_dtmf_rx_g711(rx, codec, p + h.payload_off, h.payload_len, digits, sizeof(digits));
	for (size_t i = 0; i < k; i++)
		check_digit(digits[i]);
}

/* Raw bytes as one G.711 frame (no RTP header): the detector alone. */
static void one_frame(struct media_dtmf_rx *rx, const uint8_t *p, size_t n, enum media_codec codec)
{
	char digits[4];
	size_t k = media_dtmf_rx_g711(rx, codec, p, n, digits, sizeof(digits));

	if (k > sizeof(digits))
		abort();
	for (size_t i = 0; i < k; i++)
		check_digit(digits[i]);
}

static void one_wav(const uint8_t *data, size_t size)
{
	struct media_prompt *p = NULL;
	char err[128];

	if (media_prompt_from_wav(data, size, &p, err, sizeof(err)) == 0) {
		if (media_prompt_ms(p) > 300000)
			abort();
		media_prompt_free(p);
	} else if (p || !memchr(err, '\0', sizeof(err))) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One detector for the process (allocating per input would only
	 * test malloc); reset so that each input starts from silence. */
	static struct media_dtmf_rx *rx;
	struct rtp_dtmf t;

	if (!rx && media_dtmf_rx_new(&rx))
		abort();
	media_dtmf_rx_reset(rx);
	rtp_dtmf_init(&t);
	one_wav(data, size);
	/* The input as a sequence [len][flags][bytes]...: flags bit 0 says
	 * RTP packet (else a bare G.711 frame), bit 1 A-law (else mu-law). */
	while (size >= 2) {
		size_t n = data[0];
		uint8_t flags = data[1];
		enum media_codec codec = flags & 2 ? MEDIA_PCMA : MEDIA_PCMU;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		if (flags & 1)
			one_rtp(&t, rx, data, n, codec);
		else
			one_frame(rx, data, n, codec);
		data += n;
		size -= n;
	}
	return 0;
}
