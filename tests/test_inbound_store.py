"""Recording policies and the retention purge, against the real PostgreSQL and real files."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from astguard.app.recording import RecordingService
from astguard.clock import PinnedClock, SystemClock
from astguard.errors import InputError, StoreUnavailable
from astguard.store.database import Database
from astguard.store.inbound import InboundStore
from astguard.app.recording_evidence import RecordingEvidence
from astguard.app.recording_files import OUTSIDE, purge_expired
from astguard.store.spool import Spool
from tests.conftest import ROLES, UNREACHABLE_DB, role_database

pytestmark = pytest.mark.db

T0 = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=ROLES)
async def db(request, database_url):
    """Every test here runs as the owner and as the service's least-privileged role (0008)."""
    async with role_database(database_url, request.param) as database:
        yield database


async def a_recording(store: InboundStore, tmp_path: Path, *, started: dt.datetime,
                      days: int) -> tuple[str, Path]:
    call_id = str(uuid.uuid4())
    file = tmp_path / f"{call_id}.wav"
    file.write_bytes(b"RIFF....WAVE")
    await store.start_call(call_id, channel_id="c", did="0170000001", caller="0600000000",
                           at=started, mode="announce", prompt="annonce-enregistrement",
                           prompt_sha256="x" * 64, retention_class="qualité-formation",
                           clock_mode="system")
    await store.recording_started(call_id, str(file), started,
                                  started + dt.timedelta(days=days))
    return call_id, file


async def test_purge_deletes_expired_keeps_fresh_logs_each_and_is_idempotent(db, tmp_path):
    store = InboundStore(db)
    old_id, old = await a_recording(store, tmp_path, started=T0, days=183)
    fresh_id, fresh = await a_recording(store, tmp_path, started=T0 + dt.timedelta(days=100),
                                        days=183)
    now = T0 + dt.timedelta(days=184)
    done = await purge_expired(store, now, tmp_path)
    assert [d["call_id"] for d in done if d["call_id"] in (old_id, fresh_id)] == [old_id]
    assert not old.exists() and fresh.exists()
    evidence = await store.call_evidence(old_id)
    deleted = [e for e in evidence["events"] if e["kind"] == "recording_deleted"]
    assert deleted[0]["detail"]["reason"] == "durée de conservation échue"
    assert [e["detail"]["result"] for e in evidence["events"]
            if e["kind"] == "file_removal"] == ["deleted"]
    assert evidence["recording"]["deleted_at"] == now
    again = await purge_expired(store, now, tmp_path)
    assert old_id not in [d["call_id"] for d in again]


async def test_purge_removes_the_file_first_and_marks_it_when_the_store_answers(
        db, tmp_path, monkeypatch):
    # The database goes away between the removal and its evidence: the recording is not
    # marked deleted while its file exists, and the next run finds it gone and marks it.
    store = InboundStore(db)
    call_id, file = await a_recording(store, tmp_path, started=T0, days=1)
    real = store.recording_deleted
    lost = Database(UNREACHABLE_DB, timeout=1.0)

    async def store_lost(*args, **kwargs):
        store._db = lost
        try:
            return await real(*args, **kwargs)
        finally:
            store._db = db

    monkeypatch.setattr(store, "recording_deleted", store_lost)
    with pytest.raises(StoreUnavailable):
        await purge_expired(store, T0 + dt.timedelta(days=2), tmp_path)
    await lost.close()
    assert not file.exists()
    assert (await store.call_evidence(call_id))["recording"]["deleted_at"] is None
    monkeypatch.undo()
    done = await purge_expired(store, T0 + dt.timedelta(days=2), tmp_path)
    assert [d["result"] for d in done if d["call_id"] == call_id] == ["already absent"]
    assert (await store.call_evidence(call_id))["recording"]["deleted_at"] is not None


async def test_a_file_the_purge_cannot_remove_is_not_marked_deleted(db, tmp_path):
    store = InboundStore(db)
    call_id, file = await a_recording(store, tmp_path, started=T0, days=1)
    file.unlink()
    file.mkdir()  # unlink() fails on it, as on a file the service may not remove
    now = T0 + dt.timedelta(days=2)
    assert call_id not in [d["call_id"] for d in await purge_expired(store, now, tmp_path)]
    evidence = await store.call_evidence(call_id)
    assert evidence["recording"]["deleted_at"] is None  # the evidence says what is on disk
    assert [e["detail"]["result"] for e in evidence["events"]
            if e["kind"] == "file_removal"][0].startswith("error")
    file.rmdir()
    file.write_bytes(b"RIFF")
    done = await purge_expired(store, now, tmp_path)  # still due: tried again
    assert [d["result"] for d in done if d["call_id"] == call_id] == ["deleted"]
    assert not file.exists()


async def test_the_purge_removes_nothing_outside_the_recordings_folder(db, database_url,
                                                                       tmp_path):
    store = InboundStore(db)
    folder = tmp_path / "recordings"
    folder.mkdir()
    victims = []
    for name in ("parent", "elsewhere", "link"):
        victim = tmp_path / f"{name}-precious.txt"
        victim.write_text("do not delete")
        victims.append(victim)
    (folder / "link.wav").symlink_to(victims[2])
    names = [folder / ".." / victims[0].name, victims[1], folder / "link.wav"]
    ids = []
    for path in names:
        call_id, made = await a_recording(store, tmp_path, started=T0, days=1)
        made.unlink()
        async with role_database(database_url, "owner") as owner, \
                owner.connection() as conn:  # as if the row had been written so
            await conn.execute("UPDATE recordings SET file = $2 WHERE call_id = $1",
                               call_id, str(path))
        ids.append(call_id)
    done = await purge_expired(store, T0 + dt.timedelta(days=2), folder)
    assert not set(ids) & {d["call_id"] for d in done}
    assert all(v.read_text() == "do not delete" for v in victims)
    assert (folder / "link.wav").is_symlink()
    for call_id in ids:
        evidence = await store.call_evidence(call_id)
        assert evidence["recording"]["deleted_at"] is None
        assert [e["detail"]["result"] for e in evidence["events"]
                if e["kind"] == "file_removal"] == [OUTSIDE]


async def test_recording_evidence_waits_in_the_spool_while_the_store_is_away(db, tmp_path):
    store = InboundStore(db)
    call_id, file = await a_recording(store, tmp_path, started=T0, days=10)
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    away = InboundStore(Database(UNREACHABLE_DB, timeout=1.0))
    evidence = RecordingEvidence(away, spool)
    at = T0 + dt.timedelta(minutes=1)
    await evidence.event(call_id, "objection", at, {"code": "RECORDING_OBJECTED"})
    await evidence.recording_stopped(call_id, at, "objection de l'appelant")
    file.unlink()
    await evidence.recording_deleted(call_id, at, "objection de l'appelant", "deleted")
    assert spool.depth() == 3
    assert await spool.flush(db) == 3
    written = await store.call_evidence(call_id)
    assert [e["kind"] for e in written["events"]][-4:] == [
        "objection", "recording_stopped", "recording_deleted", "file_removal"]
    assert written["recording"]["deleted_at"] == at
    assert written["recording"]["stopped_at"] == at
    # The same records again (a batch replayed after a crash): found there, written once.
    await evidence.event(call_id, "objection", at, {"code": "RECORDING_OBJECTED"})
    await evidence.recording_deleted(call_id, at, "objection de l'appelant", "deleted")
    assert await spool.flush(db) == 2
    again = await store.call_evidence(call_id)
    assert [e["kind"] for e in again["events"]] == [e["kind"] for e in written["events"]]
    await away._db.close()


async def test_purge_with_the_database_away_touches_nothing(tmp_path):
    down_db = Database(UNREACHABLE_DB, timeout=1.0)
    with pytest.raises(StoreUnavailable):
        await purge_expired(InboundStore(down_db), T0, tmp_path)
    await down_db.close()


async def test_inbound_events_are_append_only(db, tmp_path):
    import asyncpg

    store = InboundStore(db)
    call_id, _ = await a_recording(store, tmp_path, started=T0, days=10)
    async with db.connection() as conn:  # the owner: the trigger; the service: no DELETE
        with pytest.raises((asyncpg.RaiseError, asyncpg.InsufficientPrivilegeError)):
            await conn.execute("DELETE FROM inbound_events WHERE call_id = $1", call_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"mode": "always"}, "mode"),
     ({"mode": "announce", "retention_days": 365}, "base légale"),
     ({"mode": "sampled", "sample_percent": 120}, "pourcentage"),
     ({"mode": "announce", "objection_key": "12"}, "touche")],
)
async def test_bad_policies_are_refused(db, kwargs, message):
    kwargs = dict(kwargs)  # the parameters are shared by the owner's and service's runs
    mode = kwargs.pop("mode")
    with pytest.raises(InputError, match=message):
        await RecordingService(InboundStore(db), SystemClock()).set_policy("0170000002", mode,
                                                                          **kwargs)


async def test_long_retention_with_a_legal_basis(db):
    store = InboundStore(db)
    await RecordingService(store, SystemClock()).set_policy(
        "0170000003", "announce", retention_days=365,
        legal_basis="preuve de contrat (art. 6.1.b RGPD)")
    policy = await store.policy_for("0170000003")
    assert policy.retention_days == 365 and policy.retention_class == "base-légale"


async def test_the_running_service_purges(db, tmp_path):
    import asyncio

    from astguard.service import run_purges

    store = InboundStore(db)
    call_id, file = await a_recording(store, tmp_path, started=T0, days=1)
    recording = RecordingService(store, PinnedClock(T0 + dt.timedelta(days=3)))
    task = asyncio.create_task(run_purges(recording, tmp_path, interval=0.05))
    try:
        async with asyncio.timeout(5):
            while (await store.call_evidence(call_id))["recording"]["deleted_at"] is None:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not file.exists()
    assert (await store.call_evidence(call_id))["recording"]["delete_reason"] == \
        "durée de conservation échue"
