"""The inspection report of one principal over a period: everything an inspector asks for.

Read in one repeatable-read, read-only transaction, so that the totals and the rows describe
the same instant. The totals come from one aggregate query; the two sections that grow with the
traffic (the calls, the Bloctel checks) are read through a server-side cursor in batches, so a
month of a million decisions streams in constant memory (issue 15 item 6). `Reports.inspection`
collects everything (the JSON API); the CSV and HTML renderers stream from `InspectionRun`.
"""

from __future__ import annotations

import asyncio
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
COPY_TIMEOUT_S = 900  # one section of a CSV report, however slow its reader

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


# The same two sections as display cells, formatted by PostgreSQL (a million rows leave the
# server ready to write): the surfaces pass their French labels ($4, a JSON object) and whether
# to neutralise spreadsheet formulas ($5, CSV only). Columns: see report_render.py.
_FORMULA = ("CASE WHEN $5 AND left({0}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') "
            "THEN '''' || {0} ELSE {0} END")


def _display(cells: str, source: str, where: str, order: str, columns: int,
             free_text: tuple[int, ...]) -> str:
    """The cells computed in a LATERAL subquery (flattened by the planner), so that the rows
    come in an index's order instead of being sorted once every cell is written. Only the
    `free_text` cells (numbers, names, texts) can start like a formula; the others (ids,
    instants, labels) are never neutralised."""
    shown = ", ".join(_FORMULA.format(f"x.c{i}") if i in free_text else f"x.c{i}"
                      for i in range(1, columns + 1))
    return (f"SELECT {shown} FROM {source}, LATERAL ({cells}) x "
            f"WHERE {where} ORDER BY {order}")


_ATTEMPT_CELLS = _display("""
    SELECT d.id::text AS c1,
           -- Casts and string operations: to_char() costs several times more per row.
           replace((d.decided_at AT TIME ZONE 'UTC')::text, ' ', 'T') || '+00:00' AS c2,
           date_trunc('second', d.decided_at AT TIME ZONE 'Europe/Paris')::text AS c3,
           CASE WHEN jsonb_array_length(d.local_times) = 1  -- the usual case, no SRF
                THEN replace(left(d.local_times->0->>'local', 16), 'T', ' ')
                     || ' (' || (d.local_times->0->>'zone') || ')'
                ELSE coalesce((SELECT string_agg(to_char((lt->>'local')::timestamp,
                                                         'YYYY-MM-DD HH24:MI')
                                                 || ' (' || (lt->>'zone') || ')', ' ; ')
                               FROM jsonb_array_elements(d.local_times) lt), '') END AS c4,
           coalesce(d.number_e164, d.dialled) AS c5, coalesce(d.campaign, '') AS c6,
           coalesce(d.agent, d.endpoint, '') AS c7, coalesce(d.caller_id, '') AS c8,
           coalesce(d.caller_id_requested, '') AS c9,
           coalesce($4::jsonb -> 'decision' ->> d.decision, d.decision) AS c10,
           CASE jsonb_array_length(d.reasons)  -- none or one reason: no SRF
                WHEN 0 THEN ''
                WHEN 1 THEN CASE WHEN d.reasons->0->>'effect' = 'deny'
                                 THEN d.reasons->0->>'code' ELSE '' END
                ELSE array_to_string(ARRAY(SELECT r->>'code' FROM jsonb_array_elements(d.reasons) r
                                           WHERE r->>'effect' = 'deny'), ' ') END AS c11,
           CASE jsonb_array_length(d.reasons)
                WHEN 0 THEN ''
                WHEN 1 THEN CASE WHEN d.reasons->0->>'effect' IN ('deny', 'warn')
                                 THEN d.reasons->0->>'text' ELSE '' END
                ELSE coalesce((SELECT string_agg(r->>'text', ' | ')
                               FROM jsonb_array_elements(d.reasons) r
                               WHERE r->>'effect' = 'deny'),
                              (SELECT string_agg(r->>'text', ' | ')
                               FROM jsonb_array_elements(d.reasons) r
                               WHERE r->>'effect' = 'warn'), '') END AS c12,
           CASE WHEN d.decision <> 'allow' THEN $4::jsonb -> 'outcome' ->> 'not_placed'
                WHEN d.outcome_at IS NULL THEN $4::jsonb -> 'outcome' ->> 'unknown'
                WHEN d.answered THEN ($4::jsonb -> 'outcome' ->> 'answered') || ', '
                     || round(coalesce(d.duration_s, 0))::text || ' s'
                ELSE ($4::jsonb -> 'outcome' ->> 'unanswered') || ' ('
                     || coalesce($4::jsonb -> 'dial_status' ->> d.dial_status, d.dial_status, '-')
                     || ', cause ' || coalesce(d.hangup_cause::text, '-') || ')' END AS c13""",
    "decisions d", "d.principal = $1 AND d.decided_at >= $2 AND d.decided_at < $3",
    "d.decided_at, d.id", 13, free_text=(5, 6, 7, 8, 9, 11, 12))

_SCRUB_CELLS = _display("""
    SELECT s.decision_id AS c1,
           replace((s.decided_at AT TIME ZONE 'UTC')::text, ' ', 'T') || '+00:00' AS c2,
           s.number_e164 AS c3,
           coalesce($4::jsonb -> 'decision' ->> s.decision, s.decision) AS c4,
           coalesce(s.scrubbed_on::text, $4::jsonb -> 'bloctel' ->> 'none') AS c5,
           CASE WHEN s.listed IS NULL THEN ''
                WHEN s.listed THEN $4::jsonb -> 'bloctel' ->> 'listed'
                ELSE $4::jsonb -> 'bloctel' ->> 'not_listed' END AS c6""",
    f"({_SCRUBS.replace('$4', '$6')}) s", "true", "s.decided_at, s.decision_id::uuid", 6,
    free_text=(3,))


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

    async def attempt_cells(self, labels: dict[str, Any], *,
                            neutralise: bool) -> AsyncIterator[list[asyncpg.Record]]:
        """The calls as display cells (13 texts a row), in batches."""
        async for rows in self._batches(_ATTEMPT_CELLS, (*self._args(), labels, neutralise)):
            yield rows

    async def scrub_cells(self, labels: dict[str, Any], *,
                          neutralise: bool) -> AsyncIterator[list[asyncpg.Record]]:
        """The Bloctel checks as display cells (6 texts a row), in batches."""
        async for rows in self._batches(_SCRUB_CELLS, (*self._args(), labels, neutralise,
                                                       self.report.opt_in_from)):
            yield rows

    async def _copy(self, query: str, args: tuple[Any, ...]) -> AsyncIterator[bytes]:
        """COPY (query) TO STDOUT as CSV (`;`, UTF-8): PostgreSQL writes the lines, Python
        only passes them on; a small queue keeps the server at the reader's pace."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(8)

        async def sink(data: bytes) -> None:
            await queue.put(bytes(data))

        async def produce() -> None:
            try:
                await self._conn.copy_from_query(query, *args, output=sink, format="csv",
                                                 delimiter=";", timeout=COPY_TIMEOUT_S)
            finally:
                await queue.put(None)

        # One statement for the whole section, paced by the reader: the pool's statement
        # timeout (meant for one query) gives way to a bound of its own.
        await self._conn.execute(f"SET LOCAL statement_timeout = {COPY_TIMEOUT_S * 1000}")
        task = asyncio.create_task(produce())
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
            await task  # its error, if any
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def attempt_csv(self, labels: str) -> AsyncIterator[bytes]:
        """The calls as CSV lines, cells neutralised against formulas."""
        return self._copy(_ATTEMPT_CELLS, (*self._args(), labels, True))

    def scrub_csv(self, labels: str) -> AsyncIterator[bytes]:
        return self._copy(_SCRUB_CELLS, (*self._args(), labels, True,
                                         self.report.opt_in_from))

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
        # JIT compiling the display query's expressions cost seconds before the first row
        # (measured: 10.7 s of 15.5 s for 100,000 calls on a loaded 2-core machine).
        await conn.execute("SET LOCAL jit = off")
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
