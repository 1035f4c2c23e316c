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


class LostAcknowledgement:
    """A TCP proxy to PostgreSQL that, once armed, forwards the server's reply to the next
    statement with the given tag (b"COMMIT", b"INSERT 0 1") to nobody and cuts that connection:
    the write reached the server, its acknowledgement never reached the client."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._needle: bytes | None = None
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    def arm(self, tag: bytes) -> None:
        body = tag + b"\x00"
        self._needle = b"C" + (len(body) + 4).to_bytes(4, "big") + body

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self._upstream)
        up = asyncio.create_task(self._pump(client_r, server_w, watch=False))
        down = asyncio.create_task(self._pump(server_r, client_w, watch=True))
        self._tasks |= {up, down}
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            self._tasks -= {up, down}
            for writer in (client_w, server_w):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    watch: bool) -> None:
        tail = b""
        while data := await reader.read(65536):
            if watch and self._needle is not None and self._needle in tail + data:
                self._needle = None
                self.cuts += 1
                return  # the reply goes nowhere; both sides are closed
            tail = data[-32:]
            writer.write(data)
            await writer.drain()
