"""The look for allowed calls without an outcome, run by every node every 10 s (issue 14),
reads the partial index of migration 0016, not the whole decisions table."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from astguard.store.evidence import OPEN_OUTCOMES

pytestmark = pytest.mark.db


async def test_the_open_outcomes_look_uses_its_partial_index(db):
    async with db.connection() as conn, conn.transaction():
        # On an almost empty table the planner would rightly scan it: forbid that, so the
        # plan shows which index answers the query's predicate.
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        plan = json.loads(await conn.fetchval(
            f"EXPLAIN (FORMAT JSON) {OPEN_OUTCOMES}", "node-x",
            dt.datetime(2026, 11, 27, tzinfo=dt.UTC), 1000))

    def indexes(node: dict) -> set[str]:
        found = {node["Index Name"]} if "Index Name" in node else set()
        for child in node.get("Plans", []):
            found |= indexes(child)
        return found

    assert indexes(plan[0]["Plan"]) == {"decisions_open_outcomes"}
