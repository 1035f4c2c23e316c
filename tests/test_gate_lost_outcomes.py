"""Outcomes the soak found lost (issue 14): an allowed call whose outcome neither PostgreSQL
nor the spool could take, and a call a previous run decided and never saw end."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import pytest

from astguard.clock import PinnedClock
from astguard.errors import StoreUnavailable
from astguard.app.gate import Gate
from astguard.policy import CallRequest
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.evidence import EvidenceStore, Outcome
from astguard.store.spool import Spool
from tests.conftest import give_consent
from tests.test_gate import OPEN, RULES, directory  # noqa: F401 (fixture)

pytestmark = pytest.mark.db


class SwitchableDatabase(Database):
    """The test database, made unavailable on demand (as a failover or a partition would)."""

    down = False

    @contextlib.asynccontextmanager
    async def connection(self, *, despite_breaker: bool = False):
        if self.down:
            raise StoreUnavailable("PostgreSQL injoignable (test)")
        async with super().connection(despite_breaker=despite_breaker) as conn:
            yield conn


class FullSpool(Spool):
    full = False

    async def append(self, kind, row):
        if self.full:
            raise OSError(28, "No space left on device")
        await super().append(kind, row)


@pytest.fixture
async def db(database_url):
    database = SwitchableDatabase(database_url, timeout=5.0)
    yield database
    await database.close()


async def consumer(db: Database, n: int) -> str:
    """A consumer of this file's own: its attempts count toward nobody else's cap (R-D6)."""
    national = f"06129900{n:02d}"
    await give_consent(db, "gate-acme", "+33" + national[1:])
    return national


def gate_on(db: Database, spool: Spool, node: str) -> Gate:
    return Gate(db=db, directory=Directory(db), spool=spool, clock=PinnedClock(OPEN),
                rules=RULES, node=node)


async def test_an_outcome_nothing_could_keep_is_written_when_the_store_is_back(
        db, directory, tmp_path: Path):
    spool = FullSpool(tmp_path / "spool")
    gate = gate_on(db, spool, "lost-1")
    decided = await gate.check(CallRequest(await consumer(db, 1), "ari", endpoint="gate-agent"),
                               record=True)
    assert decided.verdict.allowed and not decided.spooled
    db.down, spool.full = True, True
    await gate.outcome(decided.decision_id, Outcome(True, "ANSWER", 16, "Normal", 4.0, OPEN))
    assert gate.unsaved_outcomes == 1
    assert await gate.retry_unsaved_outcomes() == 1  # still nowhere to go: kept, once
    db.down = False
    assert await gate.retry_unsaved_outcomes() == 0
    row = await EvidenceStore(db).get(decided.decision_id)
    assert row["answered"] is True and row["hangup_cause"] == 16


async def test_open_outcomes_lists_this_nodes_earlier_calls_only(db, directory, tmp_path):
    spool = Spool(tmp_path / "spool")
    mine, other = gate_on(db, spool, "node-mine"), gate_on(db, spool, "node-other")
    call = CallRequest(await consumer(db, 2), "ari", endpoint="gate-agent",
                       channel_id="chan-open")
    open_call = await mine.check(call, record=True)
    ended = await mine.check(CallRequest(await consumer(db, 3), "ari", endpoint="gate-agent",
                                         channel_id="chan-ended"), record=True)
    await mine.outcome(ended.decision_id, Outcome(True, "ANSWER", 16, None, 1.0, OPEN))
    await other.check(CallRequest(await consumer(db, 4), "ari", endpoint="gate-agent",
                                  channel_id="chan-elsewhere"), record=True)
    later = OPEN + dt.timedelta(seconds=1)
    assert open_call.verdict.allowed and ended.verdict.allowed
    assert await mine.open_outcomes(later) == [(open_call.decision_id, "chan-open")]
    assert await mine.open_outcomes(OPEN) == []  # decided at OPEN: this run's own call
