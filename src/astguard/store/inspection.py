"""The inspection report of one principal over a period: everything an inspector asks for.

Read in one repeatable-read, read-only transaction, so that the totals and the rows describe
the same instant. The totals come from one aggregate query; the two sections that grow with the
traffic (the calls, the Bloctel checks) are read through a server-side cursor in batches, so a
month of a million decisions streams in constant memory (issue 15 item 6). `Reports.inspection`
collects everything (the JSON API); the CSV and HTML renderers stream from `InspectionRun`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from astguard.errors import InputError
from astguard.policy.reasons import rule_of, text_of
from astguard.store.database import Database

BATCH = 2000  # rows per cursor fetch: a few MB at most, whatever the period

_DENY_CODES = ("ARRAY(SELECT r->>'code' FROM jsonb_array_elements(d.reasons) r "
               "WHERE r->>'effect' = 'deny')")
DECISION_COLUMNS = f"""
    d.id::text AS id, d.decided_at, d.source, d.endpoint, coalesce(d.agent, d.endpoint) AS agent,
    d.dialled, d.number_e164, d.local_times, d.principal, d.campaign, d.purpose, d.dial_mode,
    d.caller_id_requested, d.caller_id, d.decision, {_DENY_CODES} AS deny_codes,
    d.reason_codes, d.answered, d.dial_status, d.hangup_cause, d.hangup_cause_text,
    d.duration_s, d.outcome_at, d.emergency
"""


def decision_row(r: Any) -> dict[str, Any]:
    """A decision as the API shows it (JSON types: ISO instants, lists, floats)."""
    out = dict(r)
    if isinstance(out.get("local_times"), str):
        out["local_times"] = json.loads(out["local_times"])
    if out.get("duration_s") is not None:
        out["duration_s"] = float(out["duration_s"])
    for key in ("decided_at", "outcome_at"):
        if isinstance(out.get(key), dt.datetime):
            out[key] = out[key].isoformat()
    out["deny_codes"] = list(out.get("deny_codes") or [])
    out["reason_codes"] = list(out.get("reason_codes") or [])
    return out


def _iso_values(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in dict(row).items()}


@dataclass(frozen=True, slots=True)
class ReasonCount:
    code: str
    count: int

    @property
    def rule(self) -> str:
        return rule_of(self.code)

    @property
    def text(self) -> str:
        return text_of(self.code)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "rule": self.rule, "text": self.text, "count": self.count}


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "count": self.count}


def rule_totals(codes: Iterable[ReasonCount]) -> tuple[RuleCount, ...]:
    by_rule: dict[str, int] = {}
    for c in codes:
        by_rule[c.rule] = by_rule.get(c.rule, 0) + c.count
    return tuple(RuleCount(k, v) for k, v in sorted(by_rule.items()))


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}


@dataclass(frozen=True, slots=True)
class InspectionSummary:
    decisions: int
    allowed: int
    denied: int
    attempts_counted: int
    external_attempts: int
    unguarded_calls: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class InspectionReport:
    """The report; `attempts` and `bloctel_scrubs` are empty when the rows are streamed."""
    principal_id: str
    principal_name: str
    start: dt.datetime
    end: dt.datetime
    opt_in_from: dt.date
    chain_head: ChainHead | None
    summary: InspectionSummary
    totals_by_code: tuple[ReasonCount, ...]
    external_attempts: tuple[dict[str, Any], ...]
    blocks: tuple[dict[str, Any], ...]
    consents: tuple[dict[str, Any], ...]
    unguarded_calls: tuple[dict[str, Any], ...]
    attempts: tuple[dict[str, Any], ...] = ()
    bloctel_scrubs: tuple[dict[str, Any], ...] = ()
    call_reconciliation: dict[str, Any] | None = None  # astguard audit calls, when it ran

    @property
    def totals_by_rule(self) -> tuple[RuleCount, ...]:
        return rule_totals(self.totals_by_code)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "principal": {"id": self.principal_id, "name": self.principal_name},
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "generated_chain_head": self.chain_head.as_dict() if self.chain_head else None,
            "summary": self.summary.as_dict(),
            "unguarded_calls": list(self.unguarded_calls),
            "totals_by_code": [t.as_dict() for t in self.totals_by_code],
            "totals_by_rule": [t.as_dict() for t in self.totals_by_rule],
            "attempts": list(self.attempts),
            "external_attempts": list(self.external_attempts),
            "blocks": list(self.blocks),
            "consents": list(self.consents),
            "bloctel_scrubs": list(self.bloctel_scrubs),
            "opt_in_from": self.opt_in_from.isoformat(),
        }
        if self.call_reconciliation is not None:
            out["call_reconciliation"] = self.call_reconciliation
        return out


_ATTEMPTS = f"""
    SELECT {DECISION_COLUMNS}, d.counts_as_attempt, d.reasons, d.rulebook_version
    FROM decisions d WHERE d.principal = $1 AND d.decided_at >= $2 AND d.decided_at < $3
    ORDER BY d.decided_at, d.id"""

_SCRUBS = """
    SELECT d.id::text AS decision_id, d.decided_at, d.number_e164, d.decision,
           s.scrubbed_on, s.listed
    FROM decisions d
    LEFT JOIN LATERAL (
        SELECT scrubbed_on, listed FROM bloctel_scrubs b
        WHERE b.principal = d.principal AND b.number_e164 = d.number_e164
          AND b.scrubbed_on <= (d.decided_at AT TIME ZONE 'Europe/Paris')::date
        ORDER BY scrubbed_on DESC LIMIT 1) s ON true
    WHERE d.principal = $1 AND d.decided_at >= $2 AND d.decided_at < $3
      AND d.number_e164 IS NOT NULL AND d.purpose = 'prospecting'
      AND (d.decided_at AT TIME ZONE 'Europe/Paris')::date < $4
    ORDER BY d.decided_at, d.id"""


def attempt_row(r: Any) -> dict[str, Any]:
    out = decision_row(r)
    reasons = out.pop("reasons")
    out["reasons"] = json.loads(reasons) if isinstance(reasons, str) else reasons
    return out


class InspectionRun:
    """One report being read: the header (totals, small sections) and the streamed rows, all
    from the same snapshot. Valid inside `Reports.open_inspection` only."""

    def __init__(self, conn: asyncpg.Connection, report: InspectionReport) -> None:
        self._conn = conn
        self.report = report

    def _args(self) -> tuple[Any, ...]:
        r = self.report
        return r.principal_id, r.start, r.end

    async def _batches(self, query: str, args: tuple[Any, ...]) -> AsyncIterator[list[Any]]:
        cursor = await self._conn.cursor(query, *args)
        while rows := await cursor.fetch(BATCH):
            yield rows

    async def attempt_batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        async for rows in self._batches(_ATTEMPTS, self._args()):
            yield [attempt_row(r) for r in rows]

    async def scrub_batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        async for rows in self._batches(_SCRUBS, (*self._args(), self.report.opt_in_from)):
            yield [_iso_values(r) for r in rows]

    async def collect(self) -> InspectionReport:
        attempts = [a async for batch in self.attempt_batches() for a in batch]
        scrubs = [s async for batch in self.scrub_batches() for s in batch]
        return dataclasses.replace(self.report, attempts=tuple(attempts),
                                   bloctel_scrubs=tuple(scrubs))


@contextlib.asynccontextmanager
async def open_inspection(db: Database, opt_in_from: dt.date, principal: str,
                          start: dt.datetime, end: dt.datetime) -> AsyncIterator[InspectionRun]:
    async with db.connection() as conn, conn.transaction(isolation="repeatable_read",
                                                         readonly=True):
        report = await _header(conn, opt_in_from, principal, start, end)
        yield InspectionRun(conn, report)


async def _header(conn: asyncpg.Connection, opt_in_from: dt.date, principal: str,
                  start: dt.datetime, end: dt.datetime) -> InspectionReport:
    name = await conn.fetchval("SELECT name FROM principals WHERE id = $1", principal)
    if name is None:
        raise InputError(f"donneur d'ordre inconnu : {principal}")
    totals = await conn.fetchrow(
        """SELECT count(*) AS decisions,
                  count(*) FILTER (WHERE decision = 'allow') AS allowed,
                  count(*) FILTER (WHERE decision = 'deny') AS denied,
                  count(*) FILTER (WHERE counts_as_attempt) AS attempts_counted
           FROM decisions WHERE principal = $1 AND decided_at >= $2 AND decided_at < $3""",
        principal, start, end)
    by_code = await conn.fetch(
        """SELECT r->>'code' AS code, count(*) AS n
           FROM decisions d, jsonb_array_elements(d.reasons) r
           WHERE d.principal = $1 AND d.decided_at >= $2 AND d.decided_at < $3
             AND r->>'effect' = 'deny'
           GROUP BY 1""", principal, start, end)
    external = await conn.fetch(
        """SELECT attempted_at, number_e164, reference, campaign FROM attempts
           WHERE principal = $1 AND source = 'external'
             AND attempted_at >= $2 AND attempted_at < $3 ORDER BY attempted_at""",
        principal, start, end)
    blocks = await conn.fetch(
        """SELECT b.id, b.kind, b.number_e164, b.recorded_at, b.local_day, b.until_day,
                  b.source, b.agent,
                  (SELECT count(*) FROM decisions d
                     WHERE d.principal = b.principal AND d.number_e164 = b.number_e164
                       AND d.decided_at > b.recorded_at AND d.decided_at < $3
                       AND d.decision = 'deny'
                       AND d.reason_codes && ARRAY['REFUSAL_COOLDOWN', 'CONSUMER_OPPOSED'])
                      AS calls_refused_after,
                  (SELECT count(*) FROM decisions d
                     WHERE d.principal = b.principal AND d.number_e164 = b.number_e164
                       AND d.decided_at > b.recorded_at AND d.decided_at < $3
                       AND d.decision = 'allow' AND d.counts_as_attempt
                       AND (b.until_day IS NULL OR d.decided_at <
                            (b.until_day + 1)::timestamp AT TIME ZONE 'Europe/Paris'))
                      AS calls_allowed_during
           FROM contact_blocks b
           WHERE b.principal = $1 AND b.recorded_at < $3
             AND (b.until_day IS NULL OR b.until_day >= ($2 AT TIME ZONE 'Europe/Paris')::date)
           ORDER BY b.recorded_at""", principal, start, end)
    consents = await conn.fetch(
        """SELECT c.id, c.number_e164, c.scopes, c.collected_at, c.channel, c.wording,
                  c.proof_ref, c.valid_until, c.withdrawn_at
           FROM consents c WHERE c.principal = $1
             AND (c.collected_at >= $2 AND c.collected_at < $3
                  OR EXISTS (SELECT 1 FROM decisions d WHERE d.principal = $1
                             AND d.number_e164 = c.number_e164
                             AND d.decided_at >= $2 AND d.decided_at < $3))
           ORDER BY c.collected_at, c.id""", principal, start, end)
    # Platform-wide, whoever they were for: calls that reached a trunk without a decision
    # (the watchdog's evidence). The count must be 0.
    unguarded = await conn.fetch(
        """SELECT id::text AS id, created_at, channel, endpoint, dialled, originator,
                  problem, action, emergency, lifetime_ms
           FROM unguarded_calls WHERE created_at >= $1 AND created_at < $2
           ORDER BY created_at""", start, end)
    head = await conn.fetchrow("SELECT seq, hash FROM evidence_chain ORDER BY seq DESC LIMIT 1")
    codes = sorted((ReasonCount(r["code"], r["n"]) for r in by_code),
                   key=lambda e: (-e.count, e.code))
    return InspectionReport(
        principal_id=principal, principal_name=name, start=start, end=end,
        opt_in_from=opt_in_from,
        chain_head=ChainHead(head["seq"], head["hash"]) if head else None,
        summary=InspectionSummary(
            decisions=totals["decisions"], allowed=totals["allowed"], denied=totals["denied"],
            attempts_counted=totals["attempts_counted"], external_attempts=len(external),
            unguarded_calls=sum(1 for u in unguarded if not u["emergency"])),
        totals_by_code=tuple(codes),
        external_attempts=tuple({"at": r["attempted_at"].isoformat(),
                                 "number": r["number_e164"], "reference": r["reference"],
                                 "campaign": r["campaign"]} for r in external),
        blocks=tuple({**_iso_values(b), "honoured": b["calls_allowed_during"] == 0}
                     for b in blocks),
        consents=tuple({**_iso_values(c), "scopes": list(c["scopes"])} for c in consents),
        unguarded_calls=tuple({**dict(u), "created_at": u["created_at"].isoformat(),
                               "lifetime_ms": None if u["lifetime_ms"] is None
                               else float(u["lifetime_ms"])} for u in unguarded),
    )
