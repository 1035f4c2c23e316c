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
MARGIN = dt.timedelta(seconds=30)


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
    found = await mine.open_outcomes(later, MARGIN)
    assert [(c.decision_id, c.channel_id, c.source) for c in found] == [
        (open_call.decision_id, "chan-open", "ari")]
    assert found[0].decided_at == OPEN
    assert await mine.open_outcomes(OPEN, MARGIN) == []  # decided at OPEN: this run's own call


async def test_open_outcomes_lists_this_runs_calls_once_past_the_margin(db, directory,
                                                                         tmp_path):
    # A call of this run nobody reports (a FastAGI hangup handler that never reached
    # astguard): looked for once older than the margin, not before (issue 14).
    spool = Spool(tmp_path / "spool")
    decided = await gate_on(db, spool, "node-run").check(
        CallRequest(await consumer(db, 5), "agi", endpoint="gate-agent",
                    channel_id="chan-agi"), record=True)
    started = OPEN - dt.timedelta(hours=1)
    young = Gate(db=db, directory=Directory(db), spool=spool,
                 clock=PinnedClock(OPEN + MARGIN / 2), rules=RULES, node="node-run")
    old = Gate(db=db, directory=Directory(db), spool=spool,
               clock=PinnedClock(OPEN + MARGIN * 2), rules=RULES, node="node-run")
    assert await young.open_outcomes(started, MARGIN) == []
    (found,) = await old.open_outcomes(started, MARGIN)
    assert (found.decision_id, found.source) == (decided.decision_id, "agi")


async def test_an_unobserved_end_gives_way_to_the_real_outcome_in_the_spool(db, directory,
                                                                           tmp_path):
    # The real outcome went to the spool while PostgreSQL was away; PostgreSQL is back
    # before the flush, and the decision looks open. "Not observed" must not take its place
    # (the real one would then be refused and set aside).
    spool = Spool(tmp_path / "spool")
    gate = gate_on(db, spool, "give-way")
    decided = await gate.check(CallRequest(await consumer(db, 6), "ari",
                                           endpoint="gate-agent", channel_id="c6"),
                               record=True)
    db.down = True
    await gate.outcome(decided.decision_id, Outcome(True, "ANSWER", 16, "Normal", 4.0, OPEN))
    db.down = False
    lost = Outcome(None, None, None, "fin d'appel non observée (test)", None, OPEN)
    await gate.outcome(decided.decision_id, lost, observed=False)
    assert spool.depth() == 1  # only the real one
    assert await spool.flush(db) == 1 and spool.kept_aside == 0
    row = await EvidenceStore(db).get(decided.decision_id)
    assert row["answered"] is True and row["hangup_cause"] == 16


async def test_an_unobserved_end_after_the_real_outcome_is_dropped(db, directory, tmp_path):
    spool = Spool(tmp_path / "spool")
    gate = gate_on(db, spool, "give-way-2")
    decided = await gate.check(CallRequest(await consumer(db, 7), "ari",
                                           endpoint="gate-agent", channel_id="c7"),
                               record=True)
    await gate.outcome(decided.decision_id, Outcome(True, "ANSWER", 16, "Normal", 4.0, OPEN))
    lost = Outcome(None, None, None, "fin d'appel non observée (test)", None, OPEN)
    await gate.outcome(decided.decision_id, lost, observed=False)
    assert spool.depth() == 0 and gate.unsaved_outcomes == 0
    row = await EvidenceStore(db).get(decided.decision_id)
    assert row["answered"] is True


class BrokenDatabase(Database):
    """PostgreSQL refuses the write for a reason that is not an outage (a bug, a trigger)."""

    @contextlib.asynccontextmanager
    async def transaction(self):
        raise RuntimeError("unexpected failure")
        yield  # pragma: no cover


async def test_an_outcome_postgresql_refuses_is_spooled_not_lost(tmp_path: Path, caplog):
    # It used to propagate into the task that wrote it, where nobody looked (issue 14).
    spool = Spool(tmp_path / "spool")
    broken = BrokenDatabase("postgresql://unused/none")
    gate = Gate(db=broken, directory=Directory(broken), spool=spool,
                clock=PinnedClock(OPEN), rules=RULES, node="broken")
    await gate.outcome("00000000-0000-0000-0000-00000000abcd",
                       Outcome(True, "ANSWER", 16, None, 1.0, OPEN))
    assert spool.depth() == 1
    assert await spool.holds_outcome("00000000-0000-0000-0000-00000000abcd")
    assert any("not written" in r.message and r.exc_info for r in caplog.records)
