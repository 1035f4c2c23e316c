"""The PostgreSQL connection pool, with bounded waits and a short circuit breaker.

A decision must never hang on a database that went away: every acquire and query is bounded by
`timeout`, and after a failure further calls fail at once for `cooldown` seconds instead of each
waiting for a connection timeout. Callers turn StoreUnavailable into GUARD_UNAVAILABLE.

Which failures mean "the store is unavailable" is decided by SQLSTATE class (`is_unavailable`):
the server going away, refusing connections or logins, running out of resources, a failover
that left us on a read-only standby, a cancelled statement, a deadlock or a serialisation
failure. All of them fail closed the same way (spool, breaker, GUARD_UNAVAILABLE). What is left
(syntax, constraint, data errors, the append-only triggers) is a bug and propagates as itself.
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

# SQLSTATE classes (first two characters) and single codes that mean "not now", not "wrong".
UNAVAILABLE_CLASSES = {
    "08": "connexion perdue ou refusée",
    "28": "autorisation refusée",
    "3D": "base de données absente",
    "40": "transaction annulée (interblocage ou sérialisation)",
    "53": "ressources du serveur épuisées",
    "57": "intervention de l'opérateur (arrêt, redémarrage, requête annulée)",
    "58": "erreur système du serveur",
    "XX": "erreur interne du serveur",
}
UNAVAILABLE_STATES = {
    "25006": "transaction en lecture seule (serveur de secours après une bascule ?)",
    "25P03": "transaction inactive trop longtemps",
    "25P04": "transaction trop longue (transaction_timeout, PostgreSQL 17)",
    "55P03": "verrou non obtenu à temps",
}
# Client-side: the socket, a timeout, a pool closed or a connection lost under us. asyncpg
# raises InternalClientError ("cannot switch to state 12") when the server terminated an idle
# pooled connection (57P01) and the FATAL message is read by the next query (asyncpg#1069).
_CLIENT_ERRORS = (OSError, TimeoutError, asyncpg.exceptions.InterfaceError,
                  asyncpg.exceptions.InternalClientError)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the store cannot be used now (fail closed and spool)."""
    if isinstance(exc, ValueError | asyncpg.exceptions.UnsupportedClientFeatureError):
        return False  # asyncpg's client-side DataError and configuration errors: our input
    if isinstance(exc, _CLIENT_ERRORS):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state in UNAVAILABLE_STATES or state[:2] in UNAVAILABLE_CLASSES
    return False


def describe_failure(exc: BaseException) -> str:
    """One French line for the evidence and the logs: what failed and its SQLSTATE."""
    kind = type(exc).__name__
    state = getattr(exc, "sqlstate", None) if isinstance(exc, asyncpg.PostgresError) else None
    if state is None or state[:2] == "08":
        return f"PostgreSQL injoignable ({kind})"
    meaning = UNAVAILABLE_STATES.get(state) or UNAVAILABLE_CLASSES.get(state[:2], "")
    return f"PostgreSQL indisponible ({kind}, SQLSTATE {state} : {meaning})"


async def _release(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool. asyncpg's default reset sends
    a query on every release (unlock all, close cursors, unlisten, reset settings): astguard
    takes only transaction-scoped locks and changes no session state, so that round trip is
    spent only to end a transaction a failure left open."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class Database:
    """One pool and its breaker. The gate and the readers (reports, audit, dashboard) each get
    their own Database, so a long read cannot take the gate's connections or open its breaker.
    `statement_timeout` (seconds) bounds every statement on the server side as well."""

    def __init__(self, url: str, *, timeout: float = 2.0, cooldown: float = 1.0,
                 max_size: int = 10, statement_timeout: float | None = None) -> None:
        self._url = url
        self._timeout = timeout
        self._cooldown = cooldown
        self._max_size = max_size
        self._statement_timeout = statement_timeout
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
                command_timeout, settings = self._timeout, {}
                if self._statement_timeout is not None:
                    settings["statement_timeout"] = str(int(self._statement_timeout * 1000))
                    command_timeout = self._statement_timeout + self._timeout
                self._pool = await asyncio.wait_for(
                    asyncpg.create_pool(self._url, min_size=1, max_size=self._max_size,
                                        timeout=self._timeout, command_timeout=command_timeout,
                                        server_settings=settings, reset=_release),
                    self._timeout,
                )
            return self._pool

    @contextlib.asynccontextmanager
    async def connection(self, *, despite_breaker: bool = False
                         ) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection. `despite_breaker`: try even while the breaker is open (reading
        back a write whose acknowledgement was lost); it leaves the breaker as it was."""
        if not despite_breaker and time.monotonic() < self._failed_until:
            raise StoreUnavailable(self.last_error or "base de données indisponible")
        try:
            pool = await self._get_pool()
            async with pool.acquire(timeout=self._timeout) as conn:
                try:
                    yield conn
                except Exception as exc:
                    if is_unavailable(exc):
                        # Never hand a connection that failed this way to the next caller
                        # (its protocol state may be broken); the pool opens a new one.
                        with contextlib.suppress(Exception):
                            conn.terminate()
                    raise
        except StoreUnavailable:
            raise
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self._trip(exc)
            raise StoreUnavailable(self.last_error or "base de données indisponible") from exc
        else:
            if not despite_breaker:  # a read that got through proves nothing about writes
                self.last_error = None

    @contextlib.asynccontextmanager
    async def bulk_transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction on a connection of its own with no statement timeout, for imports:
        merging millions of rows takes longer than any call may wait."""
        try:
            conn = await asyncpg.connect(self._url, timeout=self._timeout, command_timeout=None)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self._trip(exc)
            raise StoreUnavailable(self.last_error or "base de données indisponible") from exc
        try:
            async with conn.transaction():
                yield conn
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self._trip(exc)
            raise StoreUnavailable(self.last_error or "base de données indisponible") from exc
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=self._timeout)

    @contextlib.asynccontextmanager
    async def dedicated_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of its own, outside the pool (a LISTEN that lasts as long as the
        process). Failures are StoreUnavailable but leave the pool's breaker alone."""
        try:
            conn = await asyncpg.connect(self._url, timeout=self._timeout,
                                         command_timeout=self._timeout)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            raise StoreUnavailable(describe_failure(exc)) from exc
        try:
            yield conn
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            raise StoreUnavailable(describe_failure(exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(timeout=self._timeout), self._timeout)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    def _trip(self, exc: BaseException) -> None:
        self.last_error = describe_failure(exc)
        self._failed_until = time.monotonic() + self._cooldown
        log.warning("database unavailable (%s: %s) at %s", type(exc).__name__, exc,
                    mask_url(self._url))

    @property
    def breaker_open(self) -> bool:
        return time.monotonic() < self._failed_until

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
