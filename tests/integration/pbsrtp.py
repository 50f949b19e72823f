"""An SRTP party for the call tests, independent of pinbridge's code: Debian's
python3-pylibsrtp (libsrtp2) protects what an RtpPeer sends and unprotects
what it receives, keyed by SDES lines (RFC 4568) the test writes and reads.

SrtpPeer(ip, name, suite) has its own fresh key (crypto_line(tag) for its
SDP); set_peer_key(sdp) takes pinbridge's key from the a=crypto line of the
SDP pinbridge sent it. Received packets that fail to unprotect are kept in
.unprotect_failed (a plain packet from pinbridge is one); RTCP is SRTCP both
ways. sent_wire keeps every protected packet as sent, for replay tests.
"""
import base64
import os
import re
import time

import pylibsrtp

from pbcall import RtpPacket, RtpPeer, rtcp_sr_sdes

SUITES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
KEY_LEN = 30  # master key 16 + salt 14

_CRYPTO = re.compile(r"^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)(\|[^\s]*)?\s*$", re.M)


def crypto_lines(sdp_text):
    """[(tag, suite, key bytes)] of an SDP's a=crypto lines."""
    return [(int(t), s, base64.b64decode(k)) for t, s, k, _ in _CRYPTO.findall(sdp_text)]


def _session(suite, key, inbound):
    pol = pylibsrtp.Policy(key=key, ssrc_type=(pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound
                                               else pylibsrtp.Policy.SSRC_ANY_OUTBOUND),
                           srtp_profile=SUITES[suite])
    return pylibsrtp.Session(policy=pol)


class SrtpPeer(RtpPeer):
    def __init__(self, ip, name, suite="AES_CM_128_HMAC_SHA1_80"):
        self.suite = suite
        self.key = os.urandom(KEY_LEN)
        self.tx = _session(suite, self.key, inbound=False)
        self.rx = None                 # once set_peer_key() saw pinbridge's
        self.peer_key = None
        self.unprotect_failed = []     # datagrams that did not unprotect
        self.srtcp_ok = []             # unprotected RTCP from pinbridge
        self.sent_wire = []            # protected RTP as sent
        self.early = []                # what came before pinbridge's key was known
        super().__init__(ip, name)

    def crypto_line(self, tag=1):
        """The value after "a=crypto:" for our SDP."""
        return "%d %s inline:%s" % (tag, self.suite, base64.b64encode(self.key).decode())

    def set_peer_key(self, sdp_text, tag=None):
        """pinbridge's key from the SDP it sent us (the line with tag, or the
        only one); returns (tag, suite)."""
        lines = [c for c in crypto_lines(sdp_text) if tag is None or c[0] == tag]
        assert len(lines) == 1, "want one a=crypto line (tag %s) in:\n%s" % (tag, sdp_text)
        t, suite, key = lines[0]
        assert suite in SUITES and len(key) == KEY_LEN, lines[0]
        with self.lock:
            self.peer_key = key
            self.rx = _session(suite, key, inbound=True)
            early, self.early = self.early, []
        for data, src, now, rtcp in early:  # ringback before the 200
            self._take(data, src, now, rtcp)
        return t, suite

    # receiving: unprotect first, then what RtpPeer would do
    def _recv_loop(self):
        import select
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self.rtp, self.rtcp], [], [], 0.05)
            except (OSError, ValueError):
                return
            for s in r:
                try:
                    data, src = s.recvfrom(4096)
                except OSError:
                    continue
                now = time.monotonic()
                rtcp = s is self.rtcp or (len(data) >= 2 and 192 <= data[1] <= 223)
                with self.lock:
                    if self.rx is None:
                        self.early.append((data, src, now, rtcp))
                        continue
                self._take(data, src, now, rtcp)

    def _take(self, data, src, now, rtcp):
        try:
            plain = self.rx.unprotect_rtcp(data) if rtcp else self.rx.unprotect(data)
        except pylibsrtp.Error:
            with self.lock:
                self.unprotect_failed.append((data, src, now))
            return
        with self.lock:
            if rtcp:
                self.rtcp_received.append((plain, src, now))
                self.srtcp_ok.append(plain)
            else:
                self.received.append(RtpPacket(plain, src, now))

    # sending: protected
    def _send_one(self, pt, payload, marker=False, ts=None):
        import struct
        with self.lock:
            seq = self.seq
            self.seq = (self.seq + 1) & 0xFFFF
            pts = self.ts if ts is None else ts
        hdr = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, pts & 0xFFFFFFFF, self.ssrc)
        wire = self.tx.protect(hdr + bytes(payload))
        self.send_wire(wire)
        with self.lock:
            self.sent.append((pt, seq, pts, bytes(payload), marker))
            self.sent_wire.append(wire)

    def send_wire(self, data):
        """Sends data as is to the remote's RTP port (tampered, replayed)."""
        try:
            self.rtp.sendto(data, self.remote)
        except OSError:
            self.send_errors += 1

    def send_rtcp(self, dest=None):
        if dest is None:
            dest = (self.remote[0], self.remote[1] + 1)
        with self.lock:
            n = len(self.sent)
            octets = sum(len(s[3]) for s in self.sent)
        try:
            self.rtcp.sendto(self.tx.protect_rtcp(rtcp_sr_sdes(self.ssrc, self.cname, n, octets, self.ts)),
                             dest)
        except OSError:
            self.send_errors += 1
