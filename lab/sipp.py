"""SIPp peers for the lab: an agent's softphone (UAC) and the carrier (UAS).

Scenarios are written from templates so that a test states what it expects: an answered call,
or a refusal with a given SIP status after the early-media prompt. SIPp's exit status then says
whether the call went as expected (0: as the scenario says; anything else: it did not).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ASTERISK = "127.0.0.1:5060"
CARRIER_PORT = 5080
_ports = itertools.count(0)

_INVITE_SDP = """\
      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
"""


# In-dialog requests of a caller whose INVITE was answered (2xx): the ACK and the BYE.
_ACK_2XX = """  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"""


def _bye(cseq: int) -> str:
    return f"""  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: {cseq} BYE
      Contact: <sip:[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
"""


def _info_dtmf(digits: str) -> str:
    """SIP INFO (application/dtmf-relay) for each digit, CSeq 2, 3, …"""
    out = []
    for i, digit in enumerate(digits, 2):
        out.append(f"""  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [last_From:]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: {i} INFO
      Contact: <sip:[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={digit}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
  <pause milliseconds="250"/>
""")
    return "".join(out)


def invite_send(agent: str, headers: dict[str, str] | None = None, *, rtd: bool = False) -> str:
    """An agent's INVITE with SDP (the soak's scenarios build on it too); `rtd` starts the
    post-dial delay's timer."""
    extra = "".join(f"      {k}: {v}\n" for k, v in (headers or {}).items())
    timer = ' start_rtd="pdd"' if rtd else ""
    return f"""  <send retrans="500"{timer}>
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Agent" <sip:{agent}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{agent}@[local_ip]:[local_port]>
      Max-Forwards: 70
{extra}      Content-Type: application/sdp
      Content-Length: [len]

{_INVITE_SDP}    ]]>
  </send>
"""


# The ACK of a final non-2xx answer to the INVITE (same transaction).
ACK_NON_2XX = """  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"""


def _uac_scenario(agent: str, headers: dict[str, str], expect: int | None, hold_ms: int,
                  dtmf: str = "", early_media: bool = True, dtmf_after_ms: int = 0) -> str:
    invite = invite_send(agent, headers, rtd=True) + '  <recv response="100" optional="true"/>\n'
    if expect is None:  # answered by the carrier
        body = """  <recv response="180" optional="true" rtd="pdd"/>
  <recv response="183" optional="true" rtd="pdd"/>
  <recv response="200" rrs="true"/>
""" + _ACK_2XX + (f'  <pause milliseconds="{dtmf_after_ms}"/>\n' if dtmf_after_ms else "") \
            + _info_dtmf(dtmf) + f"""  <pause milliseconds="{hold_ms}"/>
""" + _bye(2 + len(dtmf))
    else:  # refused: the prompt as early media (183), then the final status
        progress = ('<recv response="183" rtd="pdd"/>' if early_media else
                    '<recv response="180" optional="true"/>\n  '
                    '<recv response="183" optional="true"/>')
        body = f"""  {progress}
  <recv response="{expect}"{"" if early_media else ' rtd="pdd"'}/>
""" + ACK_NON_2XX
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
            '<scenario name="astguard agent">\n' + invite + body + "</scenario>\n")


_UAS_SCENARIO_TEMPLATE = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="astguard carrier">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"""
_UAS_SCENARIO = _UAS_SCENARIO_TEMPLATE.replace("{sdp}", _INVITE_SDP)


_DECLINE_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="astguard declining carrier">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
      SIP/2.0 603 Decline
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag02[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


# A carrier that cannot take the call (503): a trunk the PBX fails over from.
_UNAVAILABLE_SCENARIO = _DECLINE_SCENARIO.replace("declining", "unavailable").replace(
    "603 Decline", "503 Service Unavailable")


def _cancelled(cseq_var: str) -> str:
    """The carrier's answer to a CANCEL: 200 OK for it, 487 for the INVITE, then the ACK."""
    return f"""  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <send>
    <![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [${cseq_var}] INVITE
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK" next="end"/>
"""


def _ringing_scenario(ring_after_ms: int, answer_after_ms: int) -> str:
    """A carrier on a real network: 100 Trying at once, 180 Ringing once the consumer's phone
    rings (ring_after_ms), 200 OK when they pick up; a CANCEL before that ends it with 487."""
    provisional = """  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
"""
    answered = _UAS_SCENARIO.split('<recv request="INVITE" crlf="true"/>', 1)[1]
    answered = answered.split("<send", 1)[1].split("<send", 1)[1]  # skip 180, keep 200 on
    return ("""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="astguard ringing carrier">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="icseq"/>
    </action>
  </recv>
""" + provisional.replace("{status}", "100 Trying")
            + f'  <recv request="CANCEL" timeout="{ring_after_ms}" ontimeout="ring"/>\n'
            + _cancelled("icseq") + '  <label id="ring"/>\n'
            + provisional.replace("{status}", "180 Ringing")
            + f'  <recv request="CANCEL" timeout="{answer_after_ms}" ontimeout="answer"/>\n'
            + _cancelled("icseq") + '  <label id="answer"/>\n'
            + "  <send" + answered.replace("</scenario>", '  <label id="end"/>\n</scenario>'))


# An agent's desk: answers, then 1.5 s later presses *85 (SIP INFO), then waits for the BYE.
_DESK_OBJECTION_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="astguard desk pressing *85">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="peer_from"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:desk@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

""" + _INVITE_SDP + """    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <pause milliseconds="1500"/>
""" + "".join(f"""  <send retrans="500">
    <![CDATA[
      INFO sip:asterisk@127.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:desk@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: [$peer_from]
      Call-ID: [call_id]
      CSeq: {n} INFO
      Contact: <sip:desk@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={digit}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
  <pause milliseconds="250"/>
""" for n, digit in enumerate("*85", 1)) + """  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"""


@dataclass
class CallResult:
    returncode: int
    messages: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def statuses(self) -> list[int]:
        return [int(m) for m in re.findall(r"^SIP/2\.0 (\d{3})", self.messages, re.M)]


def agent_call(
    workdir: Path,
    number: str,
    *,
    agent: str = "agent1",
    headers: dict[str, str] | None = None,
    expect: int | None = None,
    hold_ms: int = 300,
    timeout: int = 30,
    dtmf: str = "",
    early_media: bool = True,
    dtmf_after_ms: int = 0,
) -> CallResult:
    """Place one call from an agent's softphone; expect=None means answered, else the status.
    `dtmf` is keyed `dtmf_after_ms` after the answer, then the call is held `hold_ms`."""
    n = next(_ports)
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / f"uac-{n}.xml"
    scenario.write_text(_uac_scenario(agent, headers or {}, expect, hold_ms, dtmf, early_media,
                                       dtmf_after_ms))
    log = workdir / f"uac-{n}-messages.log"
    port = 5100 + (n % 400) * 2
    proc = subprocess.run(
        ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
         "-mp", str(20000 + (n % 400) * 4), "-m", "1", "-s", number, "-nostdin",
         "-timeout", f"{timeout}s", "-timeout_error", "-trace_msg", "-message_file", str(log),
         ASTERISK],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout + 15, check=False,
    )
    return CallResult(proc.returncode, log.read_text(errors="replace") if log.exists() else "")


@dataclass
class SipEvent:
    """One message in a SIPp trace: when, which way, its first line and its dialog."""

    at: dt.datetime
    sent: bool
    first_line: str
    call_id: str


def trace_events(text: str) -> list[SipEvent]:
    out = []
    parts = re.split(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$", text, flags=re.M)
    for stamp, block in zip(parts[1::2], parts[2::2], strict=False):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        if len(lines) < 3:
            continue
        sent = lines[0].startswith("UDP message sent")
        body = [ln for ln in lines[1:] if ln]
        call_id = next((ln.partition(":")[2].strip() for ln in body
                        if ln.lower().startswith(("call-id:", "i:"))), "")
        out.append(SipEvent(dt.datetime.fromisoformat(stamp), sent, body[0], call_id))
    return out


@dataclass
class SipMessage:
    first_line: str
    headers: dict[str, str]

    @property
    def request_user(self) -> str:
        match = re.match(r"INVITE sip:([^@;>]+)@", self.first_line)
        return match[1] if match else ""


class Carrier:
    """A SIPp UAS on 127.0.0.1:5080 that answers every INVITE and logs what it receives."""

    def __init__(self, workdir: Path, port: int = CARRIER_PORT) -> None:
        self.workdir = workdir
        self.port = port
        self.log = workdir / "carrier-messages.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, decline: bool = False, desk_objection: bool = False,
              consumer_dtmf_at_ms: int | None = None, consumer: bool = False,
              unavailable: bool = False,
              ring_after_ms: int | None = None, answer_after_ms: int = 3000) -> None:
        """`consumer`: answer, speak (a tone) and, at `consumer_dtmf_at_ms` after the answer,
        press 1 (RFC 2833), then wait for the BYE: the consumer of a recorded outbound call.
        `ring_after_ms`: 100 Trying at once, 180 after that long, 200 `answer_after_ms` later
        (a CANCEL before ends the call with 487)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        scenario = self.workdir / "carrier.xml"
        if consumer:
            text = _consumer_scenario(self.workdir, consumer_dtmf_at_ms)
        elif ring_after_ms is not None:
            text = _ringing_scenario(ring_after_ms, answer_after_ms)
        else:
            text = (_DESK_OBJECTION_SCENARIO if desk_objection
                    else _DECLINE_SCENARIO if decline
                    else _UNAVAILABLE_SCENARIO if unavailable else _UAS_SCENARIO)
        scenario.write_text(text)
        self.log.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.port),
             "-mp", str(30000 + (self.port - CARRIER_PORT) * 10), "-nostdin", "-trace_msg", "-message_file", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError(f"carrier SIPp exited with {self.proc.returncode}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def invites(self) -> list[SipMessage]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        found = []
        for block in re.split(r"^-{10,}.*$", text, flags=re.M):
            lines = [ln.strip() for ln in block.strip().splitlines()]
            # Each block: "UDP message received [N] bytes :", a blank line, the message.
            while lines and not lines[0].startswith(("INVITE ", "SIP/2.0", "ACK ", "BYE ")):
                lines.pop(0)
            if not lines or not lines[0].startswith("INVITE "):
                continue
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if not line:
                    break
                key, _, value = line.partition(":")
                headers.setdefault(key.strip().lower(), value.strip())
            found.append(SipMessage(lines[0], headers))
        return found

    def invites_to(self, e164: str) -> list[SipMessage]:
        return [m for m in self.invites() if m.request_user == e164]

    def dialog_to(self, number: str) -> list[SipEvent]:
        """Every message of the (last) call whose INVITE went to `number`, in order."""
        events = trace_events(self.log.read_text(errors="replace") if self.log.exists() else "")
        call_ids = [e.call_id for e in events if not e.sent and
                    re.match(rf"INVITE sip:{re.escape(number)}@", e.first_line)]
        return [e for e in events if call_ids and e.call_id == call_ids[-1]]


_DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{digit}.pcap"


def _inbound_scenario(dtmf_at_ms: int | None, digit: str, hangup_at_ms: int,
                      voice: Path) -> str:
    # The caller "speaks" (a tone) from the answer on; DTMF, when asked, after the voice stops.
    steps = f"""  <nop><action><exec play_pcap_audio="{voice}"/></action></nop>
"""
    if dtmf_at_ms is not None:
        steps += f"""  <pause milliseconds="{dtmf_at_ms}"/>
  <nop><action><exec play_pcap_audio="{_DTMF_PCAP.format(digit=digit)}"/></action></nop>
  <pause milliseconds="{max(hangup_at_ms - dtmf_at_ms, 100)}"/>
"""
    else:
        steps += f'  <pause milliseconds="{hangup_at_ms}"/>\n'
    return """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="astguard inbound caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Client" <sip:caller-in@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller-in@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
""" + _ACK_2XX + steps + _bye(2) + "</scenario>\n"


_DTMF_SDP = """\
      v=0
      o=consumer 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
"""


def _consumer_scenario(workdir: Path, dtmf_at_ms: int | None) -> str:
    seconds = (dtmf_at_ms if dtmf_at_ms is not None else 20000) / 1000 - 0.3
    voice = write_tone_pcap(workdir / f"consumer-voice-{seconds:.1f}s.pcap", seconds)
    media = f"""  <recv request="ACK" crlf="true"/>
  <nop><action><exec play_pcap_audio="{voice}"/></action></nop>
"""
    if dtmf_at_ms is not None:
        media += f"""  <pause milliseconds="{dtmf_at_ms}"/>
  <nop><action><exec play_pcap_audio="{_DTMF_PCAP.format(digit='1')}"/></action></nop>
"""
    return (_UAS_SCENARIO_TEMPLATE.replace("{sdp}", _DTMF_SDP)
            .replace('  <recv request="ACK" crlf="true"/>\n', media))


def inbound_call(workdir: Path, did: str, *, hangup_at_ms: int, dtmf_at_ms: int | None = None,
                 digit: str = "1", timeout: int = 40) -> CallResult:
    """A caller rings a DID, optionally presses `digit` (RFC 2833) at `dtmf_at_ms` after the
    answer, and hangs up at `hangup_at_ms`. OK means the call stayed up until then."""
    n = next(_ports)
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / f"in-{n}.xml"
    seconds = (dtmf_at_ms if dtmf_at_ms is not None else hangup_at_ms) / 1000 - 0.3
    voice = write_tone_pcap(workdir / f"voice-{max(seconds, 0.1):.1f}s.pcap", max(seconds, 0.1))
    scenario.write_text(_inbound_scenario(dtmf_at_ms, digit, hangup_at_ms, voice))
    log = workdir / f"in-{n}-messages.log"
    proc = subprocess.run(
        ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(5100 + (n % 400) * 2),
         "-mp", str(20000 + (n % 400) * 4), "-m", "1", "-s", did, "-nostdin",
         "-timeout", f"{timeout}s", "-timeout_error", "-trace_msg", "-message_file", str(log),
         ASTERISK],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout + 15, check=False,
    )
    return CallResult(proc.returncode, log.read_text(errors="replace") if log.exists() else "")


def _ulaw(sample: int) -> int:
    """G.711 µ-law encoding of one 16-bit sample."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), clip) + bias
    exponent, mask = 7, 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def write_tone_pcap(path: Path, seconds: float, hz: int = 400) -> Path:
    """An RTP stream (PCMU, 20 ms packets) of a tone, as a pcap SIPp can play: the caller's
    voice in tests (MixMonitor writes a file only once audio flows)."""
    import math
    import struct

    if path.exists():
        return path
    frames = []
    seq, ts, t = 1, 0, 0.0
    for i in range(int(seconds * 50)):
        payload = bytes(_ulaw(int(8000 * math.sin(2 * math.pi * hz * (i * 160 + k) / 8000)))
                        for k in range(160))
        rtp = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, 0x1234ABCD) + payload
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        eth = b"\x00" * 12 + b"\x08\x00" + ip
        sec, usec = int(t), int((t - int(t)) * 1_000_000)
        frames.append(struct.pack("<IIII", sec, usec, len(eth), len(eth)) + eth)
        seq, ts, t = seq + 1, ts + 160, t + 0.02
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    path.write_bytes(header + b"".join(frames))
    return path
