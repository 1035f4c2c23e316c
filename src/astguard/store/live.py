"""New decisions as they are committed, for the dashboard's live stream (issue 15 item 6).

One listening connection per astguard process, on the primary (`db`; a standby gets no
notifications), while the rows are read through `reports` (the readers' pool): migration 0014 makes every statement that adds
decisions send `NOTIFY astguard_decisions` (delivered at commit, once the decision is chained);
the feed then reads the new chain links once and hands them to every subscriber (each browser's
stream holds one bounded queue). Nothing polls per browser.

The feed runs only while someone listens. When PostgreSQL goes away it tells the subscribers,
reconnects by itself (every `retry` seconds) and catches up from its cursor, so a decision made
meanwhile is still streamed, in chain order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from astguard.errors import StoreUnavailable
from astguard.store.database import Database, is_unavailable
from astguard.store.reports import Reports

log = logging.getLogger(__name__)

CHANNEL = "astguard_decisions"
QUEUE_SIZE = 1000  # events a slow browser may lag behind before it is told to reload


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """A decision (`seq`, `row`), or a change of the feed's state (`healthy`)."""
    seq: int = 0
    row: dict[str, Any] | None = None
    healthy: bool | None = None


class Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[FeedEvent] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def put(self, event: FeedEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True  # the stream ends; the browser reconnects and catches up


class DecisionFeed:
    def __init__(self, db: Database, reports: Reports, *, retry: float = 1.0,
                 ping: float = 5.0) -> None:
        self._db = db
        self._reports = reports
        self._retry = retry
        self._ping = ping
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._cursor: int | None = None
        self.healthy: bool | None = None  # None: not connected yet
        self._ready = asyncio.Event()  # listening, or failed once: subscribe() may return
        self.connections = 0  # listening connections opened (tests, logs)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription()
        self._subscribers.add(sub)
        if self.healthy is False:
            sub.put(FeedEvent(healthy=False))
        if not self.running:
            self._ready.clear()
            self._task = asyncio.create_task(self._run(), name="astguard-decision-feed")
        try:
            # Once this returns, every decision committed later reaches `sub`: the caller
            # may read the chain's head and take the feed's events after it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._db.timeout):
                    await self._ready.wait()
            yield sub
        finally:
            self._subscribers.discard(sub)
            if not self._subscribers:
                await self.close()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._cursor = None
        self.healthy = None

    def _publish(self, event: FeedEvent) -> None:
        for sub in list(self._subscribers):
            sub.put(event)

    def _set_health(self, healthy: bool) -> None:
        if self.healthy is not healthy:
            self.healthy = healthy
            self._publish(FeedEvent(healthy=healthy))

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not (isinstance(exc, StoreUnavailable) or is_unavailable(exc)):
                    log.exception("decision feed failed")
                else:
                    log.warning("decision feed: PostgreSQL unavailable (%s)", exc)
                self._set_health(False)
                self._ready.set()
            await asyncio.sleep(self._retry)

    async def _listen(self) -> None:
        wake = asyncio.Event()
        lost = asyncio.Event()
        async with self._db.dedicated_connection() as conn:
            self.connections += 1
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(CHANNEL, lambda *_: wake.set())
            if self._cursor is None:
                self._cursor = await self._reports.head_seq()
            self._set_health(True)
            self._ready.set()
            wake.set()  # catch up on what was committed while not listening
            while not lost.is_set():
                if wake.is_set():
                    wake.clear()
                    await self._read_new()
                    continue
                waiters = [asyncio.ensure_future(wake.wait()),
                           asyncio.ensure_future(lost.wait())]
                try:
                    done, _ = await asyncio.wait(waiters, timeout=self._ping,
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waiters:
                        w.cancel()
                    await asyncio.gather(*waiters, return_exceptions=True)
                if not done:
                    # Quiet: make sure the connection still answers, and read once more (the
                    # rows come from the readers' pool, which may be a standby a little
                    # behind the notification it follows).
                    await conn.fetchval("SELECT 1", timeout=self._db.timeout)
                    wake.set()
        raise StoreUnavailable("connexion d'écoute perdue")

    async def _read_new(self) -> None:
        assert self._cursor is not None
        while True:
            self._cursor, rows = await self._reports.since(self._cursor)
            for row in rows:
                self._publish(FeedEvent(seq=row["seq"], row=row))
            if not rows:
                return
