"""The decisions the reconciliation of trunk calls needs (`astguard audit calls`)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from astguard.store.database import Database


@dataclass(frozen=True, slots=True)
class DecisionMark:
    id: str
    decision: str
    number_e164: str | None
    at: dt.datetime  # when it was taken: decided_at on the system clock, else recorded_at


_SELECT = """SELECT id, decision, number_e164,
                    CASE WHEN clock_mode = 'system' THEN least(decided_at, recorded_at)
                         ELSE recorded_at END AS at
             FROM decisions"""


def _mark(row) -> DecisionMark:
    return DecisionMark(str(row["id"]), row["decision"], row["number_e164"], row["at"])


class TrunkAuditStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_ids(self, ids: list[str]) -> dict[str, DecisionMark]:
        valid = []
        for text in ids:
            try:
                valid.append(uuid.UUID(text))
            except ValueError:
                continue
        if not valid:
            return {}
        async with self._db.connection() as conn:
            rows = await conn.fetch(f"{_SELECT} WHERE id = ANY($1::uuid[])", valid)
        return {m.id: m for m in map(_mark, rows)}

    async def allowed_near(self, number_e164: str, start: dt.datetime,
                           before: dt.timedelta, after: dt.timedelta) -> DecisionMark | None:
        """The latest allow decision for this number taken in [start - before, start + after]."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT * FROM ({_SELECT} WHERE number_e164 = $1 AND decision = 'allow') d "
                "WHERE at >= $2 AND at <= $3 ORDER BY at DESC LIMIT 1",
                number_e164, start - before, start + after)
        return _mark(row) if row else None
