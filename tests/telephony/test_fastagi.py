"""FastAGI hardening: truncated, silent and oversized requests never stall other calls;
sync handlers work; the outbound route sets ASTGUARD_RESULT."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from astguard.telephony.fastagi import HardenedFastAGI, OutboundAgi, serve_fastagi
from tests.telephony.test_stasis import RecordingGate

HEADERS = (
    "agi_network: yes\n"
    "agi_network_script: {script}\n"
    "agi_channel: {channel}\n"
    "agi_uniqueid: 1700000000.1\n"
    "agi_callerid: 1001\n"
    "agi_extension: 0612345678\n"
    "{args}"
    "\n"
)


def request(script: str, *args: str, channel: str = "PJSIP/agent1-00000001") -> bytes:
    numbered = "".join(f"agi_arg_{i}: {a}\n" for i, a in enumerate(args, 1))
    return HEADERS.format(script=script, args=numbered, channel=channel).encode()


@pytest.fixture
async def agi() -> AsyncIterator[tuple[HardenedFastAGI, int, RecordingGate]]:
    app = HardenedFastAGI(read_timeout=0.5)
    gate = RecordingGate()
    OutboundAgi(gate).install(app)
    seen: list[str] = []

    def sync_route(req):  # a plain function: panoramisk 1.4 would crash on it
        seen.append(req.headers["agi_extension"])

    app.add_route("sync", sync_route)
    app.seen = seen
    server = await serve_fastagi(app, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield app, port, gate
    server.close()
    await server.wait_closed()


async def play_asterisk(port: int, payload: bytes) -> list[str]:
    """Act as Asterisk: send the request, answer every command with 200, collect commands."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    commands = []
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        if not line:
            break
        commands.append(line.decode().strip())
        writer.write(b"200 result=1\n")
        await writer.drain()
    writer.close()
    return commands


async def test_outbound_sets_the_result_variable(agi):
    app, port, gate = agi
    commands = await play_asterisk(port, request("outbound", "0612345678", "agent1", "", "", ""))
    assert commands == [
        'SET VARIABLE ASTGUARD_RESULT '
        '"allow|dec-1|||+33612345678|CALLER_ID_NOT_AUTHORISED|+33162123456|"']
    assert gate.calls[0].source == "agi" and gate.calls[0].channel_id == "1700000000.1"


async def test_outbound_refusal_sets_prompt_and_cause(agi):
    app, port, gate = agi
    commands = await play_asterisk(port, request("outbound", "0612345678", "nobody", "", "", "",
                                                 channel="PJSIP/nobody-00000002"))
    assert commands == ['SET VARIABLE ASTGUARD_RESULT '
                        '"deny|dec-1|21|refus-campagne|+33612345678|PURPOSE_UNCLASSIFIED||"']


async def test_the_channels_own_endpoint_wins_over_the_argument(agi):
    # A phone's endpoint is the one Asterisk names the channel after, not what the arguments
    # say: agent1's channel passing another endpoint is judged as agent1 (R-A).
    app, port, gate = agi
    await play_asterisk(port, request("outbound", "0612345678", "", "service", "", "",
                                      channel="PJSIP/agent1-00000003"))
    assert gate.calls[0].endpoint == "agent1" and gate.calls[0].campaign_name == "service"


async def test_outcome_route(agi):
    app, port, gate = agi
    await play_asterisk(port, request("outcome", "dec-9", "ANSWER", "16", "42"))
    (decision_id, outcome), = gate.outcomes
    assert decision_id == "dec-9" and outcome.answered and outcome.duration_s == 42.0


async def test_sync_handlers_are_accepted(agi):
    app, port, gate = agi
    await play_asterisk(port, request("sync"))
    assert app.seen == ["0612345678"]


async def test_truncated_request_does_not_stall_others(agi):
    app, port, gate = agi
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_network: yes\nagi_network_scr")  # then the connection closes
    await writer.drain()
    writer.close()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    commands = await play_asterisk(port, request("outbound", "0612345678", "agent1", "", "", ""))
    assert commands and loop.time() - t0 < 0.4  # served at once, not after any timeout
    async with asyncio.timeout(2):
        while app.bad_requests < 1:
            await asyncio.sleep(0.01)


async def test_silent_connection_is_dropped_and_others_go_on(agi):
    app, port, gate = agi
    reader, writer = await asyncio.open_connection("127.0.0.1", port)  # says nothing
    commands = await play_asterisk(port, request("outbound", "0612345678", "agent1", "", "", ""))
    assert commands
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the server
    assert app.bad_requests == 1
    writer.close()


async def test_oversized_request_is_refused(agi):
    app, port, gate = agi
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_x: " + b"y" * 40_000 + b"\n\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert app.bad_requests == 1 and gate.calls == []
    writer.close()


async def test_asterisk_hanging_up_mid_command_is_handled(agi):
    app, port, gate = agi
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("outbound", "0612345678", "agent1", "", "", ""))
    await writer.drain()
    await reader.readline()  # the first SET VARIABLE, then Asterisk goes away
    writer.close()
    async with asyncio.timeout(2):
        while app.bad_requests < 1:
            await asyncio.sleep(0.01)


async def test_unknown_route_is_closed(agi):
    app, port, gate = agi
    assert await play_asterisk(port, request("nope")) == []


@contextlib.asynccontextmanager
async def outbound_with_tokens(tokens) -> AsyncIterator[int]:
    """A FastAGI server with the outbound routes and this token issuer; yields its port."""
    app = HardenedFastAGI(read_timeout=0.5)
    OutboundAgi(RecordingGate(), tokens=tokens).install(app)
    server = await serve_fastagi(app, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_allowed_call_gets_its_token_before_the_verdict():
    from astguard.telephony.call_token import CallTokens

    tokens = CallTokens("k" * 40, 300)
    async with outbound_with_tokens(tokens) as port:
        allowed = await play_asterisk(port, request("outbound", "0612345678", "agent1", "", "",
                                                    ""))
        refused = await play_asterisk(port, request("outbound", "0612345678", "nobody", "", "",
                                                    "", channel="PJSIP/nobody-00000002"))
    assert allowed[0].startswith('SET VARIABLE __ASTGUARD_TOKEN "')
    assert tokens.verify(allowed[0].split('"')[1], "+33612345678").valid
    assert allowed[1].startswith("SET VARIABLE ASTGUARD_RESULT")
    assert [c for c in refused if "TOKEN" in c] == []


async def test_a_failover_reuses_only_a_decision_astguard_signed_for_this_number():
    """FreePBX's hook on the route's next trunk (R-D6): /reuse answers the verdict astguard
    recorded, only for a token it signed for this number and an allow it made; variables an
    originator set by hand, a token for another number or a forged one are decided anew."""
    from astguard.telephony.call_token import CallTokens

    tokens = CallTokens("k" * 40, 300)
    async with outbound_with_tokens(tokens) as port:
        allowed = await play_asterisk(port, request("outbound", "0612345678", "agent1", "", "",
                                                    ""))
        token = allowed[0].split('"')[1]
        genuine = await play_asterisk(port, request("reuse", token, "0612345678"))
        other_number = await play_asterisk(port, request("reuse", token, "0699999999"))
        forged = await play_asterisk(port, request(
            "reuse", CallTokens("f" * 40, 300).issue("dec-1", "+33612345678"), "0612345678"))
        unknown = await play_asterisk(port, request(
            "reuse", tokens.issue("dec-never-made", "+33612345678"), "0612345678"))
        empty = await play_asterisk(port, request("reuse", "", "0612345678"))
    assert genuine == [allowed[1], 'SET VARIABLE ASTGUARD_REUSED "1"']
    assert other_number == forged == unknown == empty == []


async def test_an_allow_whose_token_could_not_be_set_has_its_outcome():
    # Asterisk goes away before answering the token's SET VARIABLE: no verdict is set, the
    # dialplan refuses the call, and no hangup handler will report it. The allow recorded
    # says so now instead of staying without an outcome (issue 14).
    from astguard.telephony.call_token import CallTokens
    from astguard.telephony.stasis import NOT_HANDED_OFF
    from astguard.values import NOT_DIALLED

    app = HardenedFastAGI(read_timeout=0.5)
    gate = RecordingGate()
    OutboundAgi(gate, tokens=CallTokens("k" * 40, 300)).install(app)
    server = await serve_fastagi(app, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("outbound", "0612345678", "agent1", "", "", ""))
        await writer.drain()
        assert (await reader.readline()).startswith(b"SET VARIABLE __ASTGUARD_TOKEN")
        writer.close()  # no reply
        async with asyncio.timeout(3):
            while app.bad_requests < 1:
                await asyncio.sleep(0.01)
    finally:
        server.close()
        await server.wait_closed()
    (decision_id, outcome), = gate.outcomes
    assert decision_id == "dec-1" and outcome.answered is False
    assert outcome.dial_status == NOT_DIALLED and outcome.hangup_cause_text == NOT_HANDED_OFF
