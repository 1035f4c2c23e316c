"""Agents' codes keyed while PostgreSQL is away (issue 11, item 7): through FastAGI /code and
/feature they go to the spool like a decision, the agent hears they were taken, and the
flusher writes them when the store is back: the consumer's next call is refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest

from astguard.clock import PinnedClock
from astguard.app.contacts import ContactService
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.bindings import DecisionBindings
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from astguard.telephony.agi_binding import ChannelBinding
from astguard.telephony.fastagi import ContactsAgi, HardenedFastAGI, serve_fastagi
from tests.conftest import UNREACHABLE_DB, give_consent, hold_number
from tests.telephony.test_fastagi import request

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # 11:00 Paris
LATER = FRIDAY + dt.timedelta(hours=2)


async def play_asterisk(port: int, payload: bytes, decision_id: str = "") -> list[str]:
    """Asterisk's side: every command gets 200; GET VARIABLE gets the decision id."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    commands = []
    while line := await asyncio.wait_for(reader.readline(), 10):
        command = line.decode().strip()
        commands.append(command)
        reply = f"200 result=1 ({decision_id})" if command.startswith("GET VARIABLE") \
            else "200 result=1"
        writer.write(reply.encode() + b"\n")
        await writer.drain()
    writer.close()
    await writer.wait_closed()
    return commands


@pytest.fixture
async def agi_down(spool_dir) -> AsyncIterator[tuple[int, Spool]]:
    """FastAGI's contact routes on a service whose PostgreSQL is unreachable."""
    down = Database(UNREACHABLE_DB, timeout=1.0)
    spool = Spool(spool_dir)
    app = HardenedFastAGI(read_timeout=5.0)
    ContactsAgi(ContactService(down, PinnedClock(LATER), RULES, spool=spool),
                ChannelBinding(DecisionBindings(down))).install(app)
    server = await serve_fastagi(app, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], spool
    server.close()
    await server.wait_closed()
    await down.close()


async def test_codes_keyed_during_an_outage_are_spooled_then_written(db, spool_dir, agi_down):
    port, spool = agi_down
    d = Directory(db)
    await d.add_principal("co-acme", "ACME")
    await hold_number(db, "co-acme")
    await d.set_campaign("co-prospect", "co-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("co-agent1", "co-prospect", [], "Alice")
    await d.set_endpoint("co-agent2", "co-prospect", [], "Bob")
    for e164 in ("+33612399001", "+33612399002"):
        await give_consent(db, "co-acme", e164)
    live = Gate(db=db, directory=d, spool=Spool(spool_dir / "gate"), clock=PinnedClock(FRIDAY),
                rules=RULES, node="co")
    short = await live.check(CallRequest("0612399001", "ari", endpoint="co-agent1"),
                             record=True)
    in_call = await live.check(CallRequest("0612399002", "ari", endpoint="co-agent2"),
                               record=True)
    assert short.verdict.allowed and in_call.verdict.allowed

    # PostgreSQL is away: the agents key their codes.
    # The short code comes from the agent's own channel (FastAGI checks it, issue 11).
    keyed = request("code", "refusal", "co-agent1", "").replace(
        b"PJSIP/agent1-00000001", b"PJSIP/co-agent1-00000007")
    after_call = await play_asterisk(port, keyed)
    during_call = await play_asterisk(port, request("feature", "opposition"),
                                      decision_id=in_call.decision_id)
    assert after_call == ['SET VARIABLE ASTGUARD_CODE_PROMPT "enregistre-refus"']
    assert during_call[-1] == 'STREAM FILE astguard/enregistre-opposition ""'
    assert spool.depth() == 2
    lines = [json.loads(line) for line in
             (spool_dir / "evidence.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["kind"], r["row"]["kind"]) for r in lines] == [("code", "refusal"),
                                                             ("code", "opposition")]

    # The store is back: the flusher writes them, dated when they were keyed.
    contacts = ContactService(db, PinnedClock(LATER + dt.timedelta(hours=1)), RULES,
                              spool=spool)
    spool.register("code", contacts.replay_code)
    assert await spool.flush(db) == 2
    async with db.connection() as conn:
        blocks = await conn.fetch(
            "SELECT kind, number_e164, recorded_at, source, agent, decision_id::text AS d "
            "FROM contact_blocks WHERE principal = 'co-acme' ORDER BY number_e164")
    assert [(b["kind"], b["number_e164"], b["source"], b["agent"], b["d"]) for b in blocks] == [
        ("opposition", "+33612399001", "short-code", "Alice", short.decision_id),  # R-D7
        ("opposition", "+33612399002", "dtmf", "Bob", in_call.decision_id)]
    assert all(b["recorded_at"] == LATER for b in blocks)
    for number, endpoint in (("0612399001", "co-agent1"), ("0612399002", "co-agent2")):
        again = await live.check(CallRequest(number, "ari", endpoint=endpoint), record=False)
        assert not again.verdict.allowed
        assert "GUARD_UNAVAILABLE" not in again.verdict.codes, again.verdict.codes


async def test_a_spooled_code_is_written_once(db, spool_dir):
    d = Directory(db)
    await d.add_principal("co-acme", "ACME")
    await hold_number(db, "co-acme")
    await d.set_campaign("co-prospect", "co-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("co-agent3", "co-prospect", [], "Carol")
    await give_consent(db, "co-acme", "+33612399003")
    live = Gate(db=db, directory=d, spool=Spool(spool_dir / "gate"), clock=PinnedClock(FRIDAY),
                rules=RULES, node="co")
    assert (await live.check(CallRequest("0612399003", "ari", endpoint="co-agent3"),
                             record=True)).verdict.allowed
    down = Database(UNREACHABLE_DB, timeout=1.0)
    spool = Spool(spool_dir)
    taken = await ContactService(down, PinnedClock(LATER), RULES, spool=spool) \
        .record_for_last_call("co-agent3", "refusal", source="short-code")
    await down.close()
    line = (spool_dir / "evidence.jsonl").read_text(encoding="utf-8")
    spool.register("code", ContactService(db, PinnedClock(LATER), RULES).replay_code)
    assert await spool.flush(db) == 1
    (spool_dir / "evidence.jsonl").write_text(line, encoding="utf-8")  # replayed after a crash
    assert await spool.flush(db) == 1  # found already there
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM contact_blocks WHERE reference = $1",
                                   f"spool:{taken.id}") == 1


async def test_a_code_with_no_call_to_attach_is_kept_aside(db, spool_dir):
    down = Database(UNREACHABLE_DB, timeout=1.0)
    spool = Spool(spool_dir)
    await ContactService(down, PinnedClock(LATER), RULES, spool=spool) \
        .record_for_last_call("co-nobody", "opposition", source="short-code")
    await down.close()
    spool.register("code", ContactService(db, PinnedClock(LATER), RULES).replay_code)
    assert await spool.flush(db) == 0
    kept = [json.loads(line) for f in (spool_dir / "rejected").iterdir()
            for line in f.read_text(encoding="utf-8").splitlines()]
    assert len(kept) == 1 and "co-nobody" in kept[0]["reason"]


async def test_astguard_spool_flush_writes_codes_and_decisions(db, database_url, spool_dir):
    """The CLI's flush (run while the service runs) knows every kind the service spools."""
    import os
    import subprocess
    import sys

    d = Directory(db)
    await d.add_principal("co-acme", "ACME")
    await hold_number(db, "co-acme")
    await d.set_campaign("co-prospect", "co-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("co-agent4", "co-prospect", [], "Dan")
    await give_consent(db, "co-acme", "+33612399004")
    live = Gate(db=db, directory=d, spool=Spool(spool_dir / "gate"), clock=PinnedClock(FRIDAY),
                rules=RULES, node="co")
    assert (await live.check(CallRequest("0612399004", "ari", endpoint="co-agent4"),
                             record=True)).verdict.allowed
    down = Database(UNREACHABLE_DB, timeout=1.0)
    spool = Spool(spool_dir)
    await ContactService(down, PinnedClock(LATER), RULES, spool=spool) \
        .record_for_last_call("co-agent4", "opposition", source="short-code")
    refused = await Gate(db=down, directory=Directory(down), spool=spool,
                         clock=PinnedClock(LATER), rules=RULES, node="co").check(
        CallRequest("0612399004", "ari", endpoint="co-agent4"), record=True)
    await down.close()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path),
           "ASTGUARD_DATABASE_URL": database_url, "ASTGUARD_SPOOL_DIR": str(spool_dir)}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "astguard", "spool", "flush"], env=env,
        text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].endswith(" 2"), done.stdout
    rejected = spool_dir / "rejected"
    assert not rejected.exists() or not list(rejected.iterdir())
    async with db.connection() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM contact_blocks WHERE principal = 'co-acme' "
            "AND number_e164 = '+33612399004' AND kind = 'opposition'") == 1
        assert "GUARD_UNAVAILABLE" in await conn.fetchval(
            "SELECT reason_codes FROM decisions WHERE id = $1", refused.decision_id)
