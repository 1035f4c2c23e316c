"""Inbound calls in PostgreSQL: recording policies, the call's append-only events, recordings
and their purge (R-I1 to R-I5)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astguard.errors import InputError
from astguard.store.database import Database

log = logging.getLogger(__name__)

MODES = ("off", "announce", "sampled")
CNIL_QUALITY_DAYS = 183  # six months for quality and training recordings (R-I4)


@dataclass(frozen=True, slots=True)
class InboundPolicy:
    did: str
    mode: str
    sample_percent: int
    prompt: str
    objection_key: str
    retention_days: int
    legal_basis: str | None

    @property
    def retention_class(self) -> str:
        return "qualité-formation" if self.legal_basis is None else "base-légale"


class InboundStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def policy_for(self, did: str) -> InboundPolicy | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow("SELECT * FROM inbound_policies WHERE did = $1", did)
        return InboundPolicy(**dict(row)) if row else None

    async def set_policy(self, did: str, mode: str, *, sample_percent: int = 100,
                         prompt: str = "annonce-enregistrement", objection_key: str = "1",
                         retention_days: int = CNIL_QUALITY_DAYS,
                         legal_basis: str | None = None) -> None:
        if mode not in MODES:
            raise InputError(f"mode {mode!r} : {', '.join(MODES)}")
        if retention_days > CNIL_QUALITY_DAYS and not legal_basis:
            raise InputError(f"conservation de {retention_days} jours : au-delà de "
                             f"{CNIL_QUALITY_DAYS} jours, indiquer la base légale (R-I4)")
        if not 0 <= sample_percent <= 100 or retention_days < 1:
            raise InputError("pourcentage de 0 à 100, conservation d'au moins un jour")
        if len(objection_key) != 1 or objection_key not in "0123456789*#":
            raise InputError("touche d'opposition : un chiffre, * ou #")
        async with self._db.connection() as conn:
            await conn.execute(
                """INSERT INTO inbound_policies (did, mode, sample_percent, prompt,
                                                 objection_key, retention_days, legal_basis)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (did) DO UPDATE SET mode = EXCLUDED.mode,
                       sample_percent = EXCLUDED.sample_percent, prompt = EXCLUDED.prompt,
                       objection_key = EXCLUDED.objection_key,
                       retention_days = EXCLUDED.retention_days,
                       legal_basis = EXCLUDED.legal_basis""",
                did, mode, sample_percent, prompt, objection_key, retention_days, legal_basis)

    async def start_call(self, call_id: str, *, channel_id: str, did: str, caller: str | None,
                         at: dt.datetime, mode: str, prompt: str | None,
                         prompt_sha256: str | None, retention_class: str | None,
                         clock_mode: str, direction: str = "inbound",
                         decision_id: str | None = None) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                """INSERT INTO inbound_calls (id, channel_id, did, caller, started_at, mode,
                                              prompt, prompt_sha256, retention_class,
                                              clock_mode, direction, decision_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
                call_id, channel_id, did, caller, at, mode, prompt, prompt_sha256,
                retention_class, clock_mode, direction, decision_id)

    async def outbound_policy(self, decision_id: str
                              ) -> tuple[InboundPolicy | None, str | None, str | None]:
        """The recording policy of the number an allowed call presents (keyed by it in E.164
        or national form), with the consumer's and the presented number."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                """SELECT d.number_e164, d.caller_id, p.did, p.mode, p.sample_percent, p.prompt,
                          p.objection_key, p.retention_days, p.legal_basis
                   FROM decisions d
                   LEFT JOIN LATERAL (
                       SELECT * FROM inbound_policies ip
                       WHERE ip.did = d.caller_id
                          OR (d.caller_id LIKE '+33%' AND ip.did = '0' || substr(d.caller_id, 4))
                       ORDER BY ip.did = d.caller_id DESC LIMIT 1) p ON true
                   WHERE d.id = $1 AND d.decision = 'allow'""", decision_id)
        if row is None:
            return None, None, None
        policy = None
        if row["did"] is not None:
            policy = InboundPolicy(**{k: row[k] for k in (
                "did", "mode", "sample_percent", "prompt", "objection_key", "retention_days",
                "legal_basis")})
        return policy, row["number_e164"], row["caller_id"]

    async def event(self, call_id: str, kind: str, at: dt.datetime,
                    detail: dict[str, Any] | None = None) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO inbound_events (call_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
                call_id, at, kind, json.dumps(detail or {}, ensure_ascii=False))

    async def recording_started(self, call_id: str, file: str, at: dt.datetime,
                                retention_days: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                """INSERT INTO recordings (call_id, file, started_at, purge_after)
                   VALUES ($1, $2, $3, $4)""",
                call_id, file, at, at + dt.timedelta(days=retention_days))
            await conn.execute(
                "INSERT INTO inbound_events (call_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
                call_id, at, "recording_started", json.dumps({"file": file}))

    async def recording_stopped(self, call_id: str, at: dt.datetime, reason: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE recordings SET stopped_at = $2 "
                               "WHERE call_id = $1 AND stopped_at IS NULL", call_id, at)
            await conn.execute(
                "INSERT INTO inbound_events (call_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
                call_id, at, "recording_stopped", json.dumps({"reason": reason}))

    async def mark_deleted(self, call_id: str, at: dt.datetime, reason: str) -> str | None:
        """Write the deletion's evidence first; return the file to delete (None: nothing)."""
        async with self._db.transaction() as conn:
            file = await conn.fetchval(
                "UPDATE recordings SET deleted_at = $2, delete_reason = $3 "
                "WHERE call_id = $1 AND deleted_at IS NULL RETURNING file", call_id, at, reason)
            if file is not None:
                await conn.execute(
                    "INSERT INTO inbound_events (call_id, at, kind, detail) "
                    "VALUES ($1, $2, 'recording_deleted', $3)",
                    call_id, at, json.dumps({"reason": reason, "file": file}))
        return file

    async def due_for_purge(self, now: dt.datetime) -> list[str]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT call_id FROM recordings WHERE deleted_at IS NULL AND purge_after <= $1 "
                "ORDER BY purge_after", now)
        return [str(r["call_id"]) for r in rows]

    async def call_evidence(self, call_id: str) -> dict[str, Any]:
        async with self._db.connection() as conn:
            call = await conn.fetchrow("SELECT * FROM inbound_calls WHERE id = $1", call_id)
            events = await conn.fetch(
                "SELECT at, kind, detail FROM inbound_events WHERE call_id = $1 ORDER BY at, id",
                call_id)
            rec = await conn.fetchrow("SELECT * FROM recordings WHERE call_id = $1", call_id)
        return {"call": dict(call) if call else None,
                "events": [{"at": e["at"], "kind": e["kind"], "detail": json.loads(e["detail"])}
                           for e in events],
                "recording": dict(rec) if rec else None}


def delete_file(path: Path) -> str:
    """Delete a recording file; say what happened (the evidence is already written)."""
    try:
        path.unlink()
        return "deleted"
    except FileNotFoundError:
        return "already absent"
    except OSError as exc:
        log.error("recording %s could not be deleted: %s", path, exc)
        return f"error: {exc.strerror}"


async def purge_expired(store: InboundStore, now: dt.datetime) -> list[dict[str, str]]:
    """Delete recordings past their retention (R-I4): the deletion's evidence is written first,
    so a recording whose evidence cannot be written is never deleted; a second run finds
    nothing to do."""
    done = []
    for call_id in await store.due_for_purge(now):
        file = await store.mark_deleted(call_id, now, "durée de conservation échue")
        if file is None:
            continue  # another purge took it
        result = delete_file(Path(file))
        await store.event(call_id, "file_removal", now, {"result": result})
        log.info("purge: %s %s (%s)", call_id, file, result)
        done.append({"call_id": call_id, "file": file, "result": result})
    return done
