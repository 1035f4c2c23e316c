"""A carrier refusal (cause 21) whose outcome waited in the spool is counted at replay (R-G1;
found by review)."""
from __future__ import annotations

import datetime as dt

import pytest

from astguard.clock import PinnedClock
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.caller_ids import NETWORK_REFUSED_CAUSE
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.evidence import Outcome
from astguard.store.spool import Spool
from tests.conftest import give_consent, hold_number

pytestmark = pytest.mark.db
RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


async def test_spooled_network_refusal_is_counted_at_replay(db, spool_dir):
    d = Directory(db)
    await d.add_principal("r2n-acme", "ACME")
    # A number of its own: a refusal counted against the shared +33162123456 would raise an
    # alert that every later test presenting it would see (R-G1 warning).
    await hold_number(db, "r2n-acme", "+33162123488")
    await d.set_campaign("r2n-prospect", "r2n-acme", "prospecting", "manual", "0162123488",
                         scope="energie")
    await d.set_endpoint("r2n-agent", "r2n-prospect", [], "Alice")
    await give_consent(db, "r2n-acme", "+33612396001")
    gate_db = Database(db._url, timeout=2.0, cooldown=3600)
    spool = Spool(spool_dir)
    gate = Gate(db=gate_db, directory=Directory(gate_db), spool=spool,
                clock=PinnedClock(FRIDAY), rules=RULES, node="r2")
    decided = await gate.check(CallRequest("0612396001", "ari", endpoint="r2n-agent"),
                               record=True)
    assert decided.verdict.allowed
    gate_db._trip(OSError("blip"))  # PostgreSQL away when the call ends
    await gate.outcome(decided.decision_id, Outcome(
        answered=False, dial_status="CONGESTION", hangup_cause=NETWORK_REFUSED_CAUSE,
        hangup_cause_text=None, duration_s=None, ended_at=FRIDAY + dt.timedelta(seconds=3)))
    await gate_db.close()
    assert spool.depth() == 1
    assert await spool.flush(db) == 1
    async with db.connection() as conn:
        n = await conn.fetchval("SELECT count(*) FROM network_refusals WHERE decision_id = $1",
                                decided.decision_id)
    assert n == 1, "the carrier's refusal replayed from the spool was not counted (R-G1)"
