"""Readers have their own pool and bounded statements (issue 11, item 3): reports stuck on the
database cannot take the gate's connections nor open its breaker."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from astguard.clock import PinnedClock
from astguard.errors import StoreUnavailable
from astguard.policy import CallRequest
from astguard.controller import components
from tests.conftest import give_consent, hold_number, service_settings

pytestmark = pytest.mark.db

OPEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris
START, END = dt.datetime(2016, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


async def _waiting(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database() "
            "AND l.relation = 'principals'::regclass")
    finally:
        await conn.close()


async def _until_waiting(url: str, at_least: int) -> None:
    for _ in range(3000):
        if await _waiting(url) >= at_least:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {at_least} readers waiting")


async def _setup(c) -> None:
    await c.campaigns.add_principal("rp-acme", "ACME")
    await hold_number(c.db, "rp-acme")
    await c.campaigns.set_campaign("rp-prospect", "rp-acme", "prospecting", "manual",
                                   "0162123456", scope="energie")
    await c.campaigns.set_endpoint("rp-agent", "rp-prospect", [], "Alice")
    await give_consent(c.db, "rp-acme", "+33612340001")


async def test_reports_stuck_on_their_pool_do_not_time_the_gate_out(database_url, spool_dir):
    settings = service_settings(database_url, spool_dir, ASTGUARD_DB_TIMEOUT="3",
                                ASTGUARD_READ_POOL_SIZE="2")
    async with components(settings, clock=PinnedClock(OPEN)) as c:
        await _setup(c)
        locker = await asyncpg.connect(database_url)
        tx = locker.transaction()
        await tx.start()
        # Every inspection report starts by reading `principals`, which the gate never reads:
        # with it locked, each report holds its connection for as long as the lock lasts.
        await locker.execute("LOCK TABLE principals IN ACCESS EXCLUSIVE MODE")
        reports = [asyncio.create_task(c.supervision.inspection("rp-acme", START, END))
                   for _ in range(24)]  # more than any pool here holds
        try:
            await _until_waiting(database_url, 2)
            decided = await c.gate.check(CallRequest("0612340001", "ari", endpoint="rp-agent"),
                                         record=True)
        finally:
            await tx.rollback()
            await locker.close()
            await asyncio.gather(*reports, return_exceptions=True)
        assert decided.verdict.allowed, decided.verdict.codes
        assert not decided.spooled and c.db.last_error is None


async def test_long_reads_are_cut_by_the_server_not_the_gates_breaker(database_url, spool_dir):
    settings = service_settings(database_url, spool_dir, ASTGUARD_READ_STATEMENT_TIMEOUT="0.2")
    async with components(settings, clock=PinnedClock(OPEN)) as c:
        await _setup(c)
        locker = await asyncpg.connect(database_url)
        tx = locker.transaction()
        await tx.start()
        await locker.execute("LOCK TABLE principals IN ACCESS EXCLUSIVE MODE")
        try:
            with pytest.raises(StoreUnavailable) as raised:
                await c.supervision.inspection("rp-acme", START, END)
        finally:
            await tx.rollback()
            await locker.close()
        assert isinstance(raised.value.__cause__, asyncpg.QueryCanceledError)
        assert "57014" in c.read_db.last_error and c.db.last_error is None
        decided = await c.gate.check(CallRequest("0612340001", "ari", endpoint="rp-agent"),
                                     record=False)
        assert decided.verdict.allowed


def test_read_settings_fail_fast_with_their_name(tmp_path):
    from astguard.errors import ConfigError
    with pytest.raises(ConfigError, match="ASTGUARD_READ_POOL_SIZE"):
        service_settings("postgresql://x/y", tmp_path, ASTGUARD_READ_POOL_SIZE="0")
    with pytest.raises(ConfigError, match="ASTGUARD_READ_STATEMENT_TIMEOUT"):
        service_settings("postgresql://x/y", tmp_path, ASTGUARD_READ_STATEMENT_TIMEOUT="-1")
    settings = service_settings("postgresql://u:s3cr3tpw@h/db", tmp_path,
                                ASTGUARD_READ_DATABASE_URL="postgresql://u:s3cr3tpw@standby/db")
    assert "s3cr3tpw" not in repr(settings) and "standby" in repr(settings)
