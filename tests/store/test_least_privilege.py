"""Least privilege (migration 0008): the service's role reads and inserts evidence but cannot
alter tables, disable triggers, delete, or write the hash chain; consents, attempts, Bloctel
checks and caller IDs are append-only for everyone, with the documented narrow updates."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import pytest

from astguard.errors import InputError
from astguard.store.caller_ids import CallerIdStore
from astguard.store.directory import Directory
from tests.conftest import as_service, role_database

pytestmark = pytest.mark.db

DENIED = (asyncpg.InsufficientPrivilegeError, asyncpg.CantChangeRuntimeParamError)


@pytest.fixture
async def service(database_url):
    conn = await asyncpg.connect(as_service(database_url))
    yield conn
    await conn.close()


@pytest.fixture
async def owner(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def test_the_service_runs_as_a_member_of_astguard_service_not_as_the_owner(service):
    assert await service.fetchval("SELECT pg_has_role('astguard_service', 'member')")
    owner = await service.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'decisions'")
    assert owner != await service.fetchval("SELECT current_user")
    assert not await service.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")


@pytest.mark.parametrize("sql", [
    "ALTER TABLE decisions ADD COLUMN forged integer",
    "ALTER TABLE consents DISABLE TRIGGER consents_append_only",
    "ALTER TABLE evidence_chain DISABLE TRIGGER ALL",
    "ALTER TABLE decisions DISABLE TRIGGER decisions_append_only",
    "SET session_replication_role = replica",
    "UPDATE evidence_chain SET hash = hash WHERE seq = 1",
    "DELETE FROM evidence_chain",
    "INSERT INTO evidence_chain (seq, kind, ref, at, payload_sha256, prev_hash, hash) "
    "VALUES (999999, 'decision', 'x', now(), 'x', 'x', 'x')",
    "DELETE FROM consents",
    "DELETE FROM decisions",
    "DELETE FROM attempts",
    "TRUNCATE attempts",
    "UPDATE decisions SET decision = 'allow'",
    "UPDATE consents SET scopes = '{tout}'",
    "UPDATE attempts SET local_day = local_day",
    "UPDATE caller_ids SET mandate_ref = 'forged'",
    "UPDATE schema_migrations SET checksum = 'x'",
    "DROP TABLE consents",
    "DROP TRIGGER consents_append_only ON consents",
    "CREATE TABLE forged (a integer)",
])
async def test_the_service_role_cannot_change_the_rules_or_the_evidence(service, sql):
    with pytest.raises(DENIED):
        await service.execute(sql)


async def _consent(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        """INSERT INTO consents (principal, number_e164, scopes, collected_at, channel, wording,
                                 proof_ref, valid_until)
           VALUES ('lp-acme', '+33612000001', '{energie}', '2026-01-01', 'web', 'v1', $1,
                   '2027-01-01') RETURNING id""", f"proof-{uuid.uuid4()}")


async def test_consents_change_only_by_their_withdrawal_once(owner):
    consent = await _consent(owner)
    for sql in ("UPDATE consents SET scopes = '{tout}' WHERE id = $1",
                "UPDATE consents SET valid_until = '2099-01-01' WHERE id = $1",
                "DELETE FROM consents WHERE id = $1"):
        with pytest.raises(asyncpg.RaiseError):  # even the owner, while the trigger stands
            await owner.execute(sql, consent)
    await owner.execute("UPDATE consents SET withdrawn_at = '2026-06-01' WHERE id = $1", consent)
    with pytest.raises(asyncpg.RaiseError, match="already withdrawn"):
        await owner.execute("UPDATE consents SET withdrawn_at = NULL WHERE id = $1", consent)
    with pytest.raises(asyncpg.RaiseError):
        await owner.execute("TRUNCATE consents CASCADE")


async def test_attempts_and_bloctel_checks_are_append_only(owner):
    await owner.execute(
        """INSERT INTO attempts (principal, number_e164, attempted_at, local_day, source)
           VALUES ('lp-acme', '+33612000002', now(), current_date, 'external')""")
    await owner.execute(
        """INSERT INTO bloctel_scrubs (principal, number_e164, scrubbed_on, listed)
           VALUES ('lp-acme', '+33612000002', current_date, false) ON CONFLICT DO NOTHING""")
    for sql in ("UPDATE attempts SET local_day = local_day - 40 WHERE principal = 'lp-acme'",
                "DELETE FROM attempts WHERE principal = 'lp-acme'",
                "UPDATE bloctel_scrubs SET listed = NOT listed WHERE principal = 'lp-acme'",
                "DELETE FROM bloctel_scrubs WHERE principal = 'lp-acme'",
                "TRUNCATE bloctel_scrubs", "TRUNCATE attempts", "TRUNCATE contact_blocks"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await owner.execute(sql)


async def test_caller_ids_end_dates_move_only_forward_and_corrections_are_new_rows(
        database_url):
    async with role_database(database_url, "service") as db:
        await Directory(db).add_principal("lp-acme", "ACME")
        store = CallerIdStore(db, ())
        start = dt.date(2026, 1, 1)
        await store.add("0162999001", "lp-acme", mandate_ref="M-1", valid_from=start)
        await store.add("0162999001", "lp-acme", mandate_ref="M-1", valid_from=start)  # again
        await store.add("0162999001", "lp-acme", mandate_ref="M-1", valid_from=start,
                        valid_to=dt.date(2026, 12, 31))  # the mandate ends
        await store.add("0162999001", "lp-acme", mandate_ref="M-1", valid_from=start,
                        valid_to=dt.date(2026, 6, 30))  # brought forward
        with pytest.raises(InputError, match="ne peut qu'être avancée"):
            await store.add("0162999001", "lp-acme", mandate_ref="M-1", valid_from=start,
                            valid_to=dt.date(2027, 12, 31))
        with pytest.raises(InputError, match="nouvelle ligne"):
            await store.add("0162999001", "lp-acme", mandate_ref="M-2", valid_from=start)
        await store.add("0162999001", "lp-acme", mandate_ref="M-2",
                        valid_from=dt.date(2026, 7, 1))  # the renewal: a new row
        since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        rows = [r for r in await store.list("lp-acme", refusals_since=since)
                if r["number"] == "+33162999001"]
        assert [(r["mandate_ref"], r["valid_to"]) for r in rows] == [
            ("M-1", dt.date(2026, 6, 30)), ("M-2", None)]


async def test_serve_says_when_it_runs_as_the_owner(owner, service):
    from astguard.store import schema

    problem = await schema.privilege_problem(owner)
    assert problem is not None and "propriétaire des tables" in problem
    assert "astguard_service" in problem
    assert await schema.privilege_problem(service) is None


async def test_the_service_can_add_no_chain_link_of_its_own(service, owner):
    # The chain's writer runs as the owner and computes each link from its record: a link for
    # a record that does not exist, or a second one for a record, is refused.
    with pytest.raises(asyncpg.PostgresError):
        await service.execute(
            "SELECT astguard_chain_append('block', '999999999', now())")
    block = await service.fetchval(
        """INSERT INTO contact_blocks (principal, number_e164, kind, recorded_at, local_day,
                                       until_day, source)
           VALUES ('lp-acme', '+33612000003', 'opposition', now(), current_date, NULL, 'test')
           RETURNING id""")
    assert await owner.fetchval(
        "SELECT count(*) FROM evidence_chain WHERE kind = 'block' AND ref = $1",
        str(block)) == 1  # linked by its trigger, for the service too
    with pytest.raises(asyncpg.UniqueViolationError):
        await service.execute("SELECT astguard_chain_append('block', $1, now())", str(block))
