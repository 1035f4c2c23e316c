"""What the FastAGI routes check a request against: the channel a decision was made on, and
whether an allowed call's recording was already announced."""

from __future__ import annotations

import uuid

from astguard.store.database import Database
from astguard.values import DecisionChannel


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def decision_channel(db: Database, decision_id: str) -> DecisionChannel | None:
    """The channel the decision was recorded on; None when no such decision is stored (it may
    still wait in the spool, or the id is not a decision id at all)."""
    if not _is_uuid(decision_id):
        return None
    async with db.connection() as conn:
        row = await conn.fetchrow("SELECT channel_id, decision FROM decisions WHERE id = $1",
                                  decision_id)
    if row is None:
        return None
    return DecisionChannel(row["channel_id"], row["decision"] == "allow")


async def recording_announced(db: Database, decision_id: str) -> bool:
    """Whether an outbound call's recording already began for this decision (once per call)."""
    async with db.connection() as conn:
        return bool(await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM inbound_calls WHERE decision_id = $1)", decision_id))


class DecisionBindings:
    """decision_channel and recording_announced on one pool (app.ports.DecisionLookups)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def decision_channel(self, decision_id: str) -> DecisionChannel | None:
        return await decision_channel(self._db, decision_id)

    async def recording_announced(self, decision_id: str) -> bool:
        return await recording_announced(self._db, decision_id)
