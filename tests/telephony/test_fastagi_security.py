"""FastAGI refuses strangers and keeps each request to its own call (issue 11, item 4), on the
real server on loopback and the real PostgreSQL: a peer outside ASTGUARD_AGI_ALLOWED_PEERS is
closed unserved, the connection cap holds, and a request naming another channel's decision,
endpoint or recording is refused with nothing recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from astguard.app.contacts import ContactService
from astguard.app.recording import RecordingService
from astguard.clock import PinnedClock, SystemClock
from astguard.metrics import Metrics
from astguard.policy import CallRequest
from astguard.store.bindings import DecisionBindings
from astguard.store.database import Database
from astguard.store.inbound import InboundStore
from astguard.telephony.agi_binding import AgiRefused, check_bridged_to, endpoint_of
from astguard.telephony.agi_binding import ChannelBinding
from astguard.telephony.ari import AriClient
from astguard.telephony.fastagi import (
    ContactsAgi,
    HardenedFastAGI,
    InboundAgi,
    OutboundAgi,
    serve_fastagi,
)
from astguard.telephony.inbound import InboundStasisApp, RecordingPaths
from astguard.telephony.outbound_recording import OutboundRecordingAgi
from tests.conftest import give_consent
from tests.telephony.fake_ari import FakeAri
from tests.telephony.test_stasis import RecordingGate
from tests.test_gate import OPEN, RULES, directory, make_gate  # noqa: F401 (a fixture)

NUMBER = ENDPOINT = ""  # set by the `decided` fixture


def agi_request(script: str, *args: str, uniqueid: str = "chan-A",
                channel: str = "PJSIP/gate-agent-00000001") -> bytes:
    numbered = "".join(f"agi_arg_{i}: {a}\n" for i, a in enumerate(args, 1))
    return (f"agi_network: yes\nagi_network_script: {script}\nagi_channel: {channel}\n"
            f"agi_uniqueid: {uniqueid}\nagi_callerid: 1001\nagi_extension: s\n{numbered}\n"
            ).encode()


async def play_asterisk(port: int, payload: bytes, replies: dict[str, str] | None = None,
                        host: str = "127.0.0.1", local: str | None = None) -> list[str]:
    """Act as Asterisk: send the request, answer each command (200 result=1 unless `replies`
    says otherwise for a command's start), collect the commands until astguard closes."""
    reader, writer = await asyncio.open_connection(
        host, port, local_addr=(local, 0) if local else None)
    commands = []
    try:
        writer.write(payload)
        await writer.drain()
        while line := await asyncio.wait_for(reader.readline(), 10):
            command = line.decode().strip()
            commands.append(command)
            reply = next((r for c, r in (replies or {}).items() if command.startswith(c)),
                         "200 result=1")
            writer.write(f"{reply}\n".encode())
            await writer.drain()
    except ConnectionResetError:
        pass  # closed by astguard before it read everything (a refused connection)
    writer.close()
    return commands


async def eventually(condition, what: str) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


# Peers and the connection cap ----------------------------------------------------------------

@pytest.fixture
async def guarded() -> AsyncIterator[tuple[HardenedFastAGI, int, RecordingGate, Metrics]]:
    metrics = Metrics()
    app = HardenedFastAGI(read_timeout=5.0, metrics=metrics, max_connections=2,
                          allowed_peers=(ipaddress.ip_network("127.0.0.2/32"),))
    gate = RecordingGate()
    OutboundAgi(gate).install(app)
    server = await serve_fastagi(app, "127.0.0.2", 0)
    yield app, server.sockets[0].getsockname()[1], gate, metrics
    server.close()
    await server.wait_closed()


async def test_a_peer_not_allowed_is_closed_unserved(guarded):
    app, port, gate, metrics = guarded
    outbound = agi_request("outbound", "0612345678", "agent1", "", "", "")
    assert await play_asterisk(port, outbound, host="127.0.0.2", local="127.0.0.1") == []
    assert gate.calls == [] and app.refused["peer"] == 1
    assert 'astguard_agi_refused_total{reason="peer"} 1' in metrics.render()
    # The allowed peer is served.
    commands = await play_asterisk(port, outbound, host="127.0.0.2", local="127.0.0.2")
    assert commands[0].startswith("SET VARIABLE ASTGUARD_RESULT") and len(gate.calls) == 1


async def test_connections_beyond_the_cap_are_closed_unserved(guarded):
    app, port, gate, metrics = guarded
    held = [await asyncio.open_connection("127.0.0.2", port, local_addr=("127.0.0.2", 0))
            for _ in range(2)]  # two peers that say nothing yet
    await eventually(lambda: app.active == 2, "two open connections")
    outbound = agi_request("outbound", "0612345678", "agent1", "", "", "")
    assert await play_asterisk(port, outbound, host="127.0.0.2", local="127.0.0.2") == []
    assert gate.calls == [] and app.refused["busy"] == 1
    assert 'astguard_agi_refused_total{reason="busy"} 1' in metrics.render()
    for _, writer in held:
        writer.close()
    await eventually(lambda: app.active == 0, "the held connections closed")
    assert await play_asterisk(port, outbound, host="127.0.0.2", local="127.0.0.2")


def test_peers_are_matched_by_network_and_ipv4_mapped_addresses():
    app = HardenedFastAGI.__new__(HardenedFastAGI)
    app.allowed_peers = (ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("::1/128"))
    assert app.peer_allowed(("10.1.2.3", 4573)) and app.peer_allowed(("::1", 1, 0, 0))
    assert app.peer_allowed(("::ffff:10.1.2.3", 1, 0, 0))
    assert not app.peer_allowed(("10.2.0.1", 1)) and not app.peer_allowed(None)


# A request acts on its own call only ---------------------------------------------------------

@pytest.fixture
async def decided(request, db: Database, directory, spool_dir) -> str:  # noqa: F811
    """An allowed call to NUMBER, decided on channel chan-A for endpoint ENDPOINT: both are
    the test's own, so that "the endpoint's last call" is this one."""
    global NUMBER, ENDPOINT
    n = zlib.crc32(request.node.name.encode()) % 10_000
    NUMBER, ENDPOINT = f"+3361234{n:04d}", f"sec-agent{n}"
    await give_consent(db, "gate-acme", NUMBER)
    await directory.set_endpoint(ENDPOINT, "gate-prospect", [], "Sec")
    gate = make_gate(db, spool_dir)
    done = await gate.check(CallRequest(NUMBER, "agi", endpoint=ENDPOINT,
                                        channel_id="chan-A"), record=True)
    assert done.verdict.allowed and done.recorded
    return done.decision_id


@pytest.fixture
async def routes(db: Database, spool_dir: Path, tmp_path: Path
                 ) -> AsyncIterator[tuple[HardenedFastAGI, int]]:
    app = HardenedFastAGI(read_timeout=5.0)
    binding = ChannelBinding(DecisionBindings(db))
    gate = make_gate(db, spool_dir)
    OutboundAgi(gate, binding).install(app)
    ContactsAgi(ContactService(db, PinnedClock(OPEN), RULES), binding).install(app)
    recording = RecordingService(InboundStore(db), SystemClock())
    inbound = InboundStasisApp(None, recording, None,  # type: ignore[arg-type]
                               RecordingPaths(str(tmp_path), tmp_path, tmp_path))
    OutboundRecordingAgi(recording, inbound, binding).install(app)
    server = await serve_fastagi(app, "127.0.0.1", 0)
    yield app, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def _blocks(db: Database) -> int:
    async with db.connection() as conn:
        return await conn.fetchval("SELECT count(*) FROM contact_blocks WHERE number_e164 = $1",
                                   NUMBER)


async def test_in_call_code_from_another_channel_is_refused(db, decided, routes):
    app, port = routes
    replies = {"GET VARIABLE ASTGUARD_DECISION_ID": f"200 result=1 ({decided})"}
    commands = await play_asterisk(port, agi_request("feature", "opposition", uniqueid="chan-B"),
                                   replies)
    assert commands == ["GET VARIABLE ASTGUARD_DECISION_ID"]  # no confirmation played
    assert app.refused["binding"] == 1 and await _blocks(db) == 0
    # From the decision's own channel, the opposition is recorded and confirmed.
    commands = await play_asterisk(port, agi_request("feature", "opposition"), replies)
    assert commands[-1] == 'STREAM FILE astguard/enregistre-opposition ""'
    assert await _blocks(db) == 1


async def test_short_code_naming_another_endpoint_is_refused(db, decided, routes):
    app, port = routes
    commands = await play_asterisk(port, agi_request(
        "code", "refusal", ENDPOINT, "", channel="PJSIP/intruder-0000000a"))
    assert commands == [] and app.refused["binding"] == 1 and await _blocks(db) == 0
    commands = await play_asterisk(port, agi_request(
        "code", "refusal", ENDPOINT, "", channel=f"PJSIP/{ENDPOINT}-0000000b"))
    assert commands == ['SET VARIABLE ASTGUARD_CODE_PROMPT "enregistre-refus"']
    assert await _blocks(db) == 1


async def test_outcome_from_another_channel_is_refused(db, decided, routes):
    app, port = routes
    await play_asterisk(port, agi_request("outcome", decided, "ANSWER", "16", "42",
                                          uniqueid="chan-B"))
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT outcome_at FROM decisions WHERE id = $1",
                                   decided) is None
    assert app.refused["binding"] == 1


@pytest.mark.parametrize("agent_channel", ["chan-X", "chan-A"])
async def test_recording_of_a_channel_not_the_decisions_is_refused(db, decided, routes,
                                                                   agent_channel):
    app, port = routes
    store = RecordingService(InboundStore(db), SystemClock())
    await store.set_policy("+33162123456", "announce")  # the call's presented number
    try:
        # chan-X: not the decision's agent channel; chan-A: the agent's own channel named as
        # the consumer's (a recording of whatever channel the request names).
        commands = await play_asterisk(port, agi_request(
            "outbound-recording", decided, agent_channel, uniqueid="chan-A",
            channel="PJSIP/somebody-00000001"))
    finally:
        await store.set_policy("+33162123456", "off")  # other tests present this number
    assert commands == [] and app.refused["binding"] == 1
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbound_calls WHERE decision_id = $1",
                                   decided) == 0


def test_endpoint_of_a_channel():
    assert endpoint_of("PJSIP/agent1-0000002a") == "agent1"
    assert endpoint_of("PJSIP/agent-with-dash-0000002a") == "agent-with-dash"
    assert endpoint_of("Local/123@ctx-00000001;2") == ""


def test_objection_only_from_a_channel_bridged_to_the_recording():
    check_bridged_to("PJSIP/carrier-00000002", "PJSIP/carrier-00000002")
    check_bridged_to("PJSIP/carrier-00000002", "Local/desk@queue-0001;1")  # cannot follow
    check_bridged_to(None, "")  # nothing recorded: nothing to stop, nothing refused
    with pytest.raises(AgiRefused):
        check_bridged_to("PJSIP/carrier-00000002", "PJSIP/other-00000009")
    with pytest.raises(AgiRefused):
        check_bridged_to("PJSIP/carrier-00000002", "")


class _MixMonitor:
    """AMI's MixMonitor as the recorder sees it: which channels it started and stopped."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []

    async def start(self, channel: str, file: str) -> None:
        self.started.append(channel)

    async def stop(self, channel: str) -> None:
        self.stopped.append(channel)


async def test_objection_from_a_channel_not_bridged_to_the_recording_is_refused(db, tmp_path):
    store = InboundStore(db)
    recording = RecordingService(store, SystemClock())
    did = "+33162129911"
    policy = await recording.set_policy(did, "announce")
    call_id, consumer = str(uuid.uuid4()), "PJSIP/carrier-00000002"
    await store.start_call(call_id, channel_id="cons-1", did=did, caller="+33612349911",
                           at=dt.datetime.now(dt.UTC), mode="announce", prompt=policy.prompt,
                           prompt_sha256=None, retention_class=policy.retention_class,
                           clock_mode="system", direction="outbound")
    fake, mixmonitor = FakeAri(), _MixMonitor()
    await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            inbound = InboundStasisApp(
                AriClient(session, fake.url, "astguard", "secret", "astguard"), recording,
                mixmonitor, RecordingPaths(str(tmp_path), tmp_path, tmp_path))
            assert await inbound.record_answered_call(call_id, "cons-1", consumer, policy,
                                                      "agent-1") is None
            app = HardenedFastAGI(read_timeout=5.0)
            InboundAgi(inbound).install(app)
            server = await serve_fastagi(app, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            try:
                asked = {"GET VARIABLE ASTGUARD_INBOUND_CALL": f"200 result=1 ({call_id})"}
                elsewhere = {**asked,
                             "GET VARIABLE BRIDGEPEER": "200 result=1 (PJSIP/other-00000009)"}
                commands = await play_asterisk(port, agi_request("objection"), elsewhere)
                assert commands == ["GET VARIABLE ASTGUARD_INBOUND_CALL",
                                    "GET VARIABLE BRIDGEPEER"]
                assert app.refused["binding"] == 1 and mixmonitor.stopped == []
                kinds = [e["kind"] for e in (await store.call_evidence(call_id))["events"]]
                assert "objection" not in kinds
                # The agent bridged to the recorded consumer is heard.
                bridged = {**asked, "GET VARIABLE BRIDGEPEER": f"200 result=1 ({consumer})"}
                commands = await play_asterisk(port, agi_request("objection"), bridged)
                assert commands[-1] == 'STREAM FILE astguard/enregistrement-arrete ""'
                assert mixmonitor.stopped == [consumer]
            finally:
                server.close()
                await server.wait_closed()
                await inbound.drain()
    finally:
        await fake.stop()
