"""Calls that reached a trunk without a decision: the watchdog's evidence (migration 0009).

Append-only, one row per trunk channel without a valid token, linked into the evidence chain.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg

from astguard.store.database import Database
from astguard.values import ACTION_LABELS, UnguardedCall  # ACTION_LABELS re-exported

_COLUMNS = (
    "id", "channel_id", "channel", "endpoint", "dialled", "number_e164", "caller",
    "originator", "linkedid", "token_decision_id", "problem", "mode", "action", "emergency",
    "created_at", "detected_at", "hung_up_at", "lifetime_ms", "node",
)


_TIMES = ("created_at", "detected_at", "hung_up_at")


def as_row(call: UnguardedCall) -> dict[str, Any]:
    """JSON-able, for the local spool while PostgreSQL is away."""
    return call.as_row()


def from_row(row: dict[str, Any]) -> UnguardedCall:
    values = dict(row)
    for name in _TIMES:
        if values.get(name) is not None:
            values[name] = dt.datetime.fromisoformat(values[name])
    return UnguardedCall(**values)


async def replay_unguarded(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    """The spool's writer for this kind: True when written, False when already there."""
    return await insert_unguarded(conn, from_row(row))


async def insert_unguarded(conn: asyncpg.Connection, call: UnguardedCall) -> bool:
    values = [getattr(call, c) for c in _COLUMNS]
    values[_COLUMNS.index("id")] = uuid.UUID(call.id)
    ms = call.lifetime_ms
    values[_COLUMNS.index("lifetime_ms")] = None if ms is None else Decimal(str(ms))
    status = await conn.execute(
        f"INSERT INTO unguarded_calls ({', '.join(_COLUMNS)}) VALUES "
        f"({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))}) "
        "ON CONFLICT (id) DO NOTHING", *values)
    return status.endswith(" 1")


class UnguardedStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, call: UnguardedCall) -> None:
        async with self._db.connection() as conn:
            await insert_unguarded(conn, call)

    async def between(self, start: dt.datetime | None, end: dt.datetime | None,
                      limit: int = 1000) -> list[UnguardedCall]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {', '.join(_COLUMNS)} FROM unguarded_calls "
                "WHERE ($1::timestamptz IS NULL OR created_at >= $1) "
                "AND ($2::timestamptz IS NULL OR created_at < $2) "
                "ORDER BY created_at LIMIT $3", start, end, limit)
        out = []
        for row in rows:
            values = dict(row)
            values.pop("lifetime_ms")
            values["id"] = str(values["id"])
            out.append(UnguardedCall(**values))
        return out

    async def count_since(self, since: dt.datetime) -> int:
        async with self._db.connection() as conn:
            return int(await conn.fetchval(
                "SELECT count(*) FROM unguarded_calls WHERE created_at >= $1 "
                "AND NOT emergency", since))

