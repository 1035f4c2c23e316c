"""Writing spooled records into PostgreSQL, each one exactly once and none silently dropped.

A replayer returns True when it wrote its record, False when the very same record is already
there (a batch replayed after a crash, or a write whose acknowledgement was lost), and raises
RecordRejected for anything else: the spool keeps that record aside and reports it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from astguard.errors import AstguardError
from astguard.store.evidence import COLUMNS, attach_outcome, insert_decision
from astguard.values import NOT_DIALLED

log = logging.getLogger(__name__)

Replayer = Callable[[asyncpg.Connection, dict[str, Any]], Awaitable[bool]]


class RecordRejected(AstguardError):
    """This record cannot be written as it is; the message says why, in French."""


# What a decision row from an older release may lack: columns that may be NULL, and lists
# that may be empty. Any other missing field is a fact we will not invent: the record is kept.
_DECISION_DEFAULTS: dict[str, Any] = {
    "channel_id": None, "endpoint": None, "agent": None, "number_e164": None,
    "principal": None, "campaign": None, "purpose": None, "dial_mode": None,
    "caller_id_requested": None, "caller_id": None,
    "territories": [], "local_times": [], "reasons": [],
}
_OUTCOME_DEFAULTS: dict[str, Any] = {
    "dial_status": None, "hangup_cause": None, "hangup_cause_text": None, "duration_s": None,
}
_OUTCOME_FIELDS = ("decision_id", "outcome_at", "answered", *_OUTCOME_DEFAULTS)


def completed(row: dict[str, Any], fields: tuple[str, ...], defaults: dict[str, Any],
              what: str) -> dict[str, Any]:
    """`row` with the defaults an older release did not write; RecordRejected if a field
    without a default is missing. Fields this release does not know are reported."""
    missing = [f for f in fields if f not in row and f not in defaults]
    if missing:
        raise RecordRejected(f"{what} sans {', '.join(missing)} (version antérieure ?)")
    filled = [f for f in fields if f not in row]
    unknown = sorted(set(row) - set(fields))
    if filled or unknown:
        log.warning("spool: %s %s from another release: defaults for %s, ignored %s", what,
                    row.get("id") or row.get("decision_id"), filled or "-", unknown or "-")
    return {**{f: defaults.get(f) for f in filled}, **{f: row[f] for f in fields if f in row}}


async def replay_decision(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    row = completed({**row, "spooled": True}, COLUMNS, _DECISION_DEFAULTS, "décision")
    if await insert_decision(conn, row):
        return True
    stored = await conn.fetchrow(
        "SELECT decision, reason_codes, dial_status FROM decisions WHERE id = $1", row["id"])
    if stored["decision"] == row["decision"] and \
            list(stored["reason_codes"]) == list(row["reason_codes"]):
        return False
    if stored["decision"] == "allow" and row["decision"] == "deny" and \
            stored["dial_status"] == NOT_DIALLED:
        return False  # replayed again: already reconciled
    if stored["decision"] == "allow" and row["decision"] == "deny" and \
            await attach_outcome(conn, not_dialled(row)):
        # The lost acknowledgement: the allow reached PostgreSQL while the gate, unable to read
        # it back, refused the call. The stored allow now says the call never left, and why
        # (its attempt stays counted, R-D6: the safe side). Nothing contradicts what happened.
        log.error("spool: decision %s stored as allow, the call was refused (%s): outcome "
                  "NOT_DIALLED written", row["id"], ",".join(row["reason_codes"]))
        return True
    # The same decision id with another verdict: a write that reached PostgreSQL while the
    # gate, not knowing it, refused the call (R-D6 counted an attempt that never left).
    raise RecordRejected(
        f"décision {row['id']} déjà enregistrée avec un autre verdict : "
        f"{stored['decision']} {','.join(stored['reason_codes']) or '-'} en base, "
        f"{row['decision']} {','.join(row['reason_codes']) or '-'} dans le journal local")


def not_dialled(refused: dict[str, Any]) -> dict[str, Any]:
    """The outcome of a stored allow whose call the gate refused (its deny is `refused`)."""
    return {
        "decision_id": refused["id"], "outcome_at": refused["decided_at"], "answered": False,
        "dial_status": NOT_DIALLED, "hangup_cause": None, "duration_s": None,
        "hangup_cause_text": "appel non composé : refusé par astguard, l'accusé d'écriture de "
                             "l'autorisation perdu et sa relecture impossible "
                             f"({', '.join(refused['reason_codes']) or 'sans motif'})",
    }


async def replay_outcome(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    row = completed(row, _OUTCOME_FIELDS, _OUTCOME_DEFAULTS, "résultat d'appel")
    if await attach_outcome(conn, row):
        return True
    stored = await conn.fetchrow(
        "SELECT outcome_at, answered, dial_status FROM decisions WHERE id = $1",
        row["decision_id"])
    if stored is None:
        raise RecordRejected(f"résultat d'appel sans décision {row['decision_id']}")
    if stored["outcome_at"] == dt.datetime.fromisoformat(row["outcome_at"]) \
            and stored["answered"] == row["answered"] \
            and stored["dial_status"] == row["dial_status"]:
        return False
    raise RecordRejected(f"la décision {row['decision_id']} a déjà un autre résultat d'appel")


BUILT_IN: dict[str, Replayer] = {"decision": replay_decision, "outcome": replay_outcome}
