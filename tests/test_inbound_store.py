"""Recording policies and the retention purge, against the real PostgreSQL and real files."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from astguard.errors import InputError, StoreUnavailable
from astguard.store.database import Database
from astguard.store.inbound import InboundStore, purge_expired
from tests.conftest import UNREACHABLE_DB

pytestmark = pytest.mark.db

T0 = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)


async def a_recording(store: InboundStore, tmp_path: Path, *, started: dt.datetime,
                      days: int) -> tuple[str, Path]:
    call_id = str(uuid.uuid4())
    file = tmp_path / f"{call_id}.wav"
    file.write_bytes(b"RIFF....WAVE")
    await store.start_call(call_id, channel_id="c", did="0170000001", caller="0600000000",
                           at=started, mode="announce", prompt="annonce-enregistrement",
                           prompt_sha256="x" * 64, retention_class="qualité-formation",
                           clock_mode="system")
    await store.recording_started(call_id, str(file), started, days)
    return call_id, file


async def test_purge_deletes_expired_keeps_fresh_logs_each_and_is_idempotent(db, tmp_path):
    store = InboundStore(db)
    old_id, old = await a_recording(store, tmp_path, started=T0, days=183)
    fresh_id, fresh = await a_recording(store, tmp_path, started=T0 + dt.timedelta(days=100),
                                        days=183)
    now = T0 + dt.timedelta(days=184)
    done = await purge_expired(store, now)
    assert [d["call_id"] for d in done if d["call_id"] in (old_id, fresh_id)] == [old_id]
    assert not old.exists() and fresh.exists()
    evidence = await store.call_evidence(old_id)
    deleted = [e for e in evidence["events"] if e["kind"] == "recording_deleted"]
    assert deleted[0]["detail"]["reason"] == "durée de conservation échue"
    assert [e["detail"]["result"] for e in evidence["events"]
            if e["kind"] == "file_removal"] == ["deleted"]
    assert evidence["recording"]["deleted_at"] == now
    again = await purge_expired(store, now)
    assert old_id not in [d["call_id"] for d in again]


async def test_purge_never_deletes_a_recording_whose_evidence_it_cannot_write(
        db, tmp_path, monkeypatch):
    store = InboundStore(db)
    call_id, file = await a_recording(store, tmp_path, started=T0, days=1)

    async def evidence_lost(*args, **kwargs):
        raise StoreUnavailable("PostgreSQL injoignable (test)")

    monkeypatch.setattr(store, "mark_deleted", evidence_lost)
    with pytest.raises(StoreUnavailable):
        await purge_expired(store, T0 + dt.timedelta(days=2))
    assert file.exists()
    assert (await InboundStore(db).call_evidence(call_id))["recording"]["deleted_at"] is None


async def test_purge_with_the_database_away_touches_nothing(tmp_path):
    down_db = Database(UNREACHABLE_DB, timeout=1.0)
    with pytest.raises(StoreUnavailable):
        await purge_expired(InboundStore(down_db), T0)
    await down_db.close()


async def test_inbound_events_are_append_only(db, tmp_path):
    import asyncpg

    store = InboundStore(db)
    call_id, _ = await a_recording(store, tmp_path, started=T0, days=10)
    async with db.connection() as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM inbound_events WHERE call_id = $1", call_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"mode": "always"}, "mode"),
     ({"mode": "announce", "retention_days": 365}, "base légale"),
     ({"mode": "sampled", "sample_percent": 120}, "pourcentage"),
     ({"mode": "announce", "objection_key": "12"}, "touche")],
)
async def test_bad_policies_are_refused(db, kwargs, message):
    mode = kwargs.pop("mode")
    with pytest.raises(InputError, match=message):
        await InboundStore(db).set_policy("0170000002", mode, **kwargs)


async def test_long_retention_with_a_legal_basis(db):
    store = InboundStore(db)
    await store.set_policy("0170000003", "announce", retention_days=365,
                           legal_basis="preuve de contrat (art. 6.1.b RGPD)")
    policy = await store.policy_for("0170000003")
    assert policy.retention_days == 365 and policy.retention_class == "base-légale"


async def test_the_running_service_purges(db, tmp_path):
    import asyncio

    from astguard.clock import PinnedClock
    from astguard.service import run_purges

    store = InboundStore(db)
    call_id, file = await a_recording(store, tmp_path, started=T0, days=1)
    task = asyncio.create_task(run_purges(store, PinnedClock(T0 + dt.timedelta(days=3)),
                                          interval=0.05))
    try:
        async with asyncio.timeout(5):
            while file.exists():
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert (await store.call_evidence(call_id))["recording"]["delete_reason"] == \
        "durée de conservation échue"
