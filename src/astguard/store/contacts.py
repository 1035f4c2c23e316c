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


def history_of(row: asyncpg.Record) -> ContactHistory:
    """The history in a row shaped as astguard_contact_facts returns it (migration 0003)."""
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
    return history


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
    history = history_of(row)
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





async def caller_id_facts(conn: asyncpg.Connection, principal: str, caller_ids: Sequence[str]
                          ) -> tuple[tuple[CallerIdRecord, ...], frozenset[str]]:
    """The inventory entries and open network alerts of these caller IDs (as load_history)."""
    inventory = await conn.fetch(
        "SELECT number, principal, valid_from, valid_to, trunk, mandate_ref FROM caller_ids "
        "WHERE principal = $1 AND number = ANY($2)", principal, list(caller_ids))
    blocked = await conn.fetch(
        "SELECT caller_id FROM caller_id_alerts WHERE cleared_at IS NULL "
        "AND caller_id = ANY($1)", list(caller_ids))
    return (tuple(CallerIdRecord(number=i["number"], principal=i["principal"],
                                 valid_from=i["valid_from"], valid_to=i["valid_to"],
                                 trunk=i["trunk"], mandate_ref=i["mandate_ref"])
                  for i in inventory),
            frozenset(b["caller_id"] for b in blocked))


async def insert_consent(conn: asyncpg.Connection, *, principal: str, number: str,
                         scopes: Sequence[str], collected_at: dt.datetime, channel: str,
                         wording: str, proof_ref: str, valid_until: dt.datetime) -> bool:
    """True when new (the same consent again is not a second row)."""
    status = await conn.execute(
        """INSERT INTO consents (principal, number_e164, scopes, collected_at, channel,
                                wording, proof_ref, valid_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
        principal, number, list(scopes), collected_at, channel, wording, proof_ref,
        valid_until)
    return status.endswith(" 1")


async def upsert_contract(conn: asyncpg.Connection, *, principal: str, number: str,
                          scopes: Sequence[str], started_on: dt.date, ended_on: dt.date | None,
                          reference: str) -> None:
    await conn.execute(
        """INSERT INTO contracts (principal, number_e164, scopes, started_on, ended_on,
                                  reference)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (principal, number_e164, reference)
           DO UPDATE SET scopes = EXCLUDED.scopes, ended_on = EXCLUDED.ended_on""",
        principal, number, list(scopes), started_on, ended_on, reference)


async def insert_callback(conn: asyncpg.Connection, *, principal: str, number: str,
                          scheduled_at: dt.datetime, proof_ref: str) -> None:
    await conn.execute(
        """INSERT INTO callbacks (principal, number_e164, scheduled_at, proof_ref)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        principal, number, scheduled_at, proof_ref)


async def link_numbers(conn: asyncpg.Connection, numbers: Sequence[str]) -> str:
    """One consumer key for all `numbers` (E.164, sorted) and every number already linked to
    any of them: the smallest key among them, or the first number. Run in a transaction."""
    keys = await conn.fetch("SELECT DISTINCT consumer_key FROM consumer_numbers "
                            "WHERE number_e164 = ANY($1)", list(numbers))
    key = min([r["consumer_key"] for r in keys] + [numbers[0]])
    old = [r["consumer_key"] for r in keys]
    await conn.execute("UPDATE consumer_numbers SET consumer_key = $1 "
                       "WHERE consumer_key = ANY($2)", key, old)
    await conn.executemany(
        "INSERT INTO consumer_numbers (number_e164, consumer_key) VALUES ($1, $2) "
        "ON CONFLICT (number_e164) DO UPDATE SET consumer_key = EXCLUDED.consumer_key",
        [(n, key) for n in numbers])
    return key


async def history_rows(conn: asyncpg.Connection, numbers: Sequence[str], attempts_since: dt.date,
                       today: dt.date) -> tuple[list[asyncpg.Record], list[asyncpg.Record],
                                                list[asyncpg.Record]]:
    """A consumer's attempts from `attempts_since` (the cap's window, from the rules), its
    blocks still running today, and all its consents: what `astguard history` shows."""
    attempts = await conn.fetch(
        """SELECT a.principal, a.number_e164, a.attempted_at, a.local_day, a.source,
                  a.campaign, d.answered, d.dial_status, d.hangup_cause, d.duration_s
           FROM attempts a LEFT JOIN decisions d ON d.id = a.decision_id
           WHERE a.number_e164 = ANY($1) AND a.local_day >= $2
           ORDER BY a.attempted_at""", list(numbers), attempts_since)
    blocks = await conn.fetch(
        """SELECT principal, number_e164, kind, recorded_at, local_day, until_day,
                  source, agent FROM contact_blocks
           WHERE number_e164 = ANY($1) AND (until_day IS NULL OR until_day >= $2)
           ORDER BY recorded_at""", list(numbers), today)
    consents = await conn.fetch(
        """SELECT id, principal, number_e164, scopes, collected_at, valid_until,
                  withdrawn_at, channel, proof_ref FROM consents
           WHERE number_e164 = ANY($1) ORDER BY collected_at""", list(numbers))
    return attempts, blocks, consents
