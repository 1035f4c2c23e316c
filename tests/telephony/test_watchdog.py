"""The trunk watchdog against the recording fake ARI and the real PostgreSQL: a trunk channel
without a valid token is hung up and recorded; a guarded one is left alone; emergency numbers
are recorded and never hung up; alert mode only records."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from astguard.metrics import Metrics
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store import audit
from astguard.store.unguarded import UnguardedStore
from astguard.telephony.ari import AriClient
from astguard.telephony.call_token import CallTokens
from astguard.telephony.watchdog import (
    REMOTE_URI,
    TrunkWatchdog,
    dialled_number,
    trunk_endpoint,
)
from tests.telephony.fake_ari import FakeAri

pytestmark = pytest.mark.db

TOKENS = CallTokens("k" * 40, 300)
TRUNKS = frozenset({"carrier"})


@pytest.fixture
async def env(db):
    fake = FakeAri()
    await fake.start()
    async with aiohttp.ClientSession() as session:
        ari = AriClient(session, fake.url, "astguard", "secret", "astguard-watchdog")
        yield fake, ari, db
    await fake.stop()


def watchdog(ari, db, metrics, mode="hangup") -> TrunkWatchdog:
    return TrunkWatchdog(ari, TOKENS, UnguardedStore(db), metrics, trunks=TRUNKS, mode=mode,
                         emergency_numbers=frozenset(DEFAULT_EMERGENCY), node="test")


async def dial(dog: TrunkWatchdog, number: str, *, endpoint: str = "carrier",
               state: str = "Down", caller: dict | None = None,
               fake: FakeAri | None = None, linkedid: str | None = None) -> str:
    """What Asterisk sends when a channel is dialled towards `endpoint`."""
    channel_id = f"{time.time():.6f}-{uuid.uuid4().hex[:6]}"
    if fake is not None and linkedid:
        fake.variables[(channel_id, "CHANNEL(linkedid)")] = linkedid
    channel = {"id": channel_id, "name": f"PJSIP/{endpoint}-0000{uuid.uuid4().hex[:4]}",
               "state": state, "caller": {"number": "0162123456"}, "linkedid": "L1"}
    dog.handle({"type": "ChannelCreated", "timestamp": "2026-11-26T10:00:00.000+0000",
                "channel": channel})
    dog.handle({"type": "Dial", "dialstatus": "", "dialstring": f"{number}@{endpoint}",
                "peer": channel, **({"caller": caller} if caller else {})})
    await dog.drain()
    return channel_id


async def rows_for(db, channel_id: str) -> list[dict]:
    async with db.connection() as conn:
        return [dict(r) for r in await conn.fetch(
            "SELECT u.*, c.seq FROM unguarded_calls u LEFT JOIN evidence_chain c "
            "ON c.kind = 'unguarded_call' AND c.ref = u.id::text WHERE channel_id = $1",
            channel_id)]


async def test_a_trunk_channel_without_token_is_hung_up_and_recorded(env):
    fake, ari, db = env
    metrics = Metrics()
    dog = watchdog(ari, db, metrics)
    channel_id = await dial(dog, "0612345678",
                            caller={"name": "Local/0612345678@lab-unguarded-00000001;2"},
                            fake=fake, linkedid="1795683875.2")
    assert f"/channels/{channel_id}" in fake.paths("DELETE")
    (row,) = await rows_for(db, channel_id)
    assert row["action"] == "hung_up" and row["problem"] == "aucun jeton astguard"
    assert row["number_e164"] == "+33612345678" and row["endpoint"] == "carrier"
    assert row["originator"] == "Local/0612345678@lab-unguarded-00000001;2"
    assert row["hung_up_at"] is not None and row["lifetime_ms"] is not None
    assert row["linkedid"] == "1795683875.2"
    assert row["seq"] is not None  # linked into the evidence chain
    assert metrics.value("astguard_unguarded_calls_total", endpoint="carrier",
                         action="hung_up") == 1
    exposed = [(s.labels, s.value) for f in text_string_to_metric_families(metrics.render())
               for s in f.samples if s.name == "astguard_unguarded_calls_total"]
    assert exposed == [({"endpoint": "carrier", "action": "hung_up"}, 1.0)]
    result = await audit.verify(db)
    assert result.ok, result.first_break
    assert result.by_kind.get("unguarded_call", 0) >= 1


async def test_a_guarded_channel_is_left_alone(env):
    fake, ari, db = env
    metrics = Metrics()
    dog = watchdog(ari, db, metrics)
    channel_id = f"g-{uuid.uuid4().hex[:8]}"
    fake.variables[(channel_id, "ASTGUARD_TOKEN")] = TOKENS.issue(str(uuid.uuid4()),
                                                                  "+33612345678")
    channel = {"id": channel_id, "name": "PJSIP/carrier-0000abcd", "state": "Down"}
    dog.handle({"type": "ChannelCreated", "channel": channel})
    dog.handle({"type": "Dial", "dialstatus": "", "dialstring": "+33612345678@carrier",
                "peer": channel})
    await dog.drain()
    assert fake.paths("DELETE") == [] and await rows_for(db, channel_id) == []
    assert metrics.value("astguard_trunk_channels_checked_total", result="valid") == 1


@pytest.mark.parametrize(("token", "problem"), [
    ("not-a-token", "jeton illisible"),
    (CallTokens("f" * 40, 300).issue(str(uuid.uuid4()), "+33612345678"), "falsifié"),
    (TOKENS.issue(str(uuid.uuid4()), "+33699999999"), "autre numéro"),
])
async def test_a_forged_or_moved_token_is_refused(env, token, problem):
    fake, ari, db = env
    dog = watchdog(ari, db, Metrics())
    channel_id = f"f-{uuid.uuid4().hex[:8]}"
    fake.variables[(channel_id, "ASTGUARD_TOKEN")] = token
    channel = {"id": channel_id, "name": "PJSIP/carrier-0000abce", "state": "Down"}
    dog.handle({"type": "ChannelCreated", "channel": channel})
    dog.handle({"type": "Dial", "dialstatus": "", "dialstring": "0612345678@carrier",
                "peer": channel})
    await dog.drain()
    assert f"/channels/{channel_id}" in fake.paths("DELETE")
    (row,) = await rows_for(db, channel_id)
    assert problem in row["problem"] and row["action"] == "hung_up"


async def test_emergency_numbers_are_recorded_never_hung_up(env):
    fake, ari, db = env
    dog = watchdog(ari, db, Metrics())
    channel_id = await dial(dog, "112")
    assert fake.paths("DELETE") == []
    (row,) = await rows_for(db, channel_id)
    assert row["action"] == "emergency_kept" and row["emergency"] and row["hung_up_at"] is None


async def test_alert_mode_records_without_hanging_up(env):
    fake, ari, db = env
    dog = watchdog(ari, db, Metrics(), mode="alert")
    channel_id = await dial(dog, "0612345678")
    assert fake.paths("DELETE") == []
    (row,) = await rows_for(db, channel_id)
    assert row["action"] == "alerted" and row["mode"] == "alert"


async def test_inbound_and_other_endpoints_are_not_watched(env):
    fake, ari, db = env
    dog = watchdog(ari, db, Metrics())
    inbound = await dial(dog, "0170000001", state="Ring")  # a call from the carrier
    agent = await dial(dog, "0612345678", endpoint="agent1")
    assert fake.paths() == []
    assert await rows_for(db, inbound) == [] and await rows_for(db, agent) == []


async def test_unguarded_rows_are_append_only(env):
    fake, ari, db = env
    dog = watchdog(ari, db, Metrics())
    channel_id = await dial(dog, "0612345678")
    async with db.connection() as conn:
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("DELETE FROM unguarded_calls WHERE channel_id = $1", channel_id)


def test_channel_names_and_dial_strings():
    assert trunk_endpoint("PJSIP/carrier-0000002a", TRUNKS) == "carrier"
    assert trunk_endpoint("PJSIP/carrier-ringing-0000002a", TRUNKS) is None
    assert trunk_endpoint("PJSIP/agent1-0000002a", TRUNKS) is None
    assert trunk_endpoint("Local/x@carrier-00000001;1", TRUNKS) is None
    assert dialled_number("0612345678@carrier") == "0612345678"
    assert dialled_number("carrier/sip:+33612345678@10.0.0.1:5060") == "+33612345678"


async def test_with_postgresql_away_the_row_waits_in_the_spool(env, tmp_path):
    from astguard.store.database import Database
    from astguard.store.spool import Spool
    from tests.conftest import UNREACHABLE_DB

    fake, ari, db = env
    from astguard.store.unguarded import replay_unguarded

    spool = Spool(tmp_path / "spool")
    spool.prepare()
    spool.register("unguarded_call", replay_unguarded)  # as the service does
    away = Database(UNREACHABLE_DB, timeout=0.5)
    try:
        dog = TrunkWatchdog(ari, TOKENS, UnguardedStore(away), Metrics(), trunks=TRUNKS,
                            mode="hangup", emergency_numbers=frozenset(DEFAULT_EMERGENCY),
                            node="test", spool=spool)
        channel_id = await dial(dog, "0612345678")
    finally:
        await away.close()
    assert f"/channels/{channel_id}" in fake.paths("DELETE")  # hung up all the same
    assert spool.depth() == 1 and await rows_for(db, channel_id) == []
    assert await spool.flush(db) == 1
    (row,) = await rows_for(db, channel_id)
    assert row["action"] == "hung_up" and row["seq"] is not None


def _live(channel_id: str, name: str, state: str, created: str) -> dict:
    return {"id": channel_id, "name": name, "state": state, "creationtime": created,
            "caller": {"number": "0162123456"}, "connected": {"number": "0162123456"},
            "linkedid": channel_id}


async def test_at_connection_the_live_trunk_channels_are_swept(env):
    """Events are not replayed: channels dialled while the websocket was down (or before
    astguard started) are checked when it connects. An unguarded one is hung up; a guarded
    call answered ten minutes ago keeps going although its token has expired since; a call
    the carrier sent in and an agent's phone are left alone."""
    fake, ari, db = env
    dog = watchdog(ari, db, Metrics())
    ten_minutes_ago = time.time() - 600
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(ten_minutes_ago))
    tag = uuid.uuid4().hex[:6]
    unguarded, guarded, incoming, agent = (f"{k}-{tag}" for k in ("u", "g", "i", "a"))
    fake.channels = [
        _live(unguarded, "PJSIP/carrier-00000011", "Up", created),
        _live(guarded, "PJSIP/carrier-00000012", "Up", created),
        _live(incoming, "PJSIP/carrier-00000013", "Up", created),
        _live(agent, "PJSIP/agent1-00000014", "Up", created),
    ]
    fake.variables[(unguarded, REMOTE_URI)] = "<sip:0612345670@192.0.2.1>"
    fake.variables[(guarded, REMOTE_URI)] = '"x" <sip:0612345671@192.0.2.1;user=phone>'
    fake.variables[(guarded, "ASTGUARD_TOKEN")] = TOKENS.issue(
        str(uuid.uuid4()), "+33612345671", now=ten_minutes_ago - 1)
    fake.variables[(incoming, "CHANNEL(pjsip,request_uri)")] = "sip:0170000001@pbx"
    runner = asyncio.create_task(ari.run(dog.handle))
    try:
        await fake.wait_connects(1)
        async with asyncio.timeout(5):
            while f"/channels/{unguarded}" not in fake.paths("DELETE"):
                await asyncio.sleep(0.01)
        await dog.drain()
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    assert fake.paths("DELETE") == [f"/channels/{unguarded}"]
    (row,) = await rows_for(db, unguarded)
    assert row["dialled"] == "0612345670" and row["action"] == "hung_up"
    assert row["problem"] == "aucun jeton astguard"
    for kept in (guarded, incoming, agent):
        assert await rows_for(db, kept) == []


async def test_a_missed_dial_event_takes_the_number_from_the_channel_not_its_connected_line(
        env):
    """Without the Dial event, the check at the state change reads the number the channel
    dialled (its To header): the connected line of an outbound leg is the caller's, and a
    guarded call checked against it would be hung up."""
    fake, ari, db = env
    dog = watchdog(ari, db, Metrics())
    channel_id = f"s-{uuid.uuid4().hex[:8]}"
    fake.variables[(channel_id, REMOTE_URI)] = "<sip:0612345678@192.0.2.1>"
    fake.variables[(channel_id, "ASTGUARD_TOKEN")] = TOKENS.issue(str(uuid.uuid4()),
                                                                  "+33612345678")
    channel = {"id": channel_id, "name": "PJSIP/carrier-0000abcf", "state": "Down",
               "connected": {"number": "0162123456"}}
    dog.handle({"type": "ChannelCreated", "channel": channel})
    dog.handle({"type": "ChannelStateChange", "channel": {**channel, "state": "Ringing"}})
    await dog.drain()
    assert fake.paths("DELETE") == [] and await rows_for(db, channel_id) == []


def test_the_number_in_a_pjsip_uri():
    from astguard.telephony.watchdog import uri_user

    assert uri_user("<sip:0612345678@127.0.0.1>") == "0612345678"
    assert uri_user('"Anonymous" <sips:+33612345678@carrier;user=phone>') == "+33612345678"
    assert uri_user("sip:112@carrier:5060") == "112"
    assert uri_user("<sip:carrier.example>") == ""  # no user part: no number
    assert uri_user("<tel:+33612345678;phone-context=x>") == "+33612345678"
    assert uri_user("") == ""
