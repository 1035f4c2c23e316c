"""Read models over the evidence for supervisors and inspections: decisions by period,
campaign, agent and reason; refusal statistics; a campaign's figures; the inspection report.

Everything here only reads. Periods are half-open [start, end).
"""

from __future__ import annotations

import datetime as dt
import contextlib
import dataclasses
from dataclasses import dataclass
from collections.abc import AsyncIterator
from typing import Any

from astguard.errors import InputError
from astguard.store.database import Database
from astguard.store.inspection import (
    DECISION_COLUMNS as _DECISION_COLUMNS,
    InspectionReport,
    InspectionRun,
    ReasonCount,
    decision_row as _row,
    open_inspection,
)
from astguard.instants import local_time_text
from astguard.values import MAX_ROWS, DecisionFilter

__all__ = ["MAX_ROWS", "CampaignSummary", "DecisionFilter", "DecisionPage", "RefusalStats",
           "Reports", "local_time_text"]


@dataclass(frozen=True, slots=True)
class DecisionPage:
    total: int
    limit: int
    offset: int
    decisions: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "limit": self.limit, "offset": self.offset,
                "decisions": list(self.decisions)}


@dataclass(frozen=True, slots=True)
class KeyCount:
    """A count under a campaign's or an agent's name."""
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class RefusalStats:
    start: dt.datetime
    end: dt.datetime
    decisions: int
    denied: int
    allowed: int
    by_reason: tuple[ReasonCount, ...]
    by_campaign: tuple[KeyCount, ...]
    by_agent: tuple[KeyCount, ...]

    @property
    def refusal_rate(self) -> float | None:
        return self.denied / self.decisions if self.decisions else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "decisions": self.decisions, "denied": self.denied, "allowed": self.allowed,
            "by_reason": [r.as_dict() for r in self.by_reason],
            "by_campaign": [{"campaign": c.key, "count": c.count} for c in self.by_campaign],
            "by_agent": [{"agent": a.key, "count": a.count} for a in self.by_agent],
        }


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    name: str
    principal_id: str
    purpose: str
    dial_mode: str
    caller_id: str | None
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class CallerIdFigures:
    caller_id: str
    calls: int
    network_refusals: int
    alert: bool

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class DayCount:
    day: dt.date  # in Paris
    decisions: int
    denied: int

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "decisions": self.decisions,
                "denied": self.denied}


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    campaign: CampaignInfo
    start: dt.datetime
    end: dt.datetime
    decisions: int
    denied: int
    allowed: int
    answered: int
    network_refusals: int
    caller_ids: tuple[CallerIdFigures, ...]
    by_reason: tuple[ReasonCount, ...]
    per_day: tuple[DayCount, ...]

    @property
    def refusal_rate(self) -> float | None:
        return round(self.denied / self.decisions, 4) if self.decisions else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign.as_dict(),
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "decisions": self.decisions, "denied": self.denied, "allowed": self.allowed,
            "answered": self.answered, "network_refusals": self.network_refusals,
            "refusal_rate": self.refusal_rate,
            "caller_ids": [c.as_dict() for c in self.caller_ids],
            "by_reason": [r.as_dict() for r in self.by_reason],
            "per_day": [d.as_dict() for d in self.per_day],
        }


class Reports:
    def __init__(self, db: Database, opt_in_from: dt.date) -> None:
        self._db = db
        self._opt_in_from = opt_in_from

    @property
    def db(self) -> Database:
        return self._db

    async def decisions(self, f: DecisionFilter) -> DecisionPage:
        where = """d.decided_at >= $1 AND d.decided_at < $2
            AND ($3::text IS NULL OR d.campaign = $3)
            AND ($4::text IS NULL OR d.agent = $4 OR d.endpoint = $4)
            AND ($5::text IS NULL OR $5 = ANY(d.reason_codes))
            AND ($6::text IS NULL OR d.decision = $6)
            AND ($7::text IS NULL OR d.principal = $7)
            AND ($8::text IS NULL OR d.number_e164 = $8)"""
        args = (f.start, f.end, f.campaign, f.agent, f.reason, f.decision, f.principal, f.number)
        async with self._db.connection() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM decisions d WHERE {where}", *args)
            rows = await conn.fetch(
                f"SELECT {_DECISION_COLUMNS} FROM decisions d WHERE {where} "
                "ORDER BY d.decided_at DESC, d.id LIMIT $9 OFFSET $10", *args, f.limit, f.offset)
        return DecisionPage(total, f.limit, f.offset, tuple(_row(r) for r in rows))

    async def since(self, seq: int, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """Decisions chained after link `seq` (the live stream's cursor), oldest first."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"""SELECT c.seq, {_DECISION_COLUMNS} FROM evidence_chain c
                    JOIN decisions d ON d.id = c.ref::uuid
                    WHERE c.seq > $1 AND c.kind = 'decision' ORDER BY c.seq LIMIT $2""",
                seq, limit)
            if not rows:
                head = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM evidence_chain")
                return max(seq, head), []
        return rows[-1]["seq"], [_row(r) for r in rows]

    async def head_seq(self) -> int:
        async with self._db.connection() as conn:
            return await conn.fetchval("SELECT coalesce(max(seq), 0) FROM evidence_chain")

    async def unguarded_count(self, start: dt.datetime, end: dt.datetime) -> int:
        """Calls that reached a trunk without a decision (emergency calls aside)."""
        async with self._db.connection() as conn:
            return int(await conn.fetchval(
                "SELECT count(*) FROM unguarded_calls WHERE created_at >= $1 "
                "AND created_at < $2 AND NOT emergency", start, end))

    async def refusal_stats(self, start: dt.datetime, end: dt.datetime,
                            principal: str | None = None) -> RefusalStats:
        async with self._db.connection() as conn:
            totals = await conn.fetchrow(
                """SELECT count(*) AS decisions,
                          count(*) FILTER (WHERE decision = 'deny') AS denied,
                          count(*) FILTER (WHERE decision = 'allow') AS allowed
                   FROM decisions WHERE decided_at >= $1 AND decided_at < $2
                     AND ($3::text IS NULL OR principal = $3)""", start, end, principal)
            by_reason = await conn.fetch(
                """SELECT r->>'code' AS key, count(*) AS n
                   FROM decisions d, jsonb_array_elements(d.reasons) r
                   WHERE d.decided_at >= $1 AND d.decided_at < $2 AND r->>'effect' = 'deny'
                     AND ($3::text IS NULL OR d.principal = $3)
                   GROUP BY 1 ORDER BY 2 DESC, 1""", start, end, principal)
            by_campaign = await conn.fetch(
                """SELECT coalesce(campaign, '(aucune)') AS key, count(*) AS n
                   FROM decisions WHERE decided_at >= $1 AND decided_at < $2
                     AND decision = 'deny' AND ($3::text IS NULL OR principal = $3)
                   GROUP BY 1 ORDER BY 2 DESC, 1""", start, end, principal)
            by_agent = await conn.fetch(
                """SELECT coalesce(agent, endpoint, '(inconnu)') AS key, count(*) AS n
                   FROM decisions WHERE decided_at >= $1 AND decided_at < $2
                     AND decision = 'deny' AND ($3::text IS NULL OR principal = $3)
                   GROUP BY 1 ORDER BY 2 DESC, 1""", start, end, principal)
        return RefusalStats(
            start=start, end=end, decisions=totals["decisions"], denied=totals["denied"],
            allowed=totals["allowed"],
            by_reason=tuple(ReasonCount(r["key"], r["n"]) for r in by_reason),
            by_campaign=tuple(KeyCount(r["key"], r["n"]) for r in by_campaign),
            by_agent=tuple(KeyCount(r["key"], r["n"]) for r in by_agent))

    async def campaign(self, name: str, start: dt.datetime, end: dt.datetime
                       ) -> CampaignSummary:
        async with self._db.connection() as conn:
            known = await conn.fetchrow(
                "SELECT name, principal_id, purpose, dial_mode, caller_id, active "
                "FROM campaigns WHERE name = $1", name)
            if known is None:
                raise InputError(f"campagne inconnue : {name}")
            totals = await conn.fetchrow(
                """SELECT count(*) AS decisions,
                          count(*) FILTER (WHERE decision = 'deny') AS denied,
                          count(*) FILTER (WHERE decision = 'allow') AS allowed,
                          count(*) FILTER (WHERE answered) AS answered,
                          count(*) FILTER (WHERE hangup_cause = 21 AND NOT coalesce(answered,
                                                                                 false))
                              AS network_refusals
                   FROM decisions WHERE campaign = $1 AND decided_at >= $2 AND decided_at < $3""",
                name, start, end)
            caller_ids = await conn.fetch(
                """SELECT caller_id, count(*) AS calls,
                          count(*) FILTER (WHERE hangup_cause = 21
                                           AND NOT coalesce(answered, false)) AS network_refusals,
                          EXISTS (SELECT 1 FROM caller_id_alerts a WHERE a.caller_id = d.caller_id
                                  AND a.cleared_at IS NULL) AS alert
                   FROM decisions d
                   WHERE campaign = $1 AND decided_at >= $2 AND decided_at < $3
                     AND decision = 'allow' AND caller_id IS NOT NULL
                   GROUP BY caller_id ORDER BY 2 DESC""", name, start, end)
            by_reason = await conn.fetch(
                """SELECT r->>'code' AS code, count(*) AS n
                   FROM decisions d, jsonb_array_elements(d.reasons) r
                   WHERE d.campaign = $1 AND d.decided_at >= $2 AND d.decided_at < $3
                     AND r->>'effect' = 'deny' GROUP BY 1 ORDER BY 2 DESC, 1""", name, start, end)
            per_day = await conn.fetch(
                """SELECT (decided_at AT TIME ZONE 'Europe/Paris')::date AS day,
                          count(*) AS decisions, count(*) FILTER (WHERE decision = 'deny') AS denied
                   FROM decisions WHERE campaign = $1 AND decided_at >= $2 AND decided_at < $3
                   GROUP BY 1 ORDER BY 1""", name, start, end)
        return CampaignSummary(
            campaign=CampaignInfo(**dict(known)), start=start, end=end,
            decisions=totals["decisions"], denied=totals["denied"], allowed=totals["allowed"],
            answered=totals["answered"], network_refusals=totals["network_refusals"],
            caller_ids=tuple(CallerIdFigures(**dict(r)) for r in caller_ids),
            by_reason=tuple(ReasonCount(r["code"], r["n"]) for r in by_reason),
            per_day=tuple(DayCount(r["day"], r["decisions"], r["denied"]) for r in per_day))

    @contextlib.asynccontextmanager
    async def open_inspection(self, principal: str, start: dt.datetime, end: dt.datetime
                              ) -> AsyncIterator[InspectionRun]:
        """The report with its calls and Bloctel checks to stream (see store/inspection.py)."""
        async with open_inspection(self._db, self._opt_in_from, principal, start,
                                   end) as run:
            yield run

    async def inspection(self, principal: str, start: dt.datetime,
                         end: dt.datetime) -> InspectionReport:
        """Everything an inspector asks for about one principal over a period, in memory."""
        async with self.open_inspection(principal, start, end) as run:
            return await run.collect()
