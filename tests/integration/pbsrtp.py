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

import pylibsrtp

from pbcall import RtpPeer

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

    # receiving: unprotected, then kept as RtpPeer keeps it
    def _take(self, data, src, now, rtcp):
        with self.lock:
            if self.rx is None:
                self.early.append((data, src, now, rtcp))
                return
        try:
            plain = self.rx.unprotect_rtcp(data) if rtcp else self.rx.unprotect(data)
        except pylibsrtp.Error:
            with self.lock:
                self.unprotect_failed.append((data, src, now))
            return
        if rtcp:
            with self.lock:
                self.srtcp_ok.append(plain)
        super()._take(plain, src, now, rtcp)

    # sending: protected
    def _wire_rtp(self, packet):
        wire = self.tx.protect(packet)
        with self.lock:
            self.sent_wire.append(wire)
        return wire

    def _wire_rtcp(self, packet):
        return self.tx.protect_rtcp(packet)

    def protected(self, pt, payload):
        """The next RTP packet, protected but not sent (for tampering)."""
        hdr, _, _ = self.next_header(pt)
        return self.tx.protect(hdr + bytes(payload))
