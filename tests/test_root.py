"""The composition root (issue 13, item 3) and the rule parameters it passes (item 5): one
root builds every use case; R-G1's window comes from the rules only (no SQL literal), and the
clock it counts from is astguard's own (a pinned clock in tests and demos)."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import uuid
from pathlib import Path

import pytest

from astguard.app.caller_ids import CallerIds
from astguard.clock import PinnedClock
from astguard.controller import Components, components
from astguard.policy import RuleSettings
from astguard.policy.caller_id import shipped_tables
from astguard.store.caller_ids import CallerIdStore
from tests.conftest import hold_number, service_settings

pytestmark = pytest.mark.db

SRC = Path(__file__).resolve().parents[1] / "src" / "astguard"
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)  # long before the wall clock


async def _refusals(db, number: str, *ages_hours: float) -> None:
    async with db.connection() as conn:
        for age in ages_hours:
            await conn.execute(
                "INSERT INTO network_refusals (decision_id, caller_id, refused_at, cause) "
                "VALUES ($1, $2, $3, 21)", uuid.uuid4(), number,
                NOW - dt.timedelta(hours=age))


@pytest.mark.parametrize(("window_hours", "expected"), [(24, 2), (48, 3), (1, 0), (6, 1)])
async def test_recent_refusals_use_the_rules_window_and_astguards_clock(db, window_hours,
                                                                        expected):
    number = f"+331629901{window_hours:02d}"  # one number per case: refusals are kept
    await hold_number(db, "root-acme", number)
    await _refusals(db, number, 2, 20, 30, 24 * 30)
    rules = dataclasses.replace(RuleSettings(emergency_numbers=frozenset()),
                                network_refusal_window=dt.timedelta(hours=window_hours))
    service = CallerIds(CallerIdStore(db, shipped_tables().npv_roots), PinnedClock(NOW), rules)
    [row] = [r for r in await service.list("root-acme") if r["number"] == number]
    assert row["recent_refusals"] == expected


def test_no_sql_literal_for_a_rule_window_in_the_store():
    """Rule windows are passed as parameters: no `interval '…'` literal in store SQL."""
    offenders = [str(p.relative_to(SRC)) for p in sorted((SRC / "store").glob("*.py"))
                 if "interval '" in p.read_text(encoding="utf-8")]
    assert offenders == []


def _constructions(path: Path, names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            if name in names:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {name}()")
    return found


def test_only_the_root_constructs_pools_and_stores():
    stores = {"Database", "Directory", "EvidenceStore", "Spool", "CallerIdStore", "Reports",
              "InboundStore", "UnguardedStore", "TrunkAuditStore", "DecisionBindings"}
    outside = [hit for path in sorted(SRC.rglob("*.py"))
               if path.name != "controller.py" and "store" not in path.relative_to(SRC).parts
               for hit in _constructions(path, stores)]
    # The gate's own dry-run copy is the root's (Components.gate_at); nothing else.
    assert outside == []


async def test_the_root_builds_each_use_case_once(database_url, tmp_path):
    settings = service_settings(database_url, tmp_path)
    async with components(settings, PinnedClock(NOW)) as c:
        assert isinstance(c, Components)
        assert c.gate._clock is c.clock and c.contacts._clock is c.clock  # one clock
        assert c.caller_ids._clock is c.clock and c.recordings._clock is c.clock
        assert c.gate._spool is c.spool and c.operations._spool is c.spool  # one spool
        assert c.supervision._reader is c.read_db  # readers on their own pool
        assert c.gate_at(PinnedClock(NOW)).check is not None
        assert await c.operations.check_schema_if_reachable() is True
