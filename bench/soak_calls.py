"""The soak's callers: a mixed population of consumers, and SIPp agents that dial them.

Every call is one SIPp UAC process with one scenario that accepts whatever astguard decides
(answered by the carrier, or refused after the French prompt), so a call's outcome is read
from its own message log rather than assumed.
"""

from __future__ import annotations

import itertools
import random
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab.sipp import _ACK_2XX, ACK_NON_2XX, _bye, _info_dtmf, invite_send

REFUSAL_KEY = "*81"  # the agent's "the consumer refuses further calls" code (R-E)

# Final statuses astguard's refusals and the carrier can give; any of them ends the call.
_FINALS = (403, 404, 408, 480, 486, 487, 488, 500, 503, 603)


def scenario(agent: str, dtmf: str, hold_ms: int, dtmf_after_ms: int = 0) -> str:
    invite = invite_send(agent) + """  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
"""
    refusals = "".join(f'  <recv response="{s}" optional="true" next="refused"/>\n'
                       for s in _FINALS)
    wait = f'  <pause milliseconds="{dtmf_after_ms}"/>\n' if dtmf_after_ms else ""
    answered = ('  <recv response="200" rrs="true"/>\n' + _ACK_2XX + wait + _info_dtmf(dtmf)
                + f'  <pause milliseconds="{hold_ms}"/>\n' + _bye(2 + len(dtmf))
                + '  <nop next="done"/>\n')
    refused = '  <label id="refused"/>\n' + ACK_NON_2XX + '  <label id="done"/>\n'
    return ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="soak agent">\n'
            + invite + refusals + answered + refused + "</scenario>\n")


def invite_statuses(text: str) -> list[int]:
    """The statuses received for the INVITE, in order, from a SIPp message log."""
    out = []
    for block in re.split(r"^-{10,}.*$", text, flags=re.M):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        if not lines or not lines[0].startswith("UDP message received"):
            continue
        body = [ln for ln in lines[1:] if ln]
        if body and (m := re.match(r"SIP/2\.0 (\d{3})", body[0])) and any(
                re.match(r"(?i)cseq:\s*1 INVITE", ln) for ln in body):
            out.append(int(m[1]))
    return out


@dataclass
class Consumer:
    national: str
    kind: str  # consent, no_consent, overseas, repeat, keyed
    consent: bool

    @property
    def e164(self) -> str:
        return "+33" + self.national[1:]


@dataclass
class Population:
    """Who the agents dial, drawn from a seed so that two runs dial the same people."""

    seed: int
    consumers: dict[str, list[Consumer]] = field(default_factory=dict)
    keyed_done: list[Consumer] = field(default_factory=list)  # refused mid-call: redialled

    def __post_init__(self) -> None:
        pools = {"consent": ("0612", 400, True), "no_consent": ("0613", 150, False),
                 "overseas": ("0692", 60, True), "repeat": ("0614", 6, True),
                 "keyed": ("0615", 200, True)}
        for kind, (prefix, n, consent) in pools.items():
            self.consumers[kind] = [Consumer(f"{prefix}{100000 + i:06d}", kind, consent)
                                    for i in range(n)]
        # A few Guadeloupe numbers among the overseas ones (another zone, another window).
        self.consumers["overseas"] += [Consumer(f"0690{100000 + i:06d}", "overseas", True)
                                       for i in range(40)]
        self._rng = random.Random(self.seed)
        self._keyed = iter(self.consumers["keyed"])
        self._lock = threading.Lock()

    def consented(self) -> list[Consumer]:
        return [c for pool in self.consumers.values() for c in pool if c.consent]

    def next_keyed(self) -> Consumer | None:
        """A consumer whose refusal the agent will key (a fault's own call)."""
        with self._lock:
            keyed = next(self._keyed, None)
            if keyed is not None:
                self.keyed_done.append(keyed)
            return keyed

    def draw(self) -> tuple[Consumer, str]:
        """The next consumer and what the agent does: ("", or the refusal key)."""
        with self._lock:
            roll = self._rng.random()
            if roll < 0.08:
                keyed = next(self._keyed, None)
                if keyed is not None:
                    self.keyed_done.append(keyed)
                    return keyed, REFUSAL_KEY
            if roll < 0.14 and self.keyed_done:
                return self._rng.choice(self.keyed_done), ""  # the refused one, called back
            kind = self._rng.choices(["consent", "no_consent", "overseas", "repeat"],
                                     [50, 15, 10, 25])[0]
            return self._rng.choice(self.consumers[kind]), ""


@dataclass
class CallRecord:
    n: int
    node: str
    agent: str
    consumer: Consumer
    keyed: str
    started: float  # time.time()
    ended: float = 0.0
    returncode: int | None = None
    statuses: list[int] = field(default_factory=list)

    @property
    def final(self) -> int | None:
        finals = [s for s in self.statuses if s >= 200]
        return finals[0] if finals else None


class Dialler:
    """Places calls from the SIPp agents' host to a node's Asterisk."""

    def __init__(self, workdir: Path, local_ip: str) -> None:
        self.workdir = workdir
        self.local_ip = local_ip
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.records: list[CallRecord] = []
        self.workdir.mkdir(parents=True, exist_ok=True)

    def call(self, node: str, node_ip: str, agent: str, consumer: Consumer, keyed: str,
             hold_ms: int = 800, dtmf_after_ms: int = 0) -> CallRecord:
        n = next(self._counter)
        record = CallRecord(n, node, agent, consumer, keyed, time.time())
        with self._lock:
            self.records.append(record)
        xml = self.workdir / f"uac-{n}.xml"
        xml.write_text(scenario(agent, keyed, 3500 if keyed else hold_ms, dtmf_after_ms))
        log = self.workdir / f"uac-{n}.log"
        port = 20000 + (n % 4000) * 2
        try:
            proc = subprocess.run(
                ["sipp", "-sf", str(xml), "-i", self.local_ip, "-p", str(port),
                 "-mp", str(30000 + (n % 4000) * 4), "-m", "1", "-s", consumer.national,
                 "-nostdin", "-timeout", "45s", "-timeout_error", "-trace_msg",
                 "-message_file", str(log), f"{node_ip}:5060"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
            record.returncode = proc.returncode
        except subprocess.TimeoutExpired:
            record.returncode = -1
        record.ended = time.time()
        text = log.read_text(errors="replace") if log.exists() else ""
        record.statuses = invite_statuses(text)
        xml.unlink(missing_ok=True)
        return record
