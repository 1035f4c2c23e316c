"""Every PostgreSQL failure class fails closed (issue 11, item 2): one real fault per SQLSTATE
class, raised by the real server inside our own database, then a few through the Gate."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from astguard.clock import PinnedClock
from astguard.errors import StoreUnavailable
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database, is_unavailable
from astguard.store.directory import Directory
from astguard.store.evidence import EvidenceStore
from astguard.store.spool import Spool
from tests.conftest import PG_SERVER, UNREACHABLE_DB, give_consent, hold_number
from lab.database import scoped
from tests.store.faults import (
    FAULT_DB,
    admin,
    alter_database,
    fresh_fault_database,
    heal,
    terminate_backends,
    until,
    waiting_on_locks,
)

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
OPEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris
LONG = 3600.0  # a breaker that stays open for the whole test, whatever the machine's speed


@pytest.fixture
async def url() -> AsyncIterator[str]:
    url = await fresh_fault_database()
    yield url
    await heal()


async def cause_of(db: Database, statement: str, *args: object) -> BaseException:
    """Run `statement` through the Database; it must fail as StoreUnavailable. Its cause."""
    with pytest.raises(StoreUnavailable) as raised:
        async with db.connection() as conn:
            await conn.execute(statement, *args)
    assert db.breaker_open, "the breaker opens on an unavailable store"
    return raised.value.__cause__


async def test_08_connection_refused():
    db = Database(UNREACHABLE_DB, timeout=2.0, cooldown=LONG)
    cause = await cause_of(db, "SELECT 1")
    assert isinstance(cause, OSError)
    assert "PostgreSQL injoignable" in db.last_error
    await db.close()


async def test_57p01_admin_shutdown_of_the_pools_backends(url):
    db = Database(url, timeout=5.0, cooldown=LONG)
    with pytest.raises(StoreUnavailable) as raised:
        async with db.connection() as conn:
            await conn.fetchval("SELECT 1")
            assert await terminate_backends() >= 1
            await conn.fetchval("SELECT 1")
    cause = raised.value.__cause__
    assert db.breaker_open
    # The server's FATAL 57P01, or, depending on when asyncpg reads it, the connection lost
    # (08xxx), taken back by the pool (InterfaceError) or its protocol confused by it
    # (InternalClientError).
    assert getattr(cause, "sqlstate", None) in ("57P01", "08003", "08006") or isinstance(
        cause, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError), repr(cause)
    await db.close()


async def test_53300_too_many_connections(url):
    await alter_database("CONNECTION LIMIT 0")
    db = Database(url, timeout=5.0, cooldown=LONG)
    cause = await cause_of(db, "SELECT 1")
    assert isinstance(cause, asyncpg.TooManyConnectionsError) and cause.sqlstate == "53300"
    assert "SQLSTATE 53300" in db.last_error
    await db.close()


async def test_28000_authorisation_refused():
    # The lab's server trusts loopback (no passwords to get wrong): a role that may not log in
    # is the same class 28 refusal.
    db = Database(f"{PG_SERVER.replace('astguard:astguard@', 'astguard_nobody:x@')}/postgres",
                  timeout=5.0, cooldown=LONG)
    cause = await cause_of(db, "SELECT 1")
    assert cause.sqlstate.startswith("28")
    await db.close()


async def test_3d000_database_gone():
    db = Database(f"{PG_SERVER}/astguard_no_such_database", timeout=5.0, cooldown=LONG)
    cause = await cause_of(db, "SELECT 1")
    assert cause.sqlstate == "3D000"
    await db.close()


async def test_25006_read_only_after_failover(url):
    await alter_database("SET default_transaction_read_only = on")
    db = Database(url, timeout=5.0, cooldown=LONG)
    cause = await cause_of(db, "INSERT INTO principals (id, name) VALUES ('ro', 'RO')")
    assert cause.sqlstate == "25006"
    assert "lecture seule" in db.last_error
    await db.close()


async def test_57014_statement_cancelled(url):
    db = Database(url, timeout=5.0, statement_timeout=0.05, cooldown=LONG)
    cause = await cause_of(db, "SELECT pg_sleep(30)")
    assert isinstance(cause, asyncpg.QueryCanceledError) and cause.sqlstate == "57014"
    await db.close()


async def test_client_timeout(url):
    db = Database(url, timeout=0.2, cooldown=LONG)
    cause = await cause_of(db, "SELECT pg_sleep(30)")
    assert isinstance(cause, TimeoutError)
    await db.close()


async def test_40001_serialisation_failure(url):
    db = Database(url, timeout=5.0, cooldown=LONG)
    async with db.connection() as setup:
        await setup.execute("CREATE TABLE counter (n int); INSERT INTO counter VALUES (0)")
    other = await asyncpg.connect(url)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            async with db.connection() as conn, conn.transaction(isolation="repeatable_read"):
                await conn.fetchval("SELECT n FROM counter")
                await other.execute("UPDATE counter SET n = n + 1")
                await conn.execute("UPDATE counter SET n = n + 1")
    finally:
        await other.close()
    assert raised.value.__cause__.sqlstate == "40001" and db.breaker_open
    await db.close()


async def test_40p01_deadlock(url):
    db = Database(url, timeout=10.0, cooldown=LONG)
    first_locked, second_locked = asyncio.Event(), asyncio.Event()

    async def take(mine: int, theirs: int, locked: asyncio.Event, other: asyncio.Event) -> None:
        async with db.connection(despite_breaker=True) as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", mine)
            locked.set()
            await other.wait()
            await conn.execute("SELECT pg_advisory_xact_lock($1)", theirs)

    results = await asyncio.gather(take(1, 2, first_locked, second_locked),
                                   take(2, 1, second_locked, first_locked),
                                   return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], StoreUnavailable), results
    assert failed[0].__cause__.sqlstate == "40P01"
    await db.close()


async def test_pool_closed_is_unavailable(url):
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    await pool.close()
    with pytest.raises(asyncpg.InterfaceError) as raised:
        async with pool.acquire():
            pass
    assert is_unavailable(raised.value)


@pytest.mark.parametrize("statement", [
    "SELEC 1",  # 42601: our bug
    "INSERT INTO principals (id, name) VALUES ('bad id!', 'x')",  # 23514: our bug
])
async def test_bugs_are_not_outages(url, statement):
    db = Database(url, timeout=5.0, cooldown=LONG)
    with pytest.raises(asyncpg.PostgresError):
        async with db.connection() as conn:
            await conn.execute(statement)
    assert not db.breaker_open and db.last_error is None
    await db.close()


# -- through the Gate ------------------------------------------------------------------------

async def _directory(db: Database) -> None:
    await give_consent(db, "flt-acme", "+33612345678")
    d = Directory(db)
    await d.add_principal("flt-acme", "ACME")
    await hold_number(db, "flt-acme")
    await hold_number(db, "flt-acme", "+33145678901")  # the service campaign's (R-F2)
    await d.set_campaign("flt-prospect", "flt-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_campaign("flt-service", "flt-acme", "service", "manual", "0145678901")
    await d.set_endpoint("flt-agent", "flt-prospect", ["flt-service"], "Alice")


PROSPECT = CallRequest("0612345678", "ari", endpoint="flt-agent")
SERVICE = CallRequest("0612345678", "ari", endpoint="flt-agent", campaign_name="flt-service")


def gate_on(db: Database, spool_dir: Path) -> Gate:
    return Gate(db=db, directory=Directory(db), spool=Spool(spool_dir), clock=PinnedClock(OPEN),
                rules=RULES, node="faults")


async def _hold_consumer_lock(url: str, ready: asyncio.Event, done: asyncio.Event) -> None:
    """Hold the (principal, consumer) lock the gate takes before reading the history."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                               "flt-acme\x1f+33612345678")
            ready.set()
            await done.wait()
    finally:
        await conn.close()


async def inject(fault: str, url: str, db: Database) -> asyncio.Event | None:
    """Put the store in the fault's state; return an event to set when the test is over."""
    if fault == "25006":
        await alter_database("SET default_transaction_read_only = on")
        await terminate_backends()  # the pool reconnects and gets the new default
    elif fault == "53300":
        await db.close()
        await alter_database("CONNECTION LIMIT 0")
    elif fault == "57014":
        await alter_database("SET statement_timeout = '200ms'")
        await terminate_backends()
        ready, done = asyncio.Event(), asyncio.Event()
        asyncio.get_running_loop().create_task(_hold_consumer_lock(url, ready, done))
        await ready.wait()
        return done
    return None


@pytest.mark.parametrize("fault", ["25006", "53300", "57014"])
async def test_gate_fails_closed_spools_and_lets_known_service_through(url, spool_dir, fault):
    db = Database(url, timeout=5.0, cooldown=LONG)
    await _directory(db)
    gate = gate_on(db, spool_dir)
    # While the store answers the gate learns the endpoint's campaigns.
    assert (await gate.check(SERVICE, record=False)).verdict.allowed
    assert (await gate.check(PROSPECT, record=False)).verdict.allowed
    done = await inject(fault, url, db)
    try:
        prospect = await gate.check(PROSPECT, record=True)
        service = await gate.check(SERVICE, record=True)
    finally:
        if done is not None:
            done.set()
    assert prospect.verdict.codes == ["GUARD_UNAVAILABLE"] and prospect.spooled
    assert service.verdict.allowed and service.spooled
    assert db.breaker_open
    await db.close()
    await heal()
    await until(lambda: _no_waiters(url), what="the lock holder is gone")
    healthy = Database(url, timeout=5.0, cooldown=LONG)
    assert await Spool(spool_dir).flush(healthy) == 2
    row = await EvidenceStore(healthy).get(prospect.decision_id)
    assert row["reason_codes"] == ["GUARD_UNAVAILABLE"] and row["spooled"]
    await healthy.close()


async def _no_waiters(url: str) -> bool:
    return await waiting_on_locks(url) == 0


async def test_gate_backend_terminated_mid_decision(url, spool_dir):
    """57P01 while the gate waits inside its transaction: refused, spooled, breaker open."""
    db = Database(url, timeout=10.0, cooldown=LONG)
    await _directory(db)
    gate = gate_on(db, spool_dir)
    ready, done = asyncio.Event(), asyncio.Event()
    holder = asyncio.get_running_loop().create_task(_hold_consumer_lock(url, ready, done))
    await ready.wait()
    deciding = asyncio.get_running_loop().create_task(gate.check(PROSPECT, record=True))
    await until(lambda: _has_waiters(url), what="the gate waits for the consumer's lock")
    async with admin() as conn:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = $1", scoped(FAULT_DB))
    assert killed == 1
    prospect = await deciding
    done.set()
    await holder
    assert prospect.verdict.codes == ["GUARD_UNAVAILABLE"] and prospect.spooled
    assert db.breaker_open
    assert (await gate.check(SERVICE, record=True)).verdict.codes == ["GUARD_UNAVAILABLE"], \
        "never classified before the outage: nothing known, refused"
    await db.close()


async def _has_waiters(url: str) -> bool:
    return await waiting_on_locks(url) > 0


def test_a_transaction_timeout_of_postgresql_17_fails_closed():
    # 25P04 (transaction_timeout) cannot be injected on this machine's PostgreSQL 15: the
    # classifier is checked on the server's own exception type for that SQLSTATE.
    from astguard.store.database import is_unavailable

    exc = asyncpg.PostgresError("terminating connection due to transaction timeout")
    exc.sqlstate = "25P04"
    assert is_unavailable(exc)
    other = asyncpg.PostgresError("syntax")
    other.sqlstate = "42601"
    assert not is_unavailable(other)
