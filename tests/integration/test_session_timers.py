"""RFC 4028 session timers at call level (DESIGN §3 "Offer/answer per
leg"): the real binary between a SIPp caller and callee. A caller that
refreshes its session by UPDATE without SDP keeps the call, and its media,
up past the interval; a session nobody refreshes is ended by pinbridge with
BYE to both legs and the call record is finished; a caller's re-INVITE
crossing pinbridge's refresh (glare) leaves the call and its media up; a
caller requiring 100rel PRACKs pinbridge's 180 and is bridged. The
SIP-level details (who refreshes, 422, 100rel, 491) are
tests/unit/test_siptimer.c's.

sip.session_expires is "0s" here: pinbridge asks the callee for no timer of
its own (call_uas_answer.xml would not expect an UPDATE), so only the
caller's session runs; sip.min_se "1s" lets the caller ask for 2 or 4 s.
"""
import time

from pbcall import (CALLEE_IP, CALLER_IP, PB_IP, PCMU, RtpPeer, Sipp, audio_frames,
                    free_port_on, scenario, sip_handles_drop_to_zero)
from pbdata import number, ok, txn
from pbserver import Server

POOL = "+917800000000-+917800000099"
CREDS = {"st": ("st-key", "st-token")}
SESSION = "Session-Expires: %d;refresher=uac"

# The caller's INVITE asks for a 2 s session it refreshes itself.
def ask(secs):
    """call_uac.xml's INVITE asking for a session of secs it refreshes."""
    return ("      Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\n",
            "      Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\n"
            "      Supported: timer\n      %s\n" % (SESSION % secs))

UPDATE = """  <pause milliseconds="1000"/>
  <send retrans="500">
    <![CDATA[
      UPDATE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[caller]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: %d UPDATE
      Contact: <sip:[caller]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      User-Agent: [ua]
      Supported: timer
      %s
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"""


def conf(callee_port):
    return ('trunks = ( { name = "st"; allow = ["%s/32"]; outbound = "sip:%s:%d"; } );\n'
            'sip = { session_expires = "0s"; min_se = "1s"; drain = "0s"; };\n'
            'tenants = ( { id = "st"; api_key = "st-key"; api_token = "st-token";\n'
            '  country = "91"; vns = ["%s"]; pin = { a = false; b = false }; } );\n'
            % (CALLER_IP, CALLEE_IP, callee_port, POOL))


def record_of(s, greenpin_id, timeout=5.0):
    end, recs = time.monotonic() + timeout, []
    while time.monotonic() < end:
        recs = ok(s.request("GET", "/v1/tenants/st/calls?greenpin_id=" + greenpin_id,
                            tenant="st"))["calls"]
        if recs and recs[0]["state"] == "completed":
            return recs[0]
        time.sleep(0.1)
    raise AssertionError("no completed call record: %r" % recs)


class Call:
    """pinbridge, an allocation, an RTP peer each side, a callee that
    answers and holds, and a caller running caller_replace on call_uac."""

    def __init__(self, tmp, vn, caller_replace, caller_hold_ms):
        self.tmp = str(tmp)
        self.callee_port = free_port_on(CALLEE_IP)
        self.s = Server(self.tmp, conf(self.callee_port), name="st", creds=CREDS)
        self.sipps, self.peers = [], []
        self.s.start()
        a, b = number(), number()
        self.alloc = ok(self.s.create({"transaction_id": txn("st"),
                                       "a": {"numbers": [a], "vns": [vn]},
                                       "b": {"numbers": [b]}}, tenant="st"))
        self.pa, self.pb = RtpPeer(CALLER_IP, "caller"), RtpPeer(CALLEE_IP, "callee")
        self.peers += [self.pa, self.pb]
        self.uas = Sipp(self.tmp, scenario("call_uas_answer", self.tmp, RING_MS=100,
                                           HOLD_MS=15000),
                        CALLEE_IP, "callee", dict(callee=b, ua="StCallee", rtp_ip=CALLEE_IP,
                                                  rtp_port=self.pb.port, codecs="0", te_pt=101),
                        port=self.callee_port, timeout=25).start()
        self.sipps.append(self.uas)
        self.uac = Sipp(self.tmp, scenario("call_uac", self.tmp, HOLD_MS=caller_hold_ms,
                                           replace=caller_replace),
                        CALLER_IP, "caller", dict(caller=a, ua="StCaller", rtp_ip=CALLER_IP,
                                                  rtp_port=self.pa.port, codecs="0", te_pt=101),
                        service=vn, remote="%s:%d" % (PB_IP, self.s.sip_port),
                        timeout=25).start()
        self.sipps.append(self.uac)

    def answered(self):
        """Waits for the caller's 200; points the RTP peers at pinbridge.
        Returns the 200 and when it came."""
        try:
            inv = self.uas.wait_received("INVITE", timeout=8)
        except AssertionError:
            if self.uac.received(status=422):
                raise AssertionError("the caller's 2 s session got 422: sip.min_se = \"1s\" "
                                     "did not reach the SIP stack (core/callflow.c cf_sip_opts "
                                     "must copy sip_session_expires_ms and sip_min_se_ms into "
                                     "struct sip_opts)\n" + self.describe())
            raise
        self.pb.set_remote(inv.sdp)
        okm = self.uac.wait_received(status=200, timeout=8,
                                     pred=lambda m: m.cseq_method == "INVITE")
        self.pa.set_remote(okm.sdp)
        return okm, time.monotonic()

    def describe(self):
        return "\n".join([p.describe() for p in self.sipps] +
                         ["pinbridge log tail:\n" + self.s.log_tail(3000)])

    def close(self):
        for p in self.sipps:
            p.kill()
        for p in self.peers:
            p.close()
        self.s.stop()


def test_unrefreshed_session_ends_the_call_with_bye_to_both(tmp_path):
    """The caller asks for a 2 s session it should refresh, and does not:
    pinbridge BYEs it (Reason: SIP;cause=408) before the interval is over,
    the callee gets BYE too, the record is finished, nothing leaks."""
    c = Call(tmp_path, "+917800000001", [ask(2)], 15000)
    try:
        okm, t_ok = c.answered()
        assert okm.header("Session-Expires") == "2;refresher=uac", okm.text
        assert "timer" in (okm.header("Require") or ""), okm.text
        bye = c.uac.wait_received("BYE", timeout=8)
        took = time.monotonic() - t_ok
        assert 0.9 <= took <= 6, "BYE %.2fs after the 200, session interval 2 s" % took
        assert "cause=408" in (bye.header("Reason") or ""), bye.text
        c.uas.wait_received("BYE", timeout=3)
        rec = record_of(c.s, c.alloc["greenpin_id"])
        assert rec["call_type"] == "completed", rec
        assert c.uac.wait(10) == 0, c.describe()
        sip_handles_drop_to_zero(c.s)
    finally:
        c.close()


def test_refreshed_session_keeps_the_call_and_its_media(tmp_path):
    """The caller refreshes its 4 s session by UPDATE without SDP every
    second: each gets 200 with Session-Expires, the call outlives the
    interval with RTP flowing both ways, and ends by the caller's BYE.
    (nua ticks once a second: unrefreshed, it would BYE 3-4 s after the
    last refresh.)"""
    updates = "".join(UPDATE % (2 + i, SESSION % 4) for i in range(5))
    c = Call(tmp_path, "+917800000002",
             [ask(4), ("  <!-- HOLD_MS -->\n", updates + "  <!-- HOLD_MS -->\n"),
              ("CSeq: 2 BYE", "CSeq: 7 BYE")], 300)
    try:
        _, t_ok = c.answered()
        ta = c.pa.send_frames(PCMU, audio_frames(1, 250, PCMU))
        tb = c.pb.send_frames(PCMU, audio_frames(2, 250, PCMU))
        assert c.uac.wait(15) == 0, c.describe()  # 5 refreshes, then its own BYE
        lasted = time.monotonic() - t_ok
        assert lasted > 4.5, "call ended %.2fs after the answer" % lasted
        assert not c.uac.received("BYE"), "pinbridge ended a refreshed session:\n" + c.describe()
        oks = [m for m in c.uac.received(status=200) if m.cseq_method == "UPDATE"]
        assert len(oks) == 5, c.describe()
        assert all(m.header("Session-Expires") == "4;refresher=uac" for m in oks), oks[0].text
        assert all(not m.body for m in oks), oks[0].text
        c.uas.wait_received("BYE", timeout=3)
        ta.join(6)
        tb.join(6)
        # Media crossed both ways after the refreshes began (t_ok + 0.7 s).
        assert len(c.pa.packets(PCMU, since=t_ok + 1.0)) >= 50, "caller got too little RTP"
        assert len(c.pb.packets(PCMU, since=t_ok + 1.0)) >= 50, "callee got too little RTP"
        rec = record_of(c.s, c.alloc["greenpin_id"])
        assert rec["call_type"] == "completed", rec
        sip_handles_drop_to_zero(c.s)
    finally:
        c.close()


# The caller asks pinbridge to refresh (refresher=uas); its re-INVITE
# crosses pinbridge's first refresh UPDATE, which it answers only after.
ASK_UAS = ("      Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\n",
           "      Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\n"
           "      Supported: timer\n      Session-Expires: 2;refresher=uas\n")
CROSSING = r"""  <recv request="UPDATE" crlf="true">
    <action>
      <ereg regexp="SIP/2\.0/[^\r\n]*" search_in="hdr" header="Via:" check_it="true" assign_to="uvia"/>
      <ereg regexp="&lt;sip[^\r\n]*" search_in="hdr" header="From:" check_it="true" assign_to="ufrom"/>
      <ereg regexp="&lt;sip[^\r\n]*" search_in="hdr" header="To:" check_it="true" assign_to="uto"/>
      <ereg regexp="[0-9]+ UPDATE" search_in="hdr" header="CSeq:" check_it="true" assign_to="ucseq"/>
    </action>
  </recv>
  <send retrans="500">
    <![CDATA[
      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[caller]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      User-Agent: [ua]
      Supported: timer
      Session-Expires: 2;refresher=uas
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=[caller] 53655765 2353687638 IN IP4 [rtp_ip]
      s=[ua]
      c=IN IP4 [rtp_ip]
      t=0 0
      m=audio [rtp_port] RTP/AVP [codecs] [te_pt]
      a=rtpmap:[te_pt] telephone-event/8000
      a=fmtp:[te_pt] 0-15
      a=ptime:20
      a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[caller]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      User-Agent: [ua]
      Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      Via: [$uvia]
      From: [$ufrom]
      To: [$uto]
      Call-ID: [call_id]
      CSeq: [$ucseq]
      Require: timer
      Session-Expires: 2;refresher=uac
      Content-Length: 0

    ]]>
  </send>
  <recv request="UPDATE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Require: timer
      Session-Expires: 2;refresher=uac
      Content-Length: 0

    ]]>
  </send>
"""


def test_reinvite_crossing_our_refresh_keeps_the_call_and_its_media(tmp_path):
    """Glare at call level: pinbridge refreshes the caller's 2 s session;
    the caller's re-INVITE crosses pinbridge's first refresh UPDATE (which
    carries no offer, so nothing is pending): the re-INVITE gets 200 with
    pinbridge's SDP, the UPDATE its late 200, the next refresh follows, RTP
    keeps flowing both ways, and the call ends by the caller's BYE."""
    c = Call(tmp_path, "+917800000003",
             [ASK_UAS, ("  <!-- HOLD_MS -->\n", CROSSING + "  <!-- HOLD_MS -->\n"),
              ("CSeq: 2 BYE", "CSeq: 3 BYE")], 100)
    try:
        okm, t_ok = c.answered()
        assert okm.header("Session-Expires") == "2;refresher=uas", okm.text
        ta = c.pa.send_frames(PCMU, audio_frames(3, 200, PCMU))
        tb = c.pb.send_frames(PCMU, audio_frames(4, 200, PCMU))
        reok = c.uac.wait_received(status=200, timeout=8,
                                   pred=lambda m: m.cseq_method == "INVITE" and
                                   m.header("CSeq", "").startswith("2 "))
        t_cross = time.monotonic()
        assert reok.sdp and reok.sdp.port == okm.sdp.port, reok.text
        assert c.uac.wait(12) == 0, c.describe()  # the crossing, a refresh, its own BYE
        ups = [m for m in c.uac.received("UPDATE")]
        assert len(ups) == 2 and all(not m.body for m in ups), c.describe()
        assert not c.uac.received(status=491), c.describe()
        assert not c.uac.received("BYE"), "pinbridge ended the call:\n" + c.describe()
        c.uas.wait_received("BYE", timeout=3)
        ta.join(6)
        tb.join(6)
        assert len(c.pa.packets(PCMU, since=t_cross + 0.2)) >= 20, "caller got no RTP after the crossing"
        assert len(c.pb.packets(PCMU, since=t_cross + 0.2)) >= 20, "callee got no RTP after the crossing"
        assert record_of(c.s, c.alloc["greenpin_id"])["call_type"] == "completed"
        sip_handles_drop_to_zero(c.s)
    finally:
        c.close()


# A caller requiring 100rel: its INVITE says so, and the 180 pinbridge sends
# at once must be PRACKed before anything else.
REQUIRE_100REL = ("      Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\n",
                  "      Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK\n"
                  "      Supported: 100rel\n      Require: 100rel\n")
PRACK_180 = ('  <recv response="180" optional="true"/>\n', r"""  <recv response="180" rrs="true">
    <action>
      <ereg regexp="([0-9]+)" search_in="hdr" header="RSeq:" check_it="true" assign_to="r0,rseq"/>
    </action>
  </recv>
  <Reference variables="r0"/>
  <send retrans="500">
    <![CDATA[
      PRACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[caller]" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 PRACK
      RAck: [$rseq] 1 INVITE
      Max-Forwards: 70
      User-Agent: [ua]
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
""")


def test_caller_requiring_100rel_is_pracked_and_bridged(tmp_path):
    """RFC 3262 at call level: a caller with Require: 100rel gets
    pinbridge's 180 reliably (RSeq, Require: 100rel), PRACKs it (200), and
    the call is bridged: 200, ACK, RTP both ways, a completed record."""
    c = Call(tmp_path, "+917800000004",
             [REQUIRE_100REL, PRACK_180, ("CSeq: 2 BYE", "CSeq: 3 BYE")], 2500)
    try:
        okm, t_ok = c.answered()
        ta = c.pa.send_frames(PCMU, audio_frames(5, 100, PCMU))
        tb = c.pb.send_frames(PCMU, audio_frames(6, 100, PCMU))
        assert c.uac.wait(12) == 0, c.describe()
        rel = [m for m in c.uac.received(status=180)]
        assert rel and rel[0].header("RSeq"), c.describe()
        assert "100rel" in (rel[0].header("Require") or ""), rel[0].text
        prack_ok = [m for m in c.uac.received(status=200) if m.cseq_method == "PRACK"]
        assert len(prack_ok) == 1, c.describe()
        c.uas.wait_received("BYE", timeout=3)
        ta.join(6)
        tb.join(6)
        assert len(c.pa.packets(PCMU, since=t_ok)) >= 40, "caller got too little RTP"
        assert len(c.pb.packets(PCMU, since=t_ok)) >= 40, "callee got too little RTP"
        assert record_of(c.s, c.alloc["greenpin_id"])["call_type"] == "completed"
        sip_handles_drop_to_zero(c.s)
    finally:
        c.close()
