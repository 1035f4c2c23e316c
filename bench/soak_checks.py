"""The soak's invariants, each a count of violations (0 is the only pass).

They are read from what the carrier received (its SIPp message log), from what astguard
logged, and from PostgreSQL (the final primary), never from what the harness meant to do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from lab.sipp import trace_events

CAP = 4  # attempts per consumer and principal in 30 days (R-D6)


@dataclass
class Invariant:
    name: str  # French: it goes to the report
    checked: int
    violations: int
    examples: list[str] = field(default_factory=list)


def carrier_invites(log: Path) -> list[tuple[float, str, str]]:
    """(epoch, E.164, Call-ID) of every distinct INVITE the carrier received."""
    text = log.read_text(errors="replace") if log.exists() else ""
    seen: dict[str, tuple[float, str, str]] = {}
    for event in trace_events(text):
        match = re.match(r"INVITE sip:([^@;>]+)@", event.first_line)
        if event.sent or not match or event.call_id in seen:
            continue
        seen[event.call_id] = (event.at.timestamp(), match[1], event.call_id)
    return sorted(seen.values())


async def _rows(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _real(decided_at: dt.datetime, origin: dt.datetime, t0: float) -> float:
    """A decision's test-clock instant as the real epoch it was made at (same offset for every
    process; a process's clock starts a little after its spawn, so this errs early by the
    start-up time at most)."""
    return t0 + (decided_at - origin).total_seconds()


async def every_invite_was_allowed_before(url: str, invites: list[tuple[float, str, str]],
                                          origin: dt.datetime, t0: float,
                                          slack: float = 2.0) -> Invariant:
    """The n-th INVITE the carrier got for a number follows at least n allow decisions
    recorded for it."""
    rows = await _rows(url, "SELECT number_e164, decided_at FROM decisions "
                            "WHERE decision = 'allow' AND number_e164 IS NOT NULL")
    allows: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        allows[row["number_e164"]].append(_real(row["decided_at"], origin, t0))
    per_number: dict[str, int] = defaultdict(int)
    bad = []
    for at, number, call_id in invites:
        per_number[number] += 1
        before = sum(1 for t in allows.get(number, []) if t <= at + slack)
        if before < per_number[number]:
            bad.append(f"{number} ({call_id}) : {per_number[number]}e INVITE, "
                       f"{before} autorisation(s) avant")
    return Invariant("appel reçu par l'opérateur sans décision allow enregistrée avant",
                     len(invites), len(bad), bad[:5])


async def cap_holds(url: str, invites: list[tuple[float, str, str]]) -> Invariant:
    rows = await _rows(url, "SELECT principal, number_e164, count(*) AS n FROM attempts "
                            "WHERE source = 'pbx' GROUP BY 1, 2")
    bad = [f"{r['principal']} {r['number_e164']} : {r['n']} tentatives" for r in rows
           if r["n"] > CAP]
    carried: dict[str, int] = defaultdict(int)
    for _, number, _ in invites:
        carried[number] += 1
    bad += [f"{number} : {n} appels reçus par l'opérateur" for number, n in carried.items()
            if n > CAP]
    return Invariant(f"plus de {CAP} tentatives en 30 jours (un donneur d'ordre, un "
                     "consommateur, deux nœuds)", len(rows) + len(carried), len(bad), bad[:5])


async def decisions_are_stored(url: str, logged: list[dict[str, Any]]
                               ) -> tuple[Invariant, int]:
    """Every decision astguard logged as recorded (in PostgreSQL or its spool) is in
    PostgreSQL at the end. A refusal astguard could keep nowhere (PostgreSQL and the spool's
    disk both unusable: it says recorded=false and refuses) is counted apart; an allowed call
    without evidence is always a violation."""
    ids = {r["decision_id"] for r in logged}
    rows = await _rows(url, "SELECT id::text AS id FROM decisions WHERE id::text = ANY($1)",
                       list(ids))
    stored = {r["id"] for r in rows}
    bad, unrecorded = [], 0
    for record in logged:
        if record["decision_id"] in stored:
            continue
        if record.get("recorded") is False and record.get("decision") == "deny":
            unrecorded += 1
            continue
        bad.append(f"{record['decision_id']} ({record.get('decision')}, {record['ts']})")
    return (Invariant("décision prise mais absente de PostgreSQL (journal vidé ?)",
                      len(ids), len(bad), bad[:5]), unrecorded)


async def outcomes_are_recorded(url: str) -> Invariant:
    rows = await _rows(url, "SELECT id::text, node, source, decided_at, outcome_at "
                            "FROM decisions WHERE decision = 'allow'")
    bad = [f"{r['id']} ({r['node']}, {r['source']})" for r in rows if r["outcome_at"] is None]
    return Invariant("appel autorisé terminé sans son issue", len(rows), len(bad), bad[:5])


async def keyed_refusals_are_recorded(url: str, keyed_e164: list[str]) -> Invariant:
    """Every refusal an agent keyed during an answered call is a block on that number."""
    rows = await _rows(url, "SELECT DISTINCT number_e164 FROM contact_blocks "
                            "WHERE kind IN ('refusal', 'opposition') AND number_e164 = ANY($1)", keyed_e164)
    found = {r["number_e164"] for r in rows}
    bad = sorted(set(keyed_e164) - found)
    return Invariant("refus saisi pendant l'appel non enregistré", len(set(keyed_e164)),
                     len(bad), bad[:5])


def no_leak(samples: list[dict[str, Any]], node: str, *, rss_growth_kb: int = 30_000,
            task_growth: int = 10) -> Invariant:
    """RSS and asyncio tasks of one astguard process generation: the idle level after the
    calls stopped must come back near the level before they started."""
    # Only samples of a process that serves (its metrics answered): a process still importing
    # its modules right after a restart is not a baseline.
    mine = [s for s in samples if s["node"] == node and s.get("rss_kb")
            and s.get("tasks") is not None]
    if len(mine) < 3:
        return Invariant(f"fuite mémoire ou de tâches (nœud {node})", 0, 1,
                         ["pas assez d'échantillons"])
    last_gen = mine[-1]["generation"]
    mine = [s for s in mine if s["generation"] == last_gen]
    first, last = mine[0], mine[-1]
    bad = []
    if last["rss_kb"] - first["rss_kb"] > rss_growth_kb:
        bad.append(f"RSS {first['rss_kb']} -> {last['rss_kb']} kB")
    if first.get("tasks") is not None and last.get("tasks") is not None \
            and last["tasks"] - first["tasks"] > task_growth:
        bad.append(f"tâches asyncio {first['tasks']:.0f} -> {last['tasks']:.0f}")
    for key, what in (("followed", "canaux sortants encore suivis"),
                      ("inbound_followed", "canaux entrants encore suivis"),
                      ("unsaved", "issues d'appel gardées en mémoire, non écrites")):
        if (last.get(key) or 0) > 0:
            bad.append(f"{last[key]:.0f} {what} après la fin des appels")
    return Invariant(f"fuite mémoire ou de tâches (nœud {node})", len(mine), len(bad), bad)
