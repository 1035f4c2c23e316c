"""The SQL of the all-or-nothing imports (app/imports.py): each kind's staging table and its
one set-based merge into the facts, inside the caller's transaction (nothing is kept unless
every line was good). Rows are parsed and checked by the use case; only SQL lives here."""

from __future__ import annotations

from typing import Any

import asyncpg

from astguard.store.bulk import copy_text

STAGING = "import_rows"

# kind → (staging table's columns, the merge into the facts)
_TABLES: dict[str, tuple[str, str]] = {
    "consents": (
        "principal text, number_e164 text, scopes text[], collected_at timestamptz, "
        "channel text, wording text, proof_ref text, valid_until timestamptz",
        """INSERT INTO consents (principal, number_e164, scopes, collected_at, channel, wording,
                                 proof_ref, valid_until)
           SELECT principal, number_e164, scopes, collected_at, channel, wording, proof_ref,
                  coalesce(valid_until, collected_at + make_interval(secs => $1))
           FROM import_rows
           -- In the natural key's order, each index page is visited once: 2.1x faster on a
           -- 2 M-row table with a file in random order (docs/benchmarks.md).
           ORDER BY principal, number_e164, collected_at, proof_ref
           ON CONFLICT DO NOTHING"""),
    "oppositions": (
        "principal text, number_e164 text, recorded_at timestamptz, local_day date, "
        "reference text",
        """INSERT INTO contact_blocks (principal, number_e164, kind, recorded_at, local_day,
                                       until_day, source, reference)
           SELECT principal, number_e164, 'opposition', recorded_at, local_day, NULL,
                  'import', reference FROM import_rows ON CONFLICT (reference) DO NOTHING"""),
    "attempts": (
        "principal text, number_e164 text, attempted_at timestamptz, local_day date, "
        "reference text",
        """INSERT INTO attempts (principal, number_e164, attempted_at, local_day, source,
                                 reference)
           SELECT principal, number_e164, attempted_at, local_day, 'external', reference
           FROM import_rows ON CONFLICT (reference) DO NOTHING"""),
    "caller-ids": (
        "number text, principal text, kind text, trunk text, operator text, mandate_ref text, "
        "valid_from date, valid_to date",
        """INSERT INTO caller_ids (number, principal, kind, trunk, operator, mandate_ref,
                                   valid_from, valid_to)
           SELECT number, principal, kind, trunk, operator, mandate_ref, valid_from, valid_to
           FROM import_rows ON CONFLICT (number, principal, valid_from) DO NOTHING"""),
}
KINDS = tuple(_TABLES)


async def open_staging(conn: asyncpg.Connection, kind: str) -> None:
    await conn.execute(f"CREATE TEMP TABLE {STAGING} ({_TABLES[kind][0]}) ON COMMIT DROP")


async def stage(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table(STAGING, records=rows)


async def stage_text(conn: asyncpg.Connection, text: str) -> None:
    """Staging rows already in COPY's text format (one a line, escaped by the caller)."""
    await copy_text(conn, STAGING, text)


async def merge(conn: asyncpg.Connection, kind: str, default_validity: float = 0.0) -> int:
    """Write the staged rows into the facts; how many were new. `default_validity`: for
    consents, the seconds a consent without valid_until lasts (an exact duration, never
    calendar days that a change of daylight saving time would stretch)."""
    await conn.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
    sql = _TABLES[kind][1]
    status = await (conn.execute(sql, default_validity) if "$1" in sql else conn.execute(sql))
    return int(status.split()[-1])


async def open_bloctel_staging(conn: asyncpg.Connection) -> tuple[str, str]:
    """The two staging tables of a Bloctel import: (submitted, returned)."""
    await conn.execute("CREATE TEMP TABLE bloctel_submitted (n text) ON COMMIT DROP")
    await conn.execute("CREATE TEMP TABLE bloctel_returned (n text) ON COMMIT DROP")
    return "bloctel_submitted", "bloctel_returned"


async def merge_bloctel(conn: asyncpg.Connection, principal: str,
                        scrubbed_on: Any) -> tuple[int, int]:
    """One set-based statement (R-C2): the distinct submitted numbers, a hash anti-join
    against the returned ones (a submitted number Bloctel did not return is listed), the
    insert in the primary key's order. (distinct submitted numbers, rows inserted)."""
    await conn.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
    row = await conn.fetchrow(
        """WITH submitted AS MATERIALIZED (SELECT DISTINCT n FROM bloctel_submitted),
                returned AS (SELECT DISTINCT n FROM bloctel_returned),
                inserted AS (
                  INSERT INTO bloctel_scrubs (principal, number_e164, scrubbed_on, listed)
                  SELECT $1, s.n, $2::date, r.n IS NULL
                  FROM submitted s LEFT JOIN returned r ON r.n = s.n
                  ORDER BY s.n  -- the primary key's order (docs/benchmarks.md)
                  ON CONFLICT (principal, number_e164, scrubbed_on) DO NOTHING
                  RETURNING 1)
           SELECT (SELECT count(*) FROM submitted) AS valid,
                  (SELECT count(*) FROM inserted) AS inserted""",
        principal, scrubbed_on)
    return row["valid"], row["inserted"]
