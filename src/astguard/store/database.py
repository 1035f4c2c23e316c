"""The PostgreSQL connection pool, with bounded waits and a short circuit breaker.

A decision must never hang on a database that went away: every acquire and query is bounded by
`timeout`, and after a failure further calls fail at once for `cooldown` seconds instead of each
waiting for a connection timeout. Callers turn StoreUnavailable into GUARD_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import asyncpg

from astguard.errors import StoreUnavailable
from astguard.settings import mask_url

log = logging.getLogger(__name__)

_UNAVAILABLE_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
)


async def _release(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool. asyncpg's default reset sends
    a query on every release (unlock all, close cursors, unlisten, reset settings): astguard
    takes only transaction-scoped locks and changes no session state, so that round trip is
    spent only to end a transaction a failure left open."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class Database:
    def __init__(self, url: str, *, timeout: float = 2.0, cooldown: float = 1.0,
                 max_size: int = 10) -> None:
        self._url = url
        self._timeout = timeout
        self._cooldown = cooldown
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._failed_until = 0.0
        self.last_error: str | None = None

    @property
    def timeout(self) -> float:
        return self._timeout

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncio.wait_for(
                    asyncpg.create_pool(self._url, min_size=1, max_size=self._max_size,
                                        timeout=self._timeout, command_timeout=self._timeout,
                                        reset=_release),
                    self._timeout,
                )
            return self._pool

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        if time.monotonic() < self._failed_until:
            raise StoreUnavailable(self.last_error or "base de données indisponible")
        try:
            pool = await self._get_pool()
            async with pool.acquire(timeout=self._timeout) as conn:
                yield conn
        except _UNAVAILABLE_ERRORS as exc:
            self._trip(exc)
            raise StoreUnavailable(self.last_error or "base de données indisponible") from exc
        else:
            self.last_error = None

    @contextlib.asynccontextmanager
    async def bulk_transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction on a connection of its own with no statement timeout, for imports:
        merging millions of rows takes longer than any call may wait."""
        try:
            conn = await asyncpg.connect(self._url, timeout=self._timeout, command_timeout=None)
        except _UNAVAILABLE_ERRORS as exc:
            self._trip(exc)
            raise StoreUnavailable(self.last_error or "base de données indisponible") from exc
        try:
            async with conn.transaction():
                yield conn
        except _UNAVAILABLE_ERRORS as exc:
            self._trip(exc)
            raise StoreUnavailable(self.last_error or "base de données indisponible") from exc
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    def _trip(self, exc: BaseException) -> None:
        kind = type(exc).__name__
        self.last_error = f"PostgreSQL injoignable ({kind})"
        self._failed_until = time.monotonic() + self._cooldown
        log.warning("database unavailable (%s: %s) at %s", kind, exc, mask_url(self._url))

    async def ping(self) -> float:
        """One bare round trip, in seconds (the benchmark's baseline)."""
        async with self.connection() as conn:
            t0 = time.perf_counter()
            await conn.fetchval("SELECT 1")
            return time.perf_counter() - t0

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), self._timeout)
