"""The outcomes the gate keeps in memory (neither PostgreSQL nor the spool could take them):
none lost by a cancelled retry, none dropped without a word (issue 14)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from astguard.app import gate as gate_module
from astguard.app.gate import Gate
from astguard.clock import PinnedClock
from astguard.errors import StoreUnavailable
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.values import Outcome
from tests.test_gate import OPEN, RULES


class AwayDatabase(Database):
    """PostgreSQL away; or, once `hang` is set, a write that never ends."""

    def __init__(self) -> None:
        super().__init__("postgresql://unused/none")
        self.hang = False

    @contextlib.asynccontextmanager
    async def transaction(self):
        if self.hang:
            await asyncio.Event().wait()
        raise StoreUnavailable("PostgreSQL injoignable (test)")
        yield  # pragma: no cover


def gate_without_spool(db: Database) -> Gate:
    # No spool: what PostgreSQL cannot take stays in memory.
    return Gate(db=db, directory=Directory(db), spool=None, clock=PinnedClock(OPEN),
                rules=RULES, node="memory")


def outcome(n: int) -> Outcome:
    return Outcome(True, "ANSWER", 16, None, float(n), OPEN)


async def test_a_cancelled_retry_keeps_every_outcome_in_memory():
    db = AwayDatabase()
    gate = gate_without_spool(db)
    for n in range(3):
        await gate.outcome(f"dec-{n}", outcome(n))
    assert gate.unsaved_outcomes == 3
    db.hang = True  # the first write hangs: the retry is cancelled there (a shutdown)
    retry = asyncio.create_task(gate.retry_unsaved_outcomes())
    await asyncio.sleep(0.05)
    retry.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await retry
    assert gate.unsaved_outcomes == 3
    db.hang = False
    assert await gate.retry_unsaved_outcomes() == 3  # still away: all kept, once each


async def test_an_outcome_pushed_out_of_memory_is_said(monkeypatch, caplog):
    monkeypatch.setattr(gate_module, "_UNSAVED_OUTCOMES", 2)
    gate = gate_without_spool(AwayDatabase())
    with caplog.at_level(logging.CRITICAL, logger="astguard.app.gate"):
        for n in range(3):
            await gate.outcome(f"dec-{n}", outcome(n))
    assert gate.unsaved_outcomes == 2
    assert any("dec-0" in r.getMessage() and "dropped" in r.getMessage()
               for r in caplog.records)
