"""Fault injection on the real PostgreSQL, inside a database of our own (issue 11).

Every fault here stays inside `astguard_test_faults` (scoped by ASTGUARD_TEST_DB_SUFFIX): the
database's own settings and connection limit, our own backends, our own locks. Nothing stops or
reconfigures the shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from lab.database import fresh_database, scoped
from tests.conftest import PG_SERVER

FAULT_DB = "astguard_test_faults"


async def fresh_fault_database() -> str:
    return await fresh_database(PG_SERVER, FAULT_DB)


@contextlib.asynccontextmanager
async def admin() -> AsyncIterator[asyncpg.Connection]:
    """A connection to the server's `postgres` database, for ALTER DATABASE on ours."""
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=10)
    try:
        yield conn
    finally:
        await conn.close()


async def alter_database(clause: str) -> None:
    async with admin() as conn:
        await conn.execute(f'ALTER DATABASE "{scoped(FAULT_DB)}" {clause}')


async def heal() -> None:
    """Undo every fault of this module's kind (settings and connection limit)."""
    await alter_database("RESET ALL")
    await alter_database("CONNECTION LIMIT -1")


async def terminate_backends() -> int:
    """pg_terminate_backend on every other session of our database (57P01 for each)."""
    async with admin() as conn:
        return await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()", scoped(FAULT_DB))


async def waiting_on_locks(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database()")
    finally:
        await conn.close()


async def until(predicate, *, what: str, attempts: int = 2000) -> None:
    """Wait for a state of the server (not a duration): poll, yielding to the loop."""
    for _ in range(attempts):
        if await predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never reached: {what}")
