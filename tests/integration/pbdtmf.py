"""DTMF for the PIN tests (DESIGN §3 "DTMF", §6): the test keys digits
itself, by every route pinbridge must take, and checks its own generators
with small decoders so a failing PIN test points at pinbridge, not here.

- RFC 4733: send_rfc4733() sends one event per digit from an RtpPeer
  (pbcall): packets of growing duration with one timestamp, the marker on
  the first, then redundant end packets; the timestamp moves on between
  digits, so repeated digits ("1122") are separate events.
- In-band: tone_samples()/inband_frames() make DTMF tone pairs (80 ms tone,
  80 ms silence by default) as 20 ms G.711 frames; send_inband() paces them.
- A gateway: send_gateway() sends every digit both ways at once, the event
  packets interleaved with the tone's audio frames (one SSRC, one clock).
- SIP INFO and sip-tester's pcaps: SIPp scenarios generated from the
  templates tests/sipp/pin_uac_info.xml and pin_uac_pcap.xml (SIPp
  substitutes no -key inside attributes and cannot loop over a key's
  characters, DESIGN §7).
- Decoders: events_digits() (RFC 4733 packets -> digits) and
  inband_digits() (Goertzel over linear samples -> digits); audio_level()
  for "is this audio, not silence".
"""
import math
import os
import random
import re
import struct
import time

from pbcall import SIPP_DIR, decode, encode

KEYS = "0123456789*#ABCD"
ROWS = (697, 770, 852, 941)
COLS = (1209, 1336, 1477, 1633)
PAD = ("123A", "456B", "789C", "*0#D")
RATE = 8000
PCAP_DIR = "/usr/share/sip-tester"
# sip-tester's pcaps, in the order of their (fixed) RTP sequence numbers
# (DESIGN §6): only strictly ascending digits 1-9 make a valid stream.
PCAP_ORDER = "123456789*#0"
PCAP_NAMES = {d: "dtmf_2833_%s.pcap" % {"*": "star", "#": "pound"}.get(d, d) for d in PCAP_ORDER}


def event_code(key):
    """RFC 4733 event code of a key: 0-9, * = 10, # = 11, A-D = 12-15."""
    i = KEYS.find(str(key).upper())
    if i < 0:
        raise ValueError("not a DTMF key: %r" % (key,))
    return i


def key_of(code):
    return KEYS[code] if 0 <= code < len(KEYS) else "?"


def freqs(key):
    key = str(key).upper()
    for r, row in enumerate(PAD):
        c = row.find(key)
        if c >= 0:
            return ROWS[r], COLS[c]
    raise ValueError("not a DTMF key: %r" % (key,))


# --- RFC 4733 -------------------------------------------------------------------

def _advance(peer, samples):
    with peer.lock:
        peer.ts = (peer.ts + int(samples)) & 0xFFFFFFFF


def send_rfc4733(peer, pt, digits, gap=0.1, packets=5, ends=3, volume=10):
    """Keys digits as RFC 4733 events from peer (blocking): per digit
    `packets` packets 20 ms apart (durations 160, 320, ...; the marker on
    the first), `ends` end packets, then `gap` seconds of nothing while the
    media clock moves on. Returns the time the last end packet left."""
    last = None
    for i, d in enumerate(digits):
        if i:
            time.sleep(gap)
            _advance(peer, gap * RATE)
        peer.send_event(pt, event_code(d), packets=packets, ends=ends, volume=volume)
        last = time.monotonic()
    return last


def send_rfc4733_rough(peer, pt, digits, gap=0.1, volume=10):
    """Keys digits as RFC 4733 events the way a lossy network delivers
    them, by digit index: 0, 3, 6...: every packet twice; 1, 4...:
    neighbours swapped (sequence numbers tell the true order); 2, 5...: the
    first packet (the marker) lost. Each event: 5 packets 20 ms apart, then
    3 end packets. Blocking; returns the time the last packet left."""
    last = None
    for i, d in enumerate(digits):
        if i:
            time.sleep(gap)
            _advance(peer, gap * RATE)
        code = event_code(d)
        with peer.lock:
            start = peer.ts
            seq0 = peer.seq
            peer.seq = (peer.seq + 8) & 0xFFFF
        pkts = []
        for k in range(8):
            dur = 160 * min(k + 1, 5)
            end = 0x80 if k >= 5 else 0
            hdr = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | pt, (seq0 + k) & 0xFFFF,
                              start, peer.ssrc)
            pkts.append(hdr + struct.pack("!BBH", code, end | volume, dur))
        mode = i % 3
        if mode == 0:
            order = [p for p in pkts for _ in (0, 1)]
        elif mode == 1:
            order = [pkts[1], pkts[0], pkts[3], pkts[2], pkts[4], pkts[6], pkts[5], pkts[7]]
        else:
            order = pkts[1:]
        for j, raw in enumerate(order):
            try:
                peer.rtp.sendto(raw, peer.remote)
            except OSError:
                peer.send_errors += 1
            if j % (2 if mode == 0 else 1) == 0 and j < len(order) - 3:
                time.sleep(0.02)
        with peer.lock:
            peer.ts = (start + 800) & 0xFFFFFFFF
        last = time.monotonic()
    return last


def events_digits(packets, pt):
    """Digits an RFC 4733 receiver must report for packets (RtpPackets of
    payload type pt): one per event, an event being one (SSRC, timestamp);
    duplicates and end retransmissions count once."""
    seen = set()
    out = []
    for pk in sorted(packets, key=lambda p: p.t):
        if pk.pt != pt or len(pk.payload) < 4:
            continue
        ident = (pk.ssrc, pk.ts)
        if ident in seen:
            continue
        seen.add(ident)
        out.append(key_of(pk.event()[0]))
    return "".join(out)


# --- in-band --------------------------------------------------------------------

def tone_samples(key, ms, amp=7000, phase=0):
    """ms of the key's tone pair (each tone at amp, about -10 dBm0 for
    7000), as linear samples; phase: the sample index to start from."""
    f1, f2 = freqs(key)
    n = int(RATE * ms / 1000)
    return [int(amp * math.sin(2 * math.pi * f1 * (phase + i) / RATE) +
                amp * math.sin(2 * math.pi * f2 * (phase + i) / RATE)) for i in range(n)]


def inband_samples(digits, tone_ms=80, gap_ms=80, lead_ms=0, amp=7000):
    """Linear samples of digits keyed in-band: lead silence, then per digit
    tone_ms of its tone pair and gap_ms of silence."""
    out = [0] * int(RATE * lead_ms / 1000)
    for d in digits:
        out += tone_samples(d, tone_ms, amp, phase=len(out))
        out += [0] * int(RATE * gap_ms / 1000)
    return out


def frames_of(samples, pt, size=160):
    """Linear samples -> 20 ms G.711 frames in codec pt (the last padded
    with silence)."""
    samples = list(samples) + [0] * (-len(samples) % size)
    return [encode(pt, samples[i:i + size]) for i in range(0, len(samples), size)]


def inband_frames(digits, pt, tone_ms=80, gap_ms=80, lead_ms=0, amp=7000):
    return frames_of(inband_samples(digits, tone_ms, gap_ms, lead_ms, amp), pt)


def send_inband(peer, pt, digits, tone_ms=80, gap_ms=80, lead_ms=0, amp=7000, timeout=30):
    """Keys digits as tones in codec pt from peer, paced at 20 ms (blocking);
    returns the time the last frame left."""
    t = peer.send_frames(pt, inband_frames(digits, pt, tone_ms, gap_ms, lead_ms, amp))
    t.join(timeout)
    return time.monotonic()


def send_gateway(peer, audio_pt, event_pt, digits, tone_ms=80, gap_ms=80, ends=3, volume=10):
    """What a gateway that sends both does: per digit, tone_ms of tone in
    20 ms audio frames, each followed by an RFC 4733 packet of the same
    event (the event's timestamp = its first tone frame's, duration growing,
    marker on the first), `ends` end packets after the tone, then gap_ms of
    silence frames. One SSRC, one sequence, one media clock. Blocking;
    returns the time the last packet left."""
    step = 160
    nxt = time.monotonic()

    def tick():
        nonlocal nxt
        nxt += 0.02
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)

    phase = 0
    for d in digits:
        code = event_code(d)
        tone = frames_of(tone_samples(d, tone_ms, phase=phase), audio_pt, step)
        phase += len(tone) * step
        with peer.lock:
            start = peer.ts
        dur = 0
        for i, fr in enumerate(tone):
            with peer.lock:
                ts = peer.ts
            peer._send_one(audio_pt, fr, marker=False, ts=ts)
            dur += step
            peer._send_one(event_pt, struct.pack("!BBH", code, volume, dur), marker=(i == 0), ts=start)
            _advance(peer, step)
            tick()
        for _ in range(ends):
            peer._send_one(event_pt, struct.pack("!BBH", code, 0x80 | volume, dur), ts=start)
        for fr in frames_of([0] * int(RATE * gap_ms / 1000), audio_pt, step):
            with peer.lock:
                ts = peer.ts
            peer._send_one(audio_pt, fr, ts=ts)
            _advance(peer, step)
            tick()
    return time.monotonic()


def _goertzel(block, f):
    k = 2 * math.cos(2 * math.pi * f / RATE)
    s1 = s2 = 0.0
    for x in block:
        s1, s2 = x + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


def _detect(block):
    """The key whose tone pair fills block, or None."""
    energy = sum(x * x for x in block)
    if energy < len(block) * 300 ** 2:  # quieter than about -40 dBm0: silence
        return None
    n = len(block)
    rows = [2 * _goertzel(block, f) / n for f in ROWS]
    cols = [2 * _goertzel(block, f) / n for f in COLS]
    r = max(range(4), key=rows.__getitem__)
    c = max(range(4), key=cols.__getitem__)
    if (rows[r] + cols[c]) < 0.5 * energy:
        return None
    if any(i != r and rows[i] * 6 > rows[r] for i in range(4)):
        return None
    if any(i != c and cols[i] * 6 > cols[c] for i in range(4)):
        return None
    if not 0.16 < rows[r] / cols[c] < 6.3:  # twist within 8 dB
        return None
    return PAD[r][c]


def inband_digits(samples, block=160, hop=80):
    """Digits in linear 8 kHz samples: a key counts once it is detected in
    two blocks in a row, and again only after a block without it."""
    out = []
    prev = shown = None
    for i in range(0, len(samples) - block + 1, hop):
        k = _detect(samples[i:i + block])
        if k is None:
            shown = None
        elif k == prev and k != shown:
            out.append(k)
            shown = k
        prev = k
    return "".join(out)


def packets_samples(packets, pt):
    """Linear samples of the G.711 packets of codec pt, in timestamp order
    (lost packets are simply skipped)."""
    out = []
    for pk in sorted((p for p in packets if p.pt == pt), key=lambda p: (p.ssrc, p.seq)):
        out += decode(pt, pk.payload)
    return out


def audio_level(packets):
    """(frames, loud frames, peak RMS) of G.711 packets (PCMU/PCMA): a
    frame is loud above an RMS of 300 (about -40 dBm0)."""
    loud = 0
    peak = 0.0
    n = 0
    for pk in packets:
        if pk.pt not in (0, 8) or not pk.payload:
            continue
        s = decode(pk.pt, pk.payload)
        rms = math.sqrt(sum(x * x for x in s) / len(s))
        n += 1
        peak = max(peak, rms)
        if rms > 300:
            loud += 1
    return n, loud, peak


# --- SIPp callers keying digits ----------------------------------------------

_BLOCK = re.compile(r"[ \t]*<!-- DIGITS -->.*?<!-- /DIGITS -->[ \t]*\n", re.S)
_LEAD = re.compile(r'(<!--\s*LEAD_MS\s*-->\s*<pause milliseconds=")(\d+)(")')
_HOLD = re.compile(r'(<!--\s*HOLD_MS\s*-->\s*<recv[^>]*?timeout=")(\d+)(")')

_INFO = """  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "[caller]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: %(cseq)d INFO
      Contact: <sip:[caller]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      User-Agent: [ua]
      Content-Type: %(ctype)s
      Content-Length: [len]

%(body)s
    ]]>
  </send>
  <recv response="200"/>
"""


def _generate(template, outdir, tag, block, lead_ms, hold_ms):
    with open(os.path.join(SIPP_DIR, template + ".xml")) as f:
        text = f.read()
    text, n = _BLOCK.subn(lambda m: block, text)
    if n != 1:
        raise ValueError("%s.xml has no <!-- DIGITS --> block" % template)
    for rx, val, what in ((_LEAD, lead_ms, "LEAD_MS"), (_HOLD, hold_ms, "HOLD_MS")):
        text, n = rx.subn(lambda m: m.group(1) + str(int(val)) + m.group(3), text)
        if n != 1:
            raise ValueError("%s.xml has no marked %s" % (template, what))
    path = os.path.join(outdir, "%s-%s-%d.xml" % (template, tag, random.randrange(1 << 30)))
    with open(path, "w") as f:
        f.write(text)
    return path


def info_scenario(outdir, digits, lead_ms=300, gap_ms=150, hold_ms=3000, ctypes=("dtmf-relay",)):
    """A caller (from tests/sipp/pin_uac_info.xml) that after 200/ACK waits
    lead_ms, then sends one INFO per digit (each answered 200 before the
    next; gap_ms between), then holds like call_uac.xml. ctypes cycles over
    the digits: "dtmf-relay" (Signal=5 / Duration=160) or "dtmf" ("5")."""
    out = []
    for i, d in enumerate(digits):
        kind = ctypes[i % len(ctypes)]
        if kind == "dtmf-relay":
            ctype, body = "application/dtmf-relay", "      Signal=%s\n      Duration=160" % d
        elif kind == "dtmf":
            ctype, body = "application/dtmf", "      %s" % d
        else:
            raise ValueError("INFO body kind %r" % kind)
        if i:
            out.append('  <pause milliseconds="%d"/>\n' % int(gap_ms))
        out.append(_INFO % {"cseq": 2 + i, "ctype": ctype, "body": body})
    tag = "".join({"*": "s", "#": "p"}.get(d, d) for d in digits) or "none"
    return _generate("pin_uac_info", outdir, tag, "".join(out), lead_ms, hold_ms)


def pcap_scenario(outdir, digits, lead_ms=300, gap_ms=300, hold_ms=3000, pcap_dir=PCAP_DIR):
    """A caller (from tests/sipp/pin_uac_pcap.xml) that after 200/ACK waits
    lead_ms, then plays sip-tester's dtmf_2833_<digit>.pcap for each digit
    from its media port (gap_ms apart), then holds. The pcaps share one SSRC
    and fixed sequence numbers (DESIGN §6): digits must follow PCAP_ORDER
    strictly."""
    idx = [PCAP_ORDER.find(d) for d in digits]
    if min(idx + [0]) < 0 or any(b <= a for a, b in zip(idx, idx[1:])):
        raise ValueError("pcap digits must be strictly ascending in %s: %r" % (PCAP_ORDER, digits))
    out = []
    for i, d in enumerate(digits):
        if i:
            out.append('  <pause milliseconds="%d"/>\n' % int(gap_ms))
        out.append('  <nop>\n    <action>\n      <exec play_pcap_audio="%s"/>\n    </action>\n  </nop>\n'
                   % os.path.join(pcap_dir, PCAP_NAMES[d]))
    tag = "".join({"*": "s", "#": "p"}.get(d, d) for d in digits) or "none"
    return _generate("pin_uac_pcap", outdir, tag, "".join(out), lead_ms, hold_ms)


def pcap_events(digits, pcap_dir=PCAP_DIR):
    """[(seq, ts, ssrc, event, end)] of the RTP in the pcaps of digits, as
    the files hold them (Ethernet/IPv4/UDP)."""
    out = []
    for d in digits:
        with open(os.path.join(pcap_dir, PCAP_NAMES[d]), "rb") as f:
            data = f.read()
        link = struct.unpack("<I", data[20:24])[0]
        off = 24
        while off + 16 <= len(data):
            incl = struct.unpack("<I", data[off + 8:off + 12])[0]
            pkt = data[off + 16:off + 16 + incl]
            off += 16 + incl
            ip = pkt[14:] if link == 1 else pkt
            udp = ip[(ip[0] & 15) * 4:]
            rtp = udp[8:]
            _, _, seq, ts, ssrc = struct.unpack("!BBHII", rtp[:12])
            ev, fl, _ = struct.unpack("!BBH", rtp[12:16])
            out.append((seq, ts, ssrc, ev, bool(fl & 0x80)))
    return out
