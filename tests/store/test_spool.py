"""The spool against its own faults and the evidence against lost acknowledgements (issue 11,
items 9 and 10), on the real PostgreSQL and real files (a tmpfs for the full disk)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import subprocess
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from astguard.clock import PinnedClock
from astguard.app.gate import Gate
from astguard.metrics import Metrics
from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.evidence import EvidenceStore, evidence_row, insert_decision
from astguard.store.spool import Spool
from tests.conftest import PG_SERVER, UNREACHABLE_DB, give_consent, hold_number
from tests.policy.facts import CONSENTED, INVENTORY
from tests.store.faults import LostAcknowledgement

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
OPEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris


def row(decision: str = "allow", number: str = "0612345678") -> dict:
    campaign = Campaign("sp", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                        scope="energie")
    call = CallRequest(number, "ari", endpoint="sp-agent", channel_id="chan-sp")
    facts = Facts(campaign, "campagne par défaut", history=CONSENTED, inventory=INVENTORY)
    if decision == "deny":
        facts = Facts(campaign, "campagne par défaut", store_error="PostgreSQL injoignable")
    verdict = decide(call, facts, OPEN, RULES)
    assert verdict.decision.value == decision
    return evidence_row(str(uuid.uuid4()), verdict, call, classification="t",
                        clock_mode="pinned", node="sp")


def kept_aside(spool_dir: Path) -> list[dict]:
    folder = spool_dir / "rejected"
    if not folder.exists():
        return []
    return [json.loads(line) for f in sorted(folder.iterdir())
            for line in f.read_text(encoding="utf-8").splitlines()]


async def stored(db: Database, decision_id: str) -> dict | None:
    return await EvidenceStore(db).get(decision_id)


# -- item 9: a write whose acknowledgement is lost ----------------------------------------

@pytest.mark.parametrize(("campaign", "tag"), [
    (None, b"COMMIT"),  # prospecting: decision and attempt in one transaction (R-D6)
    ("sp-service", b"COMMIT"),  # a service call: the decision alone
])
async def test_lost_acknowledgement_keeps_the_stored_allowance(db, database_url, spool_dir,
                                                              campaign, tag):
    d = Directory(db)
    await d.add_principal("sp-acme", "ACME")
    await hold_number(db, "sp-acme")
    await d.set_campaign("sp-prospect", "sp-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_campaign("sp-service", "sp-acme", "service", "manual", "0162123456")
    await d.set_endpoint("sp-agent", "sp-prospect", ["sp-service"], "Alice")
    await give_consent(db, "sp-acme", "+33612345001")
    server = urlsplit(PG_SERVER)
    proxy = LostAcknowledgement(server.hostname, server.port or 5432)
    port = await proxy.start()
    via_proxy = Database(database_url.replace(f"{server.hostname}:{server.port}",
                                              f"127.0.0.1:{port}"), timeout=5.0)
    gate = Gate(db=via_proxy, directory=Directory(via_proxy), spool=Spool(spool_dir),
                clock=PinnedClock(OPEN), rules=RULES, node="sp")
    try:
        proxy.arm(tag)
        decided = await gate.check(CallRequest("0612345001", "ari", endpoint="sp-agent",
                                               campaign_name=campaign), record=True)
    finally:
        await via_proxy.close()
        await proxy.close()
    assert proxy.cuts == 1, "the fault happened: the write's reply never came back"
    assert decided.verdict.allowed and decided.recorded and not decided.spooled
    row_ = await stored(db, decided.decision_id)
    assert row_["decision"] == "allow" and row_["campaign"] == (campaign or "sp-prospect")
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM attempts WHERE decision_id = $1",
                                   uuid.UUID(decided.decision_id)) == (0 if campaign else 1)
    assert Spool(spool_dir).depth() == 0


async def test_lost_insert_before_commit_is_not_taken_for_stored(db, database_url, spool_dir):
    """The reply to the INSERT is lost, inside the transaction: nothing was committed, the
    read-back finds nothing, the call is refused and its evidence spooled."""
    d = Directory(db)
    await d.add_principal("sp-acme", "ACME")
    await hold_number(db, "sp-acme")
    await d.set_campaign("sp-prospect", "sp-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("sp-agent", "sp-prospect", [], "Alice")
    await give_consent(db, "sp-acme", "+33612345002")
    server = urlsplit(PG_SERVER)
    proxy = LostAcknowledgement(server.hostname, server.port or 5432)
    port = await proxy.start()
    via_proxy = Database(database_url.replace(f"{server.hostname}:{server.port}",
                                              f"127.0.0.1:{port}"), timeout=5.0)
    gate = Gate(db=via_proxy, directory=Directory(via_proxy), spool=Spool(spool_dir),
                clock=PinnedClock(OPEN), rules=RULES, node="sp")
    try:
        proxy.arm(b"INSERT 0 1")
        decided = await gate.check(CallRequest("0612345002", "ari", endpoint="sp-agent"),
                                   record=True)
    finally:
        await via_proxy.close()
        await proxy.close()
    assert proxy.cuts == 1
    assert decided.verdict.codes == ["GUARD_UNAVAILABLE"] and decided.spooled
    assert await stored(db, decided.decision_id) is None
    assert await Spool(spool_dir).flush(db) == 1
    assert (await stored(db, decided.decision_id))["decision"] == "deny"
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM attempts WHERE number_e164 = $1",
                                   "+33612345002") == 0


async def test_a_stored_allow_whose_call_was_refused_gets_its_not_dialled_outcome(
        db, spool_dir, caplog):
    """The lost acknowledgement with a failed read-back: PostgreSQL has the allow, the gate
    refused the call and spooled its deny under the same id. The replay makes the stored allow
    say the call never left and why; the evidence no longer contradicts what happened."""
    allowed = row("allow")
    async with db.connection() as conn:
        await insert_decision(conn, allowed)
    refused = {**row("deny"), "id": allowed["id"]}  # the gate could not read it back
    same = row("allow")
    spool = Spool(spool_dir)
    await spool.append("decision", same)
    await spool.append("decision", refused)
    with caplog.at_level(logging.ERROR, logger="astguard.store.replay"):
        assert await spool.flush(db) == 2
    assert any("NOT_DIALLED" in r.message for r in caplog.records)
    assert kept_aside(spool_dir) == [] and spool.depth() == 0
    stored_ = await stored(db, allowed["id"])
    assert stored_["decision"] == "allow" and stored_["answered"] is False
    assert stored_["dial_status"] == "NOT_DIALLED"
    assert "GUARD_UNAVAILABLE" in stored_["hangup_cause_text"]
    # Replaying either record again changes nothing and keeps nothing aside.
    await spool.append("decision", same)
    await spool.append("decision", refused)
    assert await spool.flush(db) == 2 and kept_aside(spool_dir) == []


async def test_replay_conflict_is_kept_and_reported_not_dropped(db, spool_dir, caplog):
    """Any other conflict (here a stored deny, an allow in the spool) is kept aside."""
    refused = row("deny")
    async with db.connection() as conn:
        await insert_decision(conn, refused)
    allowed = {**row("allow"), "id": refused["id"]}
    spool = Spool(spool_dir)
    await spool.append("decision", allowed)
    with caplog.at_level(logging.ERROR, logger="astguard.store.spool"):
        assert await spool.flush(db) == 0
    kept = kept_aside(spool_dir)
    assert len(kept) == 1 and json.loads(kept[0]["line"])["row"] == allowed
    assert "autre verdict" in kept[0]["reason"] and "deny" in kept[0]["reason"]
    assert any("kept aside" in r.message for r in caplog.records)
    assert (await stored(db, refused["id"]))["decision"] == "deny"
    assert spool.depth() == 0 and spool.kept_aside == 1


async def test_a_record_postgres_refuses_is_kept_aside_the_others_written(db, spool_dir):
    first, bad, last = row(), {**row(), "decision": "maybe"}, row()
    spool = Spool(spool_dir)
    for r in (first, bad, last):
        await spool.append("decision", r)
    assert await spool.flush(db) == 2
    assert await stored(db, first["id"]) and await stored(db, last["id"])
    kept = kept_aside(spool_dir)
    assert [json.loads(k["line"])["row"]["id"] for k in kept] == [bad["id"]]
    assert "CheckViolation" in kept[0]["reason"]


# -- item 10: the spool's own faults ---------------------------------------------------------

async def test_partial_last_line_after_a_crash(db, spool_dir):
    spool = Spool(spool_dir)
    before, cut, after = row(), row(), row()
    await spool.append("decision", before)
    with (spool_dir / "evidence.jsonl").open("ab") as fh:  # the crash: half a line
        fh.write(json.dumps({"kind": "decision", "row": cut}).encode()[:60])
    await Spool(spool_dir).append("decision", after)  # the restarted service goes on
    assert await Spool(spool_dir).flush(db) == 2
    assert await stored(db, before["id"]) and await stored(db, after["id"])
    kept = kept_aside(spool_dir)
    assert len(kept) == 1 and "illisible" in kept[0]["reason"]
    assert kept[0]["line"].startswith('{"kind": "decision"')


async def test_records_from_an_older_release(db, spool_dir):
    spool = Spool(spool_dir)
    nullable_missing = row()
    del nullable_missing["caller_id_requested"], nullable_missing["agent"]
    fact_missing = row()
    del fact_missing["rulebook_version"]
    await spool.append("decision", nullable_missing)
    await spool.append("decision", fact_missing)
    await spool.append("outcome", {"decision_id": nullable_missing["id"], "answered": False,
                                   "dial_status": "BUSY", "outcome_at": OPEN.isoformat()})
    assert await spool.flush(db) == 2
    got = await stored(db, nullable_missing["id"])
    assert got["caller_id_requested"] is None and got["agent"] is None
    assert got["dial_status"] == "BUSY" and got["hangup_cause"] is None
    assert await stored(db, fact_missing["id"]) is None
    kept = kept_aside(spool_dir)
    assert len(kept) == 1 and "rulebook_version" in kept[0]["reason"]


async def test_two_processes_flushing_write_each_record_once(db, spool_dir):
    records = [row() for _ in range(30)]
    writer = Spool(spool_dir)
    for r in records:
        await writer.append("decision", r)
    for r in records[:10]:
        await writer.append("outcome", {"decision_id": r["id"], "answered": True,
                                        "dial_status": "ANSWER", "hangup_cause": 16,
                                        "hangup_cause_text": None, "duration_s": 3.0,
                                        "outcome_at": OPEN.isoformat()})
    # Two Spool objects: two open file descriptions, as two processes have.
    service, cli = Spool(spool_dir), Spool(spool_dir)
    done = await asyncio.gather(service.flush(db), cli.flush(db))
    assert sum(done) == 40, done
    assert kept_aside(spool_dir) == [] and Spool(spool_dir).depth() == 0
    for r in records[:10]:
        assert (await stored(db, r["id"]))["answered"] is True


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 64 KiB tmpfs of our own: a disk that fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)],
                   check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"x" * 512)
    finally:
        os.close(fd)


async def test_full_disk_refuses_calls_says_so_and_keeps_what_was_written(
        db, small_disk, caplog):
    spool_dir = small_disk / "spool"
    spool = Spool(spool_dir)
    spool.prepare()
    metrics = Metrics()
    d = Directory(db)
    await d.add_principal("sp-acme", "ACME")
    await hold_number(db, "sp-acme")
    await d.set_campaign("sp-service", "sp-acme", "service", "manual", "0162123456")
    await d.set_endpoint("sp-svc-agent", "sp-service", [], "Bob")
    call = CallRequest("0612345678", "ari", endpoint="sp-svc-agent")
    live = Gate(db=db, directory=d, spool=spool, clock=PinnedClock(OPEN), rules=RULES,
                node="sp")
    assert (await live.check(call, record=False)).verdict.allowed
    down = Database(UNREACHABLE_DB, timeout=1.0)
    gate = Gate(db=down, directory=Directory(down), spool=spool, clock=PinnedClock(OPEN),
                rules=RULES, node="sp", metrics=metrics)
    gate._known = live._known  # the same process, the database gone since
    kept = [await gate.check(call, record=True) for _ in range(2)]
    assert all(d.verdict.allowed and d.spooled for d in kept)
    fill(small_disk / "filler")
    refused = None
    with caplog.at_level(logging.CRITICAL, logger="astguard.app.gate"):
        for _ in range(20):  # what still fits in the file's last page goes in, then it fails
            decided = await gate.check(call, record=True)
            if not decided.spooled:
                refused = decided
                break
            kept.append(decided)
    assert refused is not None, "the disk never filled"
    assert refused.verdict.codes == ["GUARD_UNAVAILABLE"] and not refused.recorded
    assert metrics.value("astguard_spool_write_failures_total") == 1
    assert spool.write_failures == 1
    assert "astguard_spool_write_failures_total 1" in metrics.render()
    assert any("spool write failed" in r.message for r in caplog.records)
    emergency = await gate.check(CallRequest("112", "ari", endpoint="sp-svc-agent"),
                                 record=True)
    assert emergency.verdict.allowed  # never blocked, even with nowhere to write (R-A)
    # Nothing already written is damaged: every line is whole.
    lines = (spool_dir / "evidence.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])
    await down.close()
    (small_disk / "filler").unlink()
    assert await spool.flush(db) == len(kept) + (1 if emergency.spooled else 0)
    for d in kept:
        assert (await stored(db, d.decision_id))["decision"] == "allow"


async def test_spool_depth_is_read_off_the_event_loop(spool_dir):
    """A gauge scrape or the flusher never waits on the disk: a live file that blocks on
    open (a FIFO with no writer) stalls a thread, not the loop."""
    os.mkfifo(spool_dir / "evidence.jsonl")
    watchdog_fired = threading.Event()

    def unblock() -> bool:
        """Open each FIFO for writing and close it: a reader waiting in open() gets EOF."""
        opened = False
        for fifo in spool_dir.glob("*.jsonl"):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                opened = True
        return opened

    def watchdog() -> None:  # only breaks the deadlock of code that reads on the loop
        watchdog_fired.set()
        unblock()

    timer = threading.Timer(20, watchdog)
    timer.start()
    down = Database(UNREACHABLE_DB, timeout=1.0)
    flusher = asyncio.get_running_loop().create_task(Spool(spool_dir).run_flusher(down, 3600))
    try:
        for _ in range(5):
            await asyncio.sleep(0.01)
        assert not watchdog_fired.is_set(), "the event loop was blocked by the spool's disk"
    finally:
        timer.cancel()
        for _ in range(500):  # let the thread that waits on the FIFO finish
            if watchdog_fired.is_set() or unblock():
                break
            await asyncio.sleep(0.01)
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        await down.close()
