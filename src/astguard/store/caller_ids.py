"""The caller-ID inventory (R-F2) and the network's refusals of presented numbers (R-G1)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import asyncpg

from astguard.errors import InputError
from astguard.policy.caller_id import canonical, national_form
from astguard.store.database import Database
from astguard.store.directory import valid_identifier

log = logging.getLogger(__name__)

KINDS = ("geographic", "mobile", "09", "npv", "08", "short")
# Q.850 21 "call rejected": what chan_pjsip makes of a carrier's final 403 or 603.
NETWORK_REFUSED_CAUSE = 21


def kind_of(number: str, npv_roots: tuple[str, ...]) -> str:
    national = national_form(number)
    if national is None:
        raise InputError(f"numéro {number!r} illisible")
    if len(national) != 10:
        return "short"
    if national.startswith(npv_roots):
        return "npv"
    return {"06": "mobile", "07": "mobile", "09": "09", "08": "08"}.get(national[:2],
                                                                        "geographic")


class CallerIdStore:
    def __init__(self, db: Database, npv_roots: tuple[str, ...]) -> None:
        self._db = db
        self._npv = npv_roots

    async def add(self, number: str, principal: str, *, mandate_ref: str, valid_from: dt.date,
                  valid_to: dt.date | None = None, trunk: str | None = None,
                  operator: str | None = None, kind: str | None = None) -> dict[str, Any]:
        valid_identifier(principal, "donneur d'ordre")
        if not mandate_ref:
            raise InputError("référence du mandat ou de l'attribution obligatoire (R-F2)")
        if valid_to is not None and valid_to < valid_from:
            raise InputError("fin de validité avant le début")
        detected = kind_of(number, self._npv)
        if kind is not None and kind not in KINDS:
            raise InputError(f"type {kind!r} inconnu : {', '.join(KINDS)}")
        shown = canonical(number)
        async with self._db.connection() as conn:
            if not await conn.fetchval("SELECT 1 FROM principals WHERE id = $1", principal):
                raise InputError(f"donneur d'ordre inconnu : {principal!r}")
            inserted = await conn.execute(
                """INSERT INTO caller_ids (number, principal, kind, trunk, operator, mandate_ref,
                                           valid_from, valid_to)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (number, principal, valid_from) DO NOTHING""",
                shown, principal, kind or detected, trunk, operator, mandate_ref, valid_from,
                valid_to)
            if not inserted.endswith(" 1"):
                await _end_only(conn, shown, principal, valid_from, valid_to,
                                (kind or detected, trunk, operator, mandate_ref))
        return {"number": shown, "principal": principal, "kind": kind or detected}

    async def list(self, principal: str | None, *, refusals_since: dt.datetime
                   ) -> list[dict[str, Any]]:
        """The inventory, each number with the network's refusals since `refusals_since` (the
        start of R-G1's window, given by the caller from the rules) and its open alert."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                """SELECT i.*, (SELECT count(*) FROM network_refusals r
                                 WHERE r.caller_id = i.number
                                   AND r.refused_at > $2) AS recent_refusals,
                          EXISTS (SELECT 1 FROM caller_id_alerts a WHERE a.caller_id = i.number
                                  AND a.cleared_at IS NULL) AS blocked_by_network
                   FROM caller_ids i WHERE ($1::text IS NULL OR i.principal = $1)
                   ORDER BY i.principal, i.number, i.valid_from""", principal, refusals_since)
        return [dict(r) for r in rows]

    async def inventory_for(self, principal: str, numbers: list[str]) -> list[asyncpg.Record]:
        async with self._db.connection() as conn:
            return await conn.fetch(
                "SELECT * FROM caller_ids WHERE principal = $1 AND number = ANY($2)",
                principal, numbers)

    async def alerts(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM caller_id_alerts WHERE (NOT $1 OR cleared_at IS NULL) "
                "ORDER BY raised_at DESC", open_only)
        return [dict(r) for r in rows]

    async def clear(self, number: str, by: str) -> int:
        async with self._db.connection() as conn:
            status = await conn.execute(
                "UPDATE caller_id_alerts SET cleared_at = now(), cleared_by = $2 "
                "WHERE caller_id = $1 AND cleared_at IS NULL", canonical(number), by)
        return int(status.split()[-1])


async def _end_only(conn: asyncpg.Connection, number: str, principal: str,
                    valid_from: dt.date, valid_to: dt.date | None,
                    details: tuple[Any, ...]) -> None:
    """The same entry again (R-F2 inventory rows are append-only, migration 0008): nothing to
    do, or an end date set or brought forward; any other change is a new row."""
    row = await conn.fetchrow(
        "SELECT kind, trunk, operator, mandate_ref, valid_to FROM caller_ids "
        "WHERE number = $1 AND principal = $2 AND valid_from = $3", number, principal, valid_from)
    if tuple(row[k] for k in ("kind", "trunk", "operator", "mandate_ref")) != details:
        raise InputError(f"{number} est déjà inscrit pour {principal} depuis le {valid_from} avec "
                         "d'autres données : une correction s'inscrit comme une nouvelle ligne "
                         "(autre date de début --from) ; seule la date de fin peut être avancée")
    if valid_to == row["valid_to"]:
        return
    if valid_to is None or (row["valid_to"] is not None and valid_to > row["valid_to"]):
        raise InputError(f"{number} ({principal}) : la fin de validité ne peut qu'être avancée ; "
                         "un renouvellement s'inscrit comme une nouvelle ligne (--from)")
    await conn.execute("UPDATE caller_ids SET valid_to = $4 WHERE number = $1 AND principal = $2 "
                       "AND valid_from = $3", number, principal, valid_from, valid_to)


async def note_network_refusal(conn: asyncpg.Connection, decision_id: str, *, threshold: int,
                               window: dt.timedelta) -> bool:
    """Count a carrier's refusal of a prospecting call against its presented number; past the
    threshold within the window, raise CALL_BLOCKED_BY_NETWORK once. True when raised now."""
    row = await conn.fetchrow(
        """INSERT INTO network_refusals (decision_id, caller_id, refused_at, cause)
           SELECT id, caller_id, outcome_at, hangup_cause FROM decisions
           WHERE id = $1 AND caller_id IS NOT NULL AND purpose IN ('prospecting', 'survey')
           ON CONFLICT (decision_id) DO NOTHING
           RETURNING caller_id, refused_at""", decision_id)
    if row is None:
        return False
    count = await conn.fetchval(
        "SELECT count(*) FROM network_refusals WHERE caller_id = $1 AND refused_at > $2",
        row["caller_id"], row["refused_at"] - window)
    if count < threshold:
        return False
    status = await conn.execute(
        """INSERT INTO caller_id_alerts (caller_id, raised_at, refusals) VALUES ($1, $2, $3)
           ON CONFLICT (caller_id) WHERE cleared_at IS NULL DO NOTHING""",
        row["caller_id"], row["refused_at"], count)
    raised = status.endswith(" 1")
    if raised:
        log.warning("CALL_BLOCKED_BY_NETWORK: %s refused %d times by the network in %s; take "
                    "it out of service or check its declaration to the operator",
                    row["caller_id"], count, window)
    return raised
