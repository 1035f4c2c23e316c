"""Evidence in the real PostgreSQL: append-only rows, outcome attached once, migrations."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest

from astguard.errors import SchemaError, StoreUnavailable
from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store import schema
from astguard.store.database import Database
from astguard.store.evidence import (
    EvidenceStore,
    Outcome,
    attach_outcome,
    evidence_row,
    insert_decision,
)
from tests.conftest import UNREACHABLE_DB, db_url, recreate_database
from tests.policy.facts import CONSENTED, INVENTORY

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
WHEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


async def record(db: Database, row: dict) -> None:
    async with db.connection() as conn:
        await insert_decision(conn, row)


async def outcome_of(db: Database, outcome: dict) -> bool:
    async with db.connection() as conn:
        return await attach_outcome(conn, outcome)


def a_row(number: str = "0692123456") -> dict:
    campaign = Campaign("ev", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                        scope="energie")
    call = CallRequest(number, "ari", endpoint="agent1", channel_id="chan-1")
    verdict = decide(call, Facts(campaign, "campagne par défaut", history=CONSENTED, inventory=INVENTORY), WHEN, RULES)
    return evidence_row(str(uuid.uuid4()), verdict, call, classification="campagne par défaut",
                        clock_mode="pinned", node="test")


async def test_decision_is_recorded_with_every_field(db: Database):
    store = EvidenceStore(db)
    row = a_row()
    await record(db, row)
    got = await store.get(row["id"])
    assert got["decision"] == "deny"  # 13:00 in Mayotte
    assert got["reason_codes"] == ["OUTSIDE_CALL_WINDOW"]
    assert got["reasons"][0]["inputs"]["zones"] == ["Indian/Mayotte"]
    assert got["local_times"] == [
        {"zone": "Indian/Mayotte", "local": "2026-11-27T13:00:00+03:00"},
        {"zone": "Indian/Reunion", "local": "2026-11-27T14:00:00+04:00"},
    ]
    assert got["decided_at"] == WHEN
    assert got["number_e164"] == "+262692123456" and got["territories"] == ["RE", "YT"]
    assert got["principal"] == "acme" and got["campaign"] == "ev"
    assert got["purpose"] == "prospecting" and got["dial_mode"] == "manual"
    assert got["caller_id"] == "+33162123456" and got["clock_mode"] == "pinned"
    assert got["rulebook_version"].startswith("rules-fr")
    assert got["outcome_at"] is None


async def test_recording_twice_is_harmless(db: Database):
    row = a_row()
    await record(db, row)
    await record(db, row)
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM decisions WHERE id = $1",
                                   row["id"]) == 1


async def test_outcome_attached_once(db: Database):
    store = EvidenceStore(db)
    row = a_row()
    await record(db, row)
    outcome = Outcome(True, "ANSWER", 16, "Normal Clearing", 12.5, WHEN)
    assert await outcome_of(db, outcome.as_row(row["id"]))
    assert not await outcome_of(db, outcome.as_row(row["id"]))
    got = await store.get(row["id"])
    assert got["answered"] is True and got["hangup_cause"] == 16
    assert float(got["duration_s"]) == 12.5 and got["dial_status"] == "ANSWER"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE decisions SET decision = 'allow' WHERE id = $1",
        "UPDATE decisions SET reason_codes = '{}' WHERE id = $1",
        "DELETE FROM decisions WHERE id = $1",
    ],
)
async def test_decisions_are_append_only(db: Database, statement: str):
    store = EvidenceStore(db)
    row = a_row()
    await record(db, row)
    async with db.connection() as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(statement, row["id"])
    assert (await store.get(row["id"]))["decision"] == "deny"


async def test_truncate_refused(db: Database):
    async with db.connection() as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("TRUNCATE decisions")


async def test_outcome_cannot_be_rewritten(db: Database):
    row = a_row()
    await record(db, row)
    await outcome_of(db, Outcome(False, "BUSY", 17, None, None, WHEN).as_row(row["id"]))
    async with db.connection() as conn:
        with pytest.raises(asyncpg.RaiseError, match="already has its outcome"):
            await conn.execute("UPDATE decisions SET answered = true WHERE id = $1", row["id"])


async def test_unreachable_database_raises_store_unavailable_fast():
    database = Database(UNREACHABLE_DB, timeout=1.0)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for _ in range(3):
        with pytest.raises(StoreUnavailable):
            async with database.connection():
                pass
    assert loop.time() - t0 < 3.0  # refused at once, then short-circuited
    assert "PostgreSQL" in database.last_error
    await database.close()


async def test_schema_check_names_pending_migrations():
    await recreate_database("astguard_test_empty", migrate=False)
    conn = await asyncpg.connect(db_url("astguard_test_empty"))
    try:
        with pytest.raises(SchemaError, match="0001_initial.*astguard db migrate"):
            await schema.check(conn)
        applied = await schema.migrate(conn)
        assert [m.version for m in applied] == [m.version for m in schema.known_migrations()]
        assert await schema.migrate(conn) == []
        await schema.check(conn)
        await conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
        with pytest.raises(SchemaError, match="modifiée après avoir été appliquée"):
            await schema.check(conn)
    finally:
        await conn.close()
