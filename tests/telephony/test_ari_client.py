"""The ARI client against the recording fake: auth, errors, reconnection without spinning."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from astguard.errors import AriError
from astguard.telephony.ari import AriClient
from tests.telephony.fake_ari import FakeAri


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    server = FakeAri()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def client(session, fake, password="secret", **kw) -> AriClient:
    return AriClient(session, fake.url, "astguard", password, "astguard", **kw)


async def test_credentials_travel_in_a_header_never_in_the_url(session, fake):
    ari = client(session, fake)
    await ari.set_variable("chan-1", "ASTGUARD_VERDICT", "allow")
    seen = fake.requests[-1]
    assert seen.path == "/channels/chan-1/variable"
    assert seen.query == {"variable": "ASTGUARD_VERDICT", "value": "allow"}
    assert seen.auth and seen.auth.startswith("Basic ")
    assert "secret" not in str(seen.query) and "api_key" not in seen.query


async def test_http_errors_raise_ari_error_with_status(session, fake):
    ari = client(session, fake, password="wrong")
    with pytest.raises(AriError) as info:
        await ari.continue_in_dialplan("chan-1")
    assert info.value.status == 401


async def test_unreachable_asterisk_raises_ari_error(session):
    ari = AriClient(session, "http://127.0.0.1:1/ari", "u", "p", "astguard")
    with pytest.raises(AriError):
        await ari.hangup("chan-1", 21)


async def test_events_are_delivered_in_order(session, fake):
    ari = client(session, fake)
    got: list[int] = []
    task = asyncio.create_task(ari.run(lambda e: got.append(e["n"])))
    await fake.wait_connects(1)
    for n in range(20):
        await fake.send({"type": "Test", "n": n})
    async with asyncio.timeout(5):
        while len(got) < 20:
            await asyncio.sleep(0.01)
    assert got == list(range(20))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_reconnects_after_a_dropped_websocket(session, fake):
    ari = client(session, fake, backoff_initial=0.05)
    got: list[str] = []
    task = asyncio.create_task(ari.run(lambda e: got.append(e["type"])))
    await fake.wait_connects(1)
    await fake.drop()
    await fake.wait_connects(2)
    await ari.connected.wait()
    await fake.send({"type": "AfterReconnect"})
    async with asyncio.timeout(5):
        while "AfterReconnect" not in got:
            await asyncio.sleep(0.01)
    assert ari.connections == 2
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_backs_off_instead_of_spinning_while_asterisk_is_away(session, fake):
    fake.refuse_ws = True
    ari = client(session, fake, backoff_initial=0.05, backoff_max=0.4)
    task = asyncio.create_task(ari.run(lambda e: None))
    await asyncio.sleep(1.5)
    # 0.05 s doubling to 0.4 s (with jitter down to half) allows about a dozen tries in 1.5 s;
    # a client that spins on a refused upgrade makes hundreds.
    assert 3 <= fake.ws_attempts <= 15
    assert fake.ws_connects == 0 and not ari.connected.is_set()
    fake.refuse_ws = False
    await fake.wait_connects(1, timeout=3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_failing_handler_does_not_stop_the_event_loop(session, fake):
    ari = client(session, fake)
    got: list[str] = []

    def handler(event):
        if event["type"] == "Boom":
            raise RuntimeError("handler bug")
        got.append(event["type"])

    task = asyncio.create_task(ari.run(handler))
    await fake.wait_connects(1)
    await fake.send({"type": "Boom"})
    await fake.send({"type": "Fine"})
    async with asyncio.timeout(5):
        while "Fine" not in got:
            await asyncio.sleep(0.01)
    # The client's own "connected" event first (the app reconciles on it), then Asterisk's.
    assert got == ["AstguardConnected", "Fine"] and ari.connections == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
