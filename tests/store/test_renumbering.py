"""Migration 0007 (rules-fr 2026-11-26, R-D4): numbers of blocks the plan assigns overseas
without a distinctive prefix change canonical form. The facts move to the new form, evidence
stays as recorded, and both forms count for the one consumer."""

from __future__ import annotations

import datetime as dt
import re

import asyncpg
import pytest

from astguard.policy.numbers import _block, parse_number
from astguard.store import audit, schema
from astguard.store.contacts import load_history
from astguard.store.database import Database
from tests.conftest import db_url, recreate_database

pytestmark = pytest.mark.db
RENUMBER = next(m for m in schema.known_migrations() if m.version == 7)
# The overseas national prefixes the previous release mapped by hand; every other block was +33.
_HAND_LIST = {"262", "263", "692", "693", "269", "639", "590", "690", "691", "596", "696",
              "697", "594", "694", "508"}


def _listed() -> dict[str, str]:
    return dict(re.findall(r"\('(\d{5})', '(\d+)'\)", RENUMBER.sql))


def test_the_migrations_block_list_is_what_the_parser_says():
    expected = {}
    for first in range(1, 10):
        for rest in range(10_000):
            block = f"{first}{rest:04d}"
            resolution = _block(block)
            if block[:3] not in _HAND_LIST and resolution and resolution.country_code != "33":
                expected[block] = resolution.country_code
    assert _listed() == expected
    assert {"97601": "590", "26881": "262", "70900": "590", "94775": "596"}.items() <= \
        expected.items()
    for block, cc in expected.items():
        assert parse_number(f"0{block}1234").e164 == f"+{cc}{block}1234"


OLD = "+33976012345"  # what the previous release stored for 09 76 01 23 45
NEW = "+590976012345"
OLD_CLI = "+33947512345"  # an overseas NPV (Guadeloupe) as the previous release stored it
NEW_CLI = "+590947512345"


@pytest.fixture
async def store_before() -> asyncpg.Connection:
    """A store at migration 0006, holding numbers in the previous release's form."""
    await recreate_database("astguard_test_renumber", migrate=False)
    conn = await asyncpg.connect(db_url("astguard_test_renumber"))
    try:
        yield await _seed(conn)
    finally:
        await conn.close()


async def _seed(conn: asyncpg.Connection) -> asyncpg.Connection:
    await conn.execute("""CREATE TABLE schema_migrations (version integer PRIMARY KEY,
        name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())""")
    for m in schema.known_migrations():
        if m.version < 7:
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3)",
                                   m.version, m.name, m.checksum)
    at = dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC)
    for number, principal, proof in ((OLD, "acme", "p-old"), (NEW, "acme", "p-new"),
                                     (OLD, "acme", "p-dup"), (NEW, "acme", "p-dup")):
        await conn.execute(
            """INSERT INTO consents (principal, number_e164, scopes, collected_at, channel,
                                     wording, proof_ref, valid_until)
               VALUES ($1, $2, '{energie}', $3::timestamptz, 'web', 'v1', $4,
                       $3::timestamptz + interval '1 year')""",
            principal, number, at, proof)
    for day in (dt.date(2026, 11, 20), dt.date(2026, 11, 23)):
        await conn.execute(
            """INSERT INTO attempts (principal, number_e164, attempted_at, local_day, source)
               VALUES ('acme', $1, $2, $3, 'external')""",
            OLD, dt.datetime.combine(day, dt.time(12), dt.UTC), day)
    await conn.execute(
        """INSERT INTO contact_blocks (principal, number_e164, kind, recorded_at, local_day,
                                       until_day, source)
           VALUES ('acme', $1, 'refusal', $2, '2026-07-01', '2026-08-30', 'cli')""", OLD, at)
    await conn.execute(
        """INSERT INTO caller_ids (number, principal, kind, mandate_ref, valid_from)
           VALUES ($1, 'acme', 'npv', 'm1', '2026-01-01')""", OLD_CLI)
    await conn.execute(
        """INSERT INTO bloctel_scrubs (principal, number_e164, scrubbed_on, listed)
           VALUES ('acme', $1, '2026-07-20', true)""", OLD)
    return conn


async def test_migration_moves_facts_and_links_evidence(store_before):
    conn = store_before
    before = await conn.fetchval("SELECT count(*) FROM evidence_chain")
    applied = [m.version for m in await schema.migrate(conn)]
    assert applied[0] == 7  # later migrations (0009, the watchdog's table) may follow

    consents = {r["proof_ref"]: r["number_e164"] for r in await conn.fetch(
        "SELECT proof_ref, number_e164 FROM consents")}
    assert consents["p-old"] == NEW and consents["p-new"] == NEW
    # The same record under both forms: the old one stays (nothing is lost or merged).
    dup = sorted(r["number_e164"] for r in await conn.fetch(
        "SELECT number_e164 FROM consents WHERE proof_ref = 'p-dup'"))
    assert dup == sorted([OLD, NEW])
    assert await conn.fetchval("SELECT count(*) FROM consents") == 4
    assert {r["number_e164"] for r in await conn.fetch("SELECT number_e164 FROM attempts")} \
        == {NEW}
    assert await conn.fetchval("SELECT number FROM caller_ids") == NEW_CLI
    assert await conn.fetchval("SELECT number_e164 FROM bloctel_scrubs") == NEW
    # Evidence stays as recorded, and is still chained and intact.
    assert await conn.fetchval("SELECT number_e164 FROM contact_blocks") == OLD
    assert await conn.fetchval("SELECT count(*) FROM evidence_chain") == before
    keys = {r["number_e164"]: r["consumer_key"] for r in await conn.fetch(
        "SELECT number_e164, consumer_key FROM consumer_numbers")}
    assert keys[OLD] == keys[NEW]

    # Through the new form, the consumer's facts are all there: the attempts, the refusal kept
    # under the old form (the facts function now returns refusals past their 60 days, R-D7),
    # the consents and the caller ID.
    now = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    async with conn.transaction():
        facts = await load_history(conn, "acme", NEW, dt.date(2026, 11, 27), now,
                                   dt.timedelta(minutes=10), window_days=30,
                                   caller_ids=[NEW_CLI])
    assert sorted(facts.numbers) == sorted([OLD, NEW])
    assert len(facts.history.attempt_days) == 2
    assert [b.kind for b in facts.history.blocks] == ["refusal"]
    assert {c.proof_ref for c in facts.history.consents} == {"p-old", "p-new", "p-dup"}
    assert [i.number for i in facts.inventory] == [NEW_CLI]


async def test_chain_still_verifies_after_the_migration(store_before):
    await schema.migrate(store_before)
    db = Database(db_url("astguard_test_renumber"))
    try:
        result = await audit.verify(db)
    finally:
        await db.close()
    assert result.ok
