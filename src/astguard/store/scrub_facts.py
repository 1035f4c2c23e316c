"""The facts of many numbers at once, for list scrubbing (app/scrub.py): what
astguard_contact_facts (migration 0007) reads for one number, read for a batch of thousands in
one statement, without the lock (scrubbing reads, it never counts).

One statement per batch: each fact table is probed once with `= ANY(array)` (an index scan
per table, never a correlated subquery per number), and its rows come back as plain columns
(no JSON to build on the server and decode here). The conditions that depend on a number's own
local day (the cap's window, running blocks, the latest Bloctel scrub) are applied here per
number, on rows fetched with the batch's widest bounds; `facts_of` then gives each number's
facts (and `history` its ContactHistory) exactly as astguard_contact_facts would:
tests/test_scrub.py compares both on every kind of fact, linked numbers included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from astguard.policy.model import (
    Block,
    BloctelScrub,
    ConsentRecord,
    ContactHistory,
    ContractRecord,
)

# $1 principal, $2 the batch's E.164 numbers, $3 the earliest first day of the cap's window,
# $4 the earliest local day, $5 the latest local day, $6/$7 the call-back tolerance's bounds.
# Columns: kind, n, d1, d2, t1, t2, t3, flag, scopes, who, id, txt (unused ones NULL).
# The arrays reach each scan through `wanted` (an InitPlan), never as a literal: with the
# literal, the planner estimates thousands of matches and scans the whole table (a parallel
# sequential scan of bloctel_scrubs, 65 of 86 ms for 5,000 numbers in a 1 M-row store); with
# the InitPlan each table is probed through its index.
_FACTS = """
WITH links AS MATERIALIZED (
  SELECT c.number_e164 AS n, o.number_e164 AS linked
  FROM consumer_numbers c JOIN consumer_numbers o ON o.consumer_key = c.consumer_key
  WHERE c.number_e164 = ANY($2::text[])),
wanted AS MATERIALIZED (
  SELECT ARRAY(SELECT linked FROM links) || $2::text[] AS numbers, $2::text[] AS dialled)
SELECT 'l'::text AS kind, n, NULL::date AS d1, NULL::date AS d2, NULL::timestamptz AS t1,
       NULL::timestamptz AS t2, NULL::timestamptz AS t3, NULL::boolean AS flag,
       NULL::text[] AS scopes, NULL::text AS who, NULL::bigint AS id, linked AS txt
  FROM links
UNION ALL
SELECT 'a', a.number_e164, a.local_day, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM attempts a
  WHERE a.principal = $1 AND a.number_e164 = ANY((SELECT numbers FROM wanted)::text[])
    AND a.local_day >= $3
UNION ALL
SELECT 'b', b.number_e164, b.local_day, b.until_day, b.recorded_at, NULL, NULL, NULL, NULL,
       NULL, b.id, b.kind
  FROM contact_blocks b
  WHERE b.principal = $1 AND b.number_e164 = ANY((SELECT numbers FROM wanted)::text[])
    AND (b.until_day IS NULL OR b.until_day >= $4 OR b.kind = 'refusal')
UNION ALL
SELECT 'c', k.number_e164, NULL, NULL, k.collected_at, k.valid_until, k.withdrawn_at, NULL,
       k.scopes, k.principal, k.id, k.proof_ref
  FROM consents k
  WHERE k.number_e164 = ANY((SELECT numbers FROM wanted)::text[])
UNION ALL
SELECT 'k', t.number_e164, t.started_on, t.ended_on, NULL, NULL, NULL, NULL, t.scopes,
       t.principal, t.id, t.reference
  FROM contracts t
  WHERE t.principal = $1 AND t.number_e164 = ANY((SELECT numbers FROM wanted)::text[])
UNION ALL
SELECT 's', s.number_e164, s.scrubbed_on, NULL, NULL, NULL, NULL, s.listed, NULL, NULL, NULL,
       NULL
  FROM bloctel_scrubs s
  WHERE s.principal = $1 AND s.number_e164 = ANY((SELECT dialled FROM wanted)::text[])
    AND s.scrubbed_on <= $5
UNION ALL
SELECT 'r', cb.number_e164, NULL, NULL, cb.scheduled_at, NULL, NULL, NULL, NULL, NULL, cb.id,
       NULL
  FROM callbacks cb
  WHERE cb.principal = $1 AND cb.number_e164 = ANY((SELECT numbers FROM wanted)::text[])
    AND cb.scheduled_at BETWEEN $6 AND $7"""

EMPTY_KEY: tuple[object, ...] = ((), (), (), (), None, None)  # facts_of's key of nothing


# A number's facts as decide() reads them, without the records' identifiers and proofs: equal
# keys get equal answers (app/scrub.py memoises on it).
FactsKey = tuple[object, ...]
# A number's rows, kept to build its ContactHistory when its key is new (`history`).
FactsRows = tuple[list[dt.date], list[asyncpg.Record], list[asyncpg.Record],
                  list[asyncpg.Record], "asyncpg.Record | None", "dt.datetime | None"]


class BatchFacts:
    """The rows of one batch, grouped by number; `facts_of` assembles a number's history."""

    def __init__(self, rows: Sequence[asyncpg.Record], now: dt.datetime) -> None:
        self._now = now
        self._links: dict[str, list[str]] = {}
        self._rows: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            if row[0] == "l":
                self._links.setdefault(row[1], []).append(row[11])
            else:
                self._rows.setdefault(row[1], []).append(row)

    def facts_of(self, e164: str, today: dt.date, since: dt.date
                 ) -> tuple[FactsKey, FactsRows] | None:
        """The facts of the consumer of `e164` on its local day `today`, the cap's window
        starting on `since`, as astguard_contact_facts reads them; None when the store knows
        nothing of it (an empty history)."""
        linked = self._links.get(e164)
        if linked is None:
            rows = self._rows.get(e164)
            if rows is None:
                return None
        else:
            rows = [r for n in sorted(set(linked)) for r in self._rows.get(n, ())]
        attempts: list[dt.date] = []
        blocks: list[asyncpg.Record] = []
        consents: list[asyncpg.Record] = []
        contracts: list[asyncpg.Record] = []
        bloctel: asyncpg.Record | None = None
        callback: dt.datetime | None = None
        for row in rows:
            kind = row[0]
            if kind == "c":
                consents.append(row)
            elif kind == "s":
                # The dialled number's own latest scrub on or before its day (not a linked one's).
                if row[1] == e164 and row[2] <= today and (bloctel is None or row[2] > bloctel[2]):
                    bloctel = row
            elif kind == "a":
                if row[2] >= since:
                    attempts.append(row[2])
            elif kind == "b":
                if row[3] is None or row[3] >= today or row[11] == "refusal":
                    blocks.append(row)
            elif kind == "k":
                contracts.append(row)
            elif kind == "r" and (callback is None or
                                  abs(row[4] - self._now) < abs(callback - self._now)):
                callback = row[4]
        if not (attempts or blocks or consents or contracts) and bloctel is None \
                and callback is None:
            return None
        attempts.sort()
        consents.sort(key=_by_id)
        blocks.sort(key=_by_id)
        contracts.sort(key=_by_id)
        key = (tuple(attempts),
               tuple([(r[11], r[2], r[3], r[4]) for r in blocks]),
               tuple([(r[9], tuple(r[8]), r[4], r[5], r[6]) for r in consents]),
               tuple([(r[9], tuple(r[8]), r[2], r[3]) for r in contracts]),
               (bloctel[2], bloctel[7]) if bloctel is not None else None,
               callback)
        return key, (attempts, blocks, consents, contracts, bloctel, callback)


def history(rows: FactsRows) -> ContactHistory:
    """The ContactHistory of a number's rows (facts_of), as load_history builds it."""
    attempts, blocks, consents, contracts, bloctel, callback = rows
    return ContactHistory(
        attempt_days=tuple(attempts),
        blocks=tuple(Block(r[11], r[2], r[3], r[4]) for r in blocks),
        consents=tuple(ConsentRecord(id=r[10], principal=r[9], scopes=frozenset(r[8]),
                                     collected_at=r[4], valid_until=r[5],
                                     withdrawn_at=r[6], proof_ref=r[11])
                       for r in consents),
        contracts=tuple(ContractRecord(principal=r[9], scopes=frozenset(r[8]),
                                       started_on=r[2], ended_on=r[3], reference=r[11])
                        for r in contracts),
        bloctel=BloctelScrub(bloctel[2], bloctel[7]) if bloctel is not None else None,
        callback_at=callback)


def _by_id(row: asyncpg.Record) -> int:
    return row[10]


async def batch_facts(conn: asyncpg.Connection, principal: str, numbers: Sequence[str],
                      since: dt.date, first_day: dt.date, last_day: dt.date,
                      callback_from: dt.datetime, callback_to: dt.datetime,
                      now: dt.datetime) -> BatchFacts:
    """The facts of `numbers` (E.164, distinct) in one statement: `since` is the earliest first
    day of the cap's window among them, `first_day` and `last_day` their earliest and latest
    local days. Run it in the transaction open_snapshot prepared."""
    rows = await conn.fetch(_FACTS, principal, list(numbers), since, first_day, last_day,
                            callback_from, callback_to)
    return BatchFacts(rows, now)


async def open_snapshot(conn: asyncpg.Connection) -> None:
    """In the caller's (repeatable read, read-only) transaction: one snapshot for the whole
    list, and no JIT (compiling the statement's expressions costs more than running it)."""
    await conn.execute("SET LOCAL jit = off")
