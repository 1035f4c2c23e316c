"""A consumer's contact history in PostgreSQL: attempts, refusals, suspensions, oppositions,
consents, contracts, call-backs, Bloctel scrubs — and the lock that makes "check the cap and
count the attempt" one atomic step across every astguard process and PBX node (R-D6).
The history itself is read by the SQL function astguard_contact_facts (migration 0003)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from astguard.policy.caller_id import CallerIdRecord
from astguard.policy.model import (
    BloctelScrub,
    Block,
    ConsentRecord,
    ContactHistory,
    ContractRecord,
)

def _ts(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


async def consumer_numbers(conn: asyncpg.Connection, e164: str) -> tuple[str, list[str]]:
    """The consumer's key and every number linked to it (just this number when unlinked)."""
    row = await conn.fetchrow(
        """SELECT c.consumer_key, array_agg(o.number_e164) AS numbers
           FROM consumer_numbers c JOIN consumer_numbers o ON o.consumer_key = c.consumer_key
           WHERE c.number_e164 = $1 GROUP BY c.consumer_key""", e164)
    if row is None:
        return e164, [e164]
    return row["consumer_key"], sorted(set(row["numbers"]) | {e164})


async def lock_consumer(conn: asyncpg.Connection, principal: str, e164: str) -> list[str]:
    """Take the (principal, consumer) lock for this transaction; return the consumer's numbers.

    The history must be read by a *later* statement: in READ COMMITTED each statement takes
    its snapshot when it starts, so one that waited for the lock would not see the attempt the
    previous holder just committed.
    """
    key, numbers = await consumer_numbers(conn, e164)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                       f"{principal}\x1f{key}")
    return numbers


@dataclass(frozen=True, slots=True)
class StoreFacts:
    numbers: list[str]  # the consumer's linked numbers
    history: ContactHistory
    inventory: tuple[CallerIdRecord, ...]  # entries for the caller IDs this call may present
    blocked: frozenset[str]  # of those, the ones with an open CALL_BLOCKED_BY_NETWORK alert


async def load_history(conn: asyncpg.Connection, principal: str, dialled: str,
                       today: dt.date, now: dt.datetime, callback_tolerance: dt.timedelta,
                       window_days: int,
                       caller_ids: Sequence[str] = ()) -> StoreFacts:
    """Lock (principal, consumer) for the transaction and read its history and the caller-ID
    facts: one round trip (migration 0003). Outside a transaction the lock is released
    when the statement ends."""
    row = await conn.fetchrow(
        "SELECT * FROM astguard_contact_facts($1, $2, $3, $4, $5, $6, $7, $8)",
        principal, dialled, today - dt.timedelta(days=window_days), today,
        now - callback_tolerance, now + callback_tolerance, now, list(caller_ids))
    blocks = json.loads(row["blocks"])
    consents = json.loads(row["consents"])
    contracts = json.loads(row["contracts"])
    bloctel = json.loads(row["bloctel"]) if row["bloctel"] else None
    history = ContactHistory(
        attempt_days=tuple(dt.date.fromisoformat(d) for d in json.loads(row["attempts"])),
        blocks=tuple(Block(b["kind"], _day(b["day"]), _day(b["until"]), _ts(b["at"]))
                     for b in blocks),
        consents=tuple(ConsentRecord(
            id=c["id"], principal=c["principal"], scopes=frozenset(c["scopes"]),
            collected_at=_ts(c["collected_at"]), valid_until=_ts(c["valid_until"]),
            withdrawn_at=_ts(c["withdrawn_at"]), proof_ref=c["proof_ref"]) for c in consents),
        contracts=tuple(ContractRecord(
            principal=c["principal"], scopes=frozenset(c["scopes"]),
            started_on=_day(c["started_on"]), ended_on=_day(c["ended_on"]),
            reference=c["reference"]) for c in contracts),
        bloctel=BloctelScrub(_day(bloctel["day"]), bloctel["listed"]) if bloctel else None,
        callback_at=row["callback"],
    )
    inventory = tuple(CallerIdRecord(
        number=i["number"], principal=i["principal"], valid_from=_day(i["valid_from"]),
        valid_to=_day(i["valid_to"]), trunk=i["trunk"], mandate_ref=i["mandate_ref"])
        for i in json.loads(row["inventory"]))
    return StoreFacts(list(row["numbers"]), history, inventory, frozenset(row["blocked"]))


async def insert_attempt(conn: asyncpg.Connection, *, principal: str, number: str,
                         at: dt.datetime, local_day: dt.date, source: str,
                         decision_id: str | None = None, campaign: str | None = None,
                         reference: str | None = None) -> bool:
    status = await conn.execute(
        """INSERT INTO attempts (principal, number_e164, attempted_at, local_day, source,
                                 decision_id, campaign, reference)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (reference) DO NOTHING""",
        principal, number, at, local_day, source, decision_id, campaign, reference)
    return status.endswith(" 1")


async def insert_block(conn: asyncpg.Connection, *, principal: str, number: str, kind: str,
                       at: dt.datetime, local_day: dt.date, until: dt.date | None, source: str,
                       agent: str | None = None, decision_id: str | None = None,
                       reference: str | None = None) -> bool:
    status = await conn.execute(
        """INSERT INTO contact_blocks (principal, number_e164, kind, recorded_at, local_day,
                                       until_day, source, agent, decision_id, reference)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (reference) DO NOTHING""",
        principal, number, kind, at, local_day, until, source, agent, decision_id, reference)
    return status.endswith(" 1")


async def withdraw_consents(conn: asyncpg.Connection, principal: str, numbers: Sequence[str],
                            at: dt.datetime) -> int:
    status = await conn.execute(
        """UPDATE consents SET withdrawn_at = $3
           WHERE principal = $1 AND number_e164 = ANY($2) AND withdrawn_at IS NULL
             AND collected_at <= $3""", principal, list(numbers), at)
    return int(status.split()[-1])


async def allowed_decision(conn: asyncpg.Connection, decision_id: str) -> asyncpg.Record | None:
    """The allowed call an agent's in-call code is about."""
    return await conn.fetchrow(
        "SELECT principal, number_e164, agent, endpoint FROM decisions WHERE id = $1 "
        "AND decision = 'allow' AND number_e164 IS NOT NULL AND principal IS NOT NULL",
        decision_id)


async def last_allowed_call(conn: asyncpg.Connection, endpoint: str,
                            before: dt.datetime | None) -> asyncpg.Record | None:
    """The last call this endpoint was allowed to place (before `before`, when given), whatever
    its purpose: an agent's code after a service call is about that call's consumer, never an
    older one's (the caller checks that it has a consumer and a principal)."""
    return await conn.fetchrow(
        "SELECT id, principal, number_e164, agent, endpoint FROM decisions "
        "WHERE endpoint = $1 AND decision = 'allow' "
        "AND ($2::timestamptz IS NULL OR decided_at <= $2) "
        "ORDER BY decided_at DESC, recorded_at DESC LIMIT 1", endpoint, before)
