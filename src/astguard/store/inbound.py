"""Inbound calls in PostgreSQL: recording policies, the call's append-only events, recordings
and their purge (R-I1 to R-I5). What the rules decide (policy/recording.py) arrives decided:
a policy already checked, a recording's purge date already computed."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import asyncpg

from astguard.policy.recording import RecordingPolicy
from astguard.store.database import Database
from astguard.store.replay import RecordRejected

log = logging.getLogger(__name__)

class InboundStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def policy_for(self, did: str) -> RecordingPolicy | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow("SELECT * FROM inbound_policies WHERE did = $1", did)
        return RecordingPolicy(**dict(row)) if row else None

    async def set_policy(self, policy: RecordingPolicy) -> None:
        """Write a policy checked by the caller (app/recording.py, policy.recording's rules);
        the table's constraints hold the same limits (migration 0004)."""
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
                policy.did, policy.mode, policy.sample_percent, policy.prompt,
                policy.objection_key, policy.retention_days, policy.legal_basis)

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
                              ) -> tuple[RecordingPolicy | None, str | None, str | None]:
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
            policy = RecordingPolicy(**{k: row[k] for k in (
                "did", "mode", "sample_percent", "prompt", "objection_key", "retention_days",
                "legal_basis")})
        return policy, row["number_e164"], row["caller_id"]

    async def event(self, call_id: str, kind: str, at: dt.datetime,
                    detail: dict[str, Any] | None = None) -> None:
        async with self._db.connection() as conn:
            await _insert_event(conn, call_id, at, kind, detail)

    async def recording_started(self, call_id: str, file: str, at: dt.datetime,
                                due: dt.datetime) -> None:
        """The recording's row, written before MixMonitor starts: a recording the evidence
        does not know of never exists (R-I5), and the purge always finds its file."""
        async with self._db.transaction() as conn:
            await conn.execute(
                """INSERT INTO recordings (call_id, file, started_at, purge_after)
                   VALUES ($1, $2, $3, $4)""",
                call_id, file, at, due)
            await _insert_event(conn, call_id, at, "recording_started", {"file": file})

    async def recording_stopped(self, call_id: str, at: dt.datetime, reason: str) -> None:
        async with self._db.transaction() as conn:
            await _recording_stopped(conn, call_id, at, reason)

    async def recording_deleted(self, call_id: str, at: dt.datetime, reason: str,
                                result: str) -> bool:
        """The evidence of a removal already attempted on disk (`result`, from
        recording_files.remove_recording). Only a file that is gone marks the recording deleted;
        otherwise it is due again at once and the next purge retries. True if marked."""
        async with self._db.transaction() as conn:
            return await _recording_deleted(conn, call_id, at, reason, result)

    async def due_for_purge(self, now: dt.datetime) -> list[tuple[str, str]]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT call_id, file FROM recordings WHERE deleted_at IS NULL "
                "AND purge_after <= $1 ORDER BY purge_after", now)
        return [(str(r["call_id"]), r["file"]) for r in rows]

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


FILE_GONE = ("deleted", "already absent")  # remove_recording's results that mean no file


async def _insert_event(conn: asyncpg.Connection, call_id: str, at: dt.datetime, kind: str,
                        detail: dict[str, Any] | None) -> None:
    await conn.execute(
        "INSERT INTO inbound_events (call_id, at, kind, detail) VALUES ($1, $2, $3, $4)",
        call_id, at, kind, json.dumps(detail or {}, ensure_ascii=False))


async def _recording_stopped(conn: asyncpg.Connection, call_id: str, at: dt.datetime,
                             reason: str) -> None:
    await conn.execute("UPDATE recordings SET stopped_at = $2 "
                       "WHERE call_id = $1 AND stopped_at IS NULL", call_id, at)
    await _insert_event(conn, call_id, at, "recording_stopped", {"reason": reason})


async def _recording_deleted(conn: asyncpg.Connection, call_id: str, at: dt.datetime,
                             reason: str, result: str) -> bool:
    if result in FILE_GONE:
        file = await conn.fetchval(
            "UPDATE recordings SET deleted_at = $2, delete_reason = $3 "
            "WHERE call_id = $1 AND deleted_at IS NULL RETURNING file", call_id, at, reason)
        if file is not None:
            await _insert_event(conn, call_id, at, "recording_deleted",
                                {"reason": reason, "file": file})
    else:  # still on disk: due again now, so that the purge retries (R-I2, R-I4)
        await conn.execute("UPDATE recordings SET purge_after = LEAST(purge_after, $2) "
                           "WHERE call_id = $1 AND deleted_at IS NULL", call_id, at)
        file = None
    await _insert_event(conn, call_id, at, "file_removal", {"result": result,
                                                            "reason": reason})
    return file is not None


SPOOL_KIND = "inbound"  # the spool's kind for recording evidence written late


def spool_row(op: str, call_id: str, at: dt.datetime, **fields: Any) -> dict[str, Any]:
    """A recording-evidence write that waits in the spool while PostgreSQL is away."""
    return {"op": op, "call_id": call_id, "at": at.isoformat(), **fields}


async def replay_inbound(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    """The spool's replayer for recording evidence written late (kind "inbound"): True when
    written, False when this very record is already there (a batch replayed after a crash)."""
    call_id, at, op = row["call_id"], dt.datetime.fromisoformat(row["at"]), row["op"]
    if op == "event":
        kind, detail = row["kind"], row.get("detail") or {}
    elif op == "recording_stopped":
        kind, detail = "recording_stopped", {"reason": row["reason"]}
    elif op == "recording_deleted":
        kind, detail = "file_removal", {"result": row["result"], "reason": row["reason"]}
    else:
        raise RecordRejected(f"enregistrement d'appel entrant inconnu : {op!r}")
    if await conn.fetchval(
            "SELECT 1 FROM inbound_events WHERE call_id = $1 AND kind = $2 AND at = $3 "
            "AND detail = $4::jsonb", call_id, kind, at, json.dumps(detail, ensure_ascii=False)):
        return False
    if not await conn.fetchval("SELECT 1 FROM inbound_calls WHERE id = $1", call_id):
        raise RecordRejected(f"appel entrant {call_id} inconnu")
    if op == "event":
        await _insert_event(conn, call_id, at, kind, detail)
    elif op == "recording_stopped":
        await _recording_stopped(conn, call_id, at, row["reason"])
    else:
        await _recording_deleted(conn, call_id, at, row["reason"], row["result"])
    return True
