"""Decision evidence: one append-only row per decision, its outcome attached once (rules §7).

Rows are plain JSON-able dicts so that the same row can wait in the local spool while
PostgreSQL is away and be written, unchanged, when it comes back.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from astguard.policy.model import CallRequest, Verdict
from astguard.store.database import Database
from astguard.values import OpenOutcome, Outcome  # Outcome re-exported (moved there)

COLUMNS = (
    "id", "decided_at", "clock_mode", "node", "source", "spooled", "channel_id", "endpoint",
    "agent", "dialled", "number_e164", "emergency", "territories", "local_times", "principal",
    "campaign", "purpose", "dial_mode", "classification", "caller_id_requested", "caller_id",
    "decision", "reason_codes", "reasons", "counts_as_attempt", "rulebook_version",
)
_INSERT = (
    f"INSERT INTO decisions ({', '.join(COLUMNS)}) VALUES "
    f"({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))}) ON CONFLICT (id) DO NOTHING"
)
_JSON_COLUMNS = ("local_times", "reasons")


def evidence_row(decision_id: str, verdict: Verdict, call: CallRequest, *, classification: str,
                 clock_mode: str, node: str) -> dict[str, Any]:
    campaign = verdict.campaign
    return {
        "id": decision_id,
        "decided_at": verdict.decided_at.isoformat(),
        "clock_mode": clock_mode,
        "node": node,
        "source": call.source,
        "spooled": False,
        "channel_id": call.channel_id,
        "endpoint": call.endpoint,
        "agent": call.agent,
        "dialled": call.dialled,
        "number_e164": verdict.number.e164 if verdict.number else None,
        "emergency": verdict.emergency,
        "territories": sorted(t.value for t in verdict.number.territories)
        if verdict.number else [],
        "local_times": [t.as_dict() for t in verdict.local_times],
        "principal": campaign.principal if campaign else None,
        "campaign": campaign.name if campaign else None,
        "purpose": campaign.purpose.value if campaign else None,
        "dial_mode": campaign.dial_mode.value if campaign else None,
        "classification": classification,
        "caller_id_requested": verdict.caller_id_requested,
        "caller_id": verdict.caller_id,
        "decision": verdict.decision.value,
        "reason_codes": verdict.codes,
        "reasons": [r.as_dict() for r in verdict.reasons],
        "counts_as_attempt": verdict.counts_as_attempt,
        "rulebook_version": verdict.rulebook_version,
    }


def _insert_args(row: dict[str, Any]) -> list[Any]:
    args = []
    for col in COLUMNS:
        value = row[col]
        if col == "decided_at":
            value = dt.datetime.fromisoformat(value)
        elif col in _JSON_COLUMNS:
            value = json.dumps(value, ensure_ascii=False)
        args.append(value)
    return args


async def insert_decision(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    """False when a decision with this id is already stored (the row is left as it is)."""
    status = await conn.execute(_INSERT, *_insert_args(row))
    return status.endswith(" 1")


_INSERT_WITH_ATTEMPT = (
    f"WITH d AS ({_INSERT.removesuffix(' ON CONFLICT (id) DO NOTHING')} RETURNING id, "
    "principal, number_e164, decided_at, campaign) "
    "INSERT INTO attempts (principal, number_e164, attempted_at, local_day, source, "
    f"decision_id, campaign) SELECT principal, number_e164, decided_at, ${len(COLUMNS) + 1}, "
    "'pbx', id, campaign FROM d"
)


async def insert_decision_and_attempt(conn: asyncpg.Connection, row: dict[str, Any], *,
                                      local_day: dt.date) -> None:
    """An allowed prospecting decision and the attempt it counts (R-D6), in one statement."""
    await conn.execute(_INSERT_WITH_ATTEMPT, *_insert_args(row), local_day)


async def decision_exists(conn: asyncpg.Connection, decision_id: str) -> bool:
    return await conn.fetchval("SELECT true FROM decisions WHERE id = $1",
                               decision_id) is not None


async def attach_outcome(conn: asyncpg.Connection, outcome: dict[str, Any]) -> bool:
    """Fill the outcome of a decision once; False when there is no such decision without one."""
    status = await conn.execute(
        """UPDATE decisions SET outcome_at = $2, answered = $3, dial_status = $4,
               hangup_cause = $5, hangup_cause_text = $6, duration_s = $7
           WHERE id = $1 AND outcome_at IS NULL""",
        outcome["decision_id"], dt.datetime.fromisoformat(outcome["outcome_at"]),
        outcome["answered"], outcome["dial_status"], outcome["hangup_cause"],
        outcome["hangup_cause_text"], outcome["duration_s"],
    )
    return status.endswith(" 1")


async def outcome_recorded(conn: asyncpg.Connection, decision_id: str) -> bool:
    """Whether this decision is stored with its outcome already."""
    return bool(await conn.fetchval(
        "SELECT outcome_at IS NOT NULL FROM decisions WHERE id = $1", decision_id))


# Its predicate is the partial index decisions_open_outcomes's (migration 0016): keep them equal.
OPEN_OUTCOMES = """SELECT id::text AS id, channel_id, source, decided_at FROM decisions
           WHERE node = $1 AND decision = 'allow' AND outcome_at IS NULL
             AND channel_id IS NOT NULL AND decided_at < $2
           ORDER BY decided_at LIMIT $3"""


async def open_outcomes(conn: asyncpg.Connection, node: str, before: dt.datetime,
                        limit: int = 1000) -> list[OpenOutcome]:
    """This node's allowed calls decided before `before` that still have no outcome: calls a
    run of the service followed and lost, or never followed (issue 14)."""
    rows = await conn.fetch(OPEN_OUTCOMES, node, before, limit)
    return [OpenOutcome(r["id"], r["channel_id"], r["source"], r["decided_at"]) for r in rows]


class EvidenceStore:
    """Reading the evidence (writing goes through the gate's transaction and the spool)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent(self, limit: int = 50, number: str | None = None) -> list[dict[str, Any]]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM decisions WHERE ($2::text IS NULL OR number_e164 = $2) "
                "ORDER BY decided_at DESC, recorded_at DESC LIMIT $1", limit, number)
        return [_decoded(r) for r in rows]

    async def get(self, decision_id: str) -> dict[str, Any] | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow("SELECT * FROM decisions WHERE id = $1", decision_id)
        return _decoded(row) if row else None


def _decoded(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    for col in _JSON_COLUMNS:
        if isinstance(out.get(col), str):
            out[col] = json.loads(out[col])
    out["id"] = str(out["id"])
    return out
