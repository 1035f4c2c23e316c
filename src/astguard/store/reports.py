"""Read models over the evidence for supervisors and inspections: decisions by period,
campaign, agent and reason; refusal statistics; a campaign's figures; the inspection report.

Everything here only reads. Periods are half-open [start, end).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from astguard.errors import InputError
from astguard.policy.reasons import rule_of, text_of
from astguard.store.database import Database
from astguard.instants import local_time_text
from astguard.values import MAX_ROWS, DecisionFilter

__all__ = ["MAX_ROWS", "DecisionFilter", "Reports", "local_time_text"]

_DENY_CODES = ("ARRAY(SELECT r->>'code' FROM jsonb_array_elements(d.reasons) r "
               "WHERE r->>'effect' = 'deny')")
_DECISION_COLUMNS = f"""
    d.id::text AS id, d.decided_at, d.source, d.endpoint, coalesce(d.agent, d.endpoint) AS agent,
    d.dialled, d.number_e164, d.local_times, d.principal, d.campaign, d.purpose, d.dial_mode,
    d.caller_id_requested, d.caller_id, d.decision, {_DENY_CODES} AS deny_codes,
    d.reason_codes, d.answered, d.dial_status, d.hangup_cause, d.hangup_cause_text,
    d.duration_s, d.outcome_at, d.emergency
"""


def _row(r: Any) -> dict[str, Any]:
    out = dict(r)
    if isinstance(out.get("local_times"), str):
        out["local_times"] = json.loads(out["local_times"])
    if out.get("duration_s") is not None:
        out["duration_s"] = float(out["duration_s"])
    for key in ("decided_at", "outcome_at"):
        if isinstance(out.get(key), dt.datetime):
            out[key] = out[key].isoformat()
    out["deny_codes"] = list(out.get("deny_codes") or [])
    out["reason_codes"] = list(out.get("reason_codes") or [])
    return out


class Reports:
    def __init__(self, db: Database, opt_in_from: dt.date) -> None:
        self._db = db
        self._opt_in_from = opt_in_from

    async def decisions(self, f: DecisionFilter) -> dict[str, Any]:
        where = """d.decided_at >= $1 AND d.decided_at < $2
            AND ($3::text IS NULL OR d.campaign = $3)
            AND ($4::text IS NULL OR d.agent = $4 OR d.endpoint = $4)
            AND ($5::text IS NULL OR $5 = ANY(d.reason_codes))
            AND ($6::text IS NULL OR d.decision = $6)
            AND ($7::text IS NULL OR d.principal = $7)
            AND ($8::text IS NULL OR d.number_e164 = $8)"""
        args = (f.start, f.end, f.campaign, f.agent, f.reason, f.decision, f.principal, f.number)
        async with self._db.connection() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM decisions d WHERE {where}", *args)
            rows = await conn.fetch(
                f"SELECT {_DECISION_COLUMNS} FROM decisions d WHERE {where} "
                "ORDER BY d.decided_at DESC, d.id LIMIT $9 OFFSET $10", *args, f.limit, f.offset)
        return {"total": total, "limit": f.limit, "offset": f.offset,
                "decisions": [_row(r) for r in rows]}

    async def since(self, seq: int, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """Decisions chained after link `seq` (the live stream's cursor), oldest first."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"""SELECT c.seq, {_DECISION_COLUMNS} FROM evidence_chain c
                    JOIN decisions d ON d.id = c.ref::uuid
                    WHERE c.seq > $1 AND c.kind = 'decision' ORDER BY c.seq LIMIT $2""",
                seq, limit)
            if not rows:
                head = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM evidence_chain")
                return max(seq, head), []
        return rows[-1]["seq"], [_row(r) for r in rows]

    async def head_seq(self) -> int:
        async with self._db.connection() as conn:
            return await conn.fetchval("SELECT coalesce(max(seq), 0) FROM evidence_chain")

    async def unguarded_count(self, start: dt.datetime, end: dt.datetime) -> int:
        """Calls that reached a trunk without a decision (emergency calls aside)."""
        async with self._db.connection() as conn:
            return int(await conn.fetchval(
                "SELECT count(*) FROM unguarded_calls WHERE created_at >= $1 "
                "AND created_at < $2 AND NOT emergency", start, end))

    async def refusal_stats(self, start: dt.datetime, end: dt.datetime,
                            principal: str | None = None) -> dict[str, Any]:
        async with self._db.connection() as conn:
            totals = await conn.fetchrow(
                """SELECT count(*) AS decisions,
                          count(*) FILTER (WHERE decision = 'deny') AS denied,
                          count(*) FILTER (WHERE decision = 'allow') AS allowed
                   FROM decisions WHERE decided_at >= $1 AND decided_at < $2
                     AND ($3::text IS NULL OR principal = $3)""", start, end, principal)
            by_reason = await conn.fetch(
                """SELECT r->>'code' AS key, count(*) AS n
                   FROM decisions d, jsonb_array_elements(d.reasons) r
                   WHERE d.decided_at >= $1 AND d.decided_at < $2 AND r->>'effect' = 'deny'
                     AND ($3::text IS NULL OR d.principal = $3)
                   GROUP BY 1 ORDER BY 2 DESC, 1""", start, end, principal)
            by_campaign = await conn.fetch(
                """SELECT coalesce(campaign, '(aucune)') AS key, count(*) AS n
                   FROM decisions WHERE decided_at >= $1 AND decided_at < $2
                     AND decision = 'deny' AND ($3::text IS NULL OR principal = $3)
                   GROUP BY 1 ORDER BY 2 DESC, 1""", start, end, principal)
            by_agent = await conn.fetch(
                """SELECT coalesce(agent, endpoint, '(inconnu)') AS key, count(*) AS n
                   FROM decisions WHERE decided_at >= $1 AND decided_at < $2
                     AND decision = 'deny' AND ($3::text IS NULL OR principal = $3)
                   GROUP BY 1 ORDER BY 2 DESC, 1""", start, end, principal)
        return {
            "start": start.isoformat(), "end": end.isoformat(), **dict(totals),
            "by_reason": [{"code": r["key"], "rule": rule_of(r["key"]),
                           "text": text_of(r["key"]), "count": r["n"]} for r in by_reason],
            "by_campaign": [{"campaign": r["key"], "count": r["n"]} for r in by_campaign],
            "by_agent": [{"agent": r["key"], "count": r["n"]} for r in by_agent],
        }

    async def campaign(self, name: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        async with self._db.connection() as conn:
            known = await conn.fetchrow(
                "SELECT name, principal_id, purpose, dial_mode, caller_id, active "
                "FROM campaigns WHERE name = $1", name)
            if known is None:
                raise InputError(f"campagne inconnue : {name}")
            totals = await conn.fetchrow(
                """SELECT count(*) AS decisions,
                          count(*) FILTER (WHERE decision = 'deny') AS denied,
                          count(*) FILTER (WHERE decision = 'allow') AS allowed,
                          count(*) FILTER (WHERE answered) AS answered,
                          count(*) FILTER (WHERE hangup_cause = 21 AND NOT coalesce(answered,
                                                                                 false))
                              AS network_refusals
                   FROM decisions WHERE campaign = $1 AND decided_at >= $2 AND decided_at < $3""",
                name, start, end)
            caller_ids = await conn.fetch(
                """SELECT caller_id, count(*) AS calls,
                          count(*) FILTER (WHERE hangup_cause = 21
                                           AND NOT coalesce(answered, false)) AS network_refusals,
                          EXISTS (SELECT 1 FROM caller_id_alerts a WHERE a.caller_id = d.caller_id
                                  AND a.cleared_at IS NULL) AS alert
                   FROM decisions d
                   WHERE campaign = $1 AND decided_at >= $2 AND decided_at < $3
                     AND decision = 'allow' AND caller_id IS NOT NULL
                   GROUP BY caller_id ORDER BY 2 DESC""", name, start, end)
            by_reason = await conn.fetch(
                """SELECT r->>'code' AS code, count(*) AS n
                   FROM decisions d, jsonb_array_elements(d.reasons) r
                   WHERE d.campaign = $1 AND d.decided_at >= $2 AND d.decided_at < $3
                     AND r->>'effect' = 'deny' GROUP BY 1 ORDER BY 2 DESC, 1""", name, start, end)
            per_day = await conn.fetch(
                """SELECT (decided_at AT TIME ZONE 'Europe/Paris')::date AS day,
                          count(*) AS decisions, count(*) FILTER (WHERE decision = 'deny') AS denied
                   FROM decisions WHERE campaign = $1 AND decided_at >= $2 AND decided_at < $3
                   GROUP BY 1 ORDER BY 1""", name, start, end)
        t = dict(totals)
        return {
            "campaign": {k: known[k] for k in known.keys()},
            "start": start.isoformat(), "end": end.isoformat(), **t,
            "refusal_rate": round(t["denied"] / t["decisions"], 4) if t["decisions"] else None,
            "caller_ids": [dict(r) for r in caller_ids],
            "by_reason": [{"code": r["code"], "rule": rule_of(r["code"]),
                           "text": text_of(r["code"]), "count": r["n"]} for r in by_reason],
            "per_day": [{"day": r["day"].isoformat(), "decisions": r["decisions"],
                         "denied": r["denied"]} for r in per_day],
        }

    async def inspection(self, principal: str, start: dt.datetime,
                         end: dt.datetime) -> dict[str, Any]:
        """Everything an inspector asks for about one principal over a period."""
        async with self._db.connection() as conn:
            name = await conn.fetchval("SELECT name FROM principals WHERE id = $1", principal)
            if name is None:
                raise InputError(f"donneur d'ordre inconnu : {principal}")
            calls = await conn.fetch(
                f"""SELECT {_DECISION_COLUMNS}, d.counts_as_attempt, d.reasons,
                           d.rulebook_version
                    FROM decisions d WHERE d.principal = $1 AND d.decided_at >= $2
                      AND d.decided_at < $3 ORDER BY d.decided_at, d.id""",
                principal, start, end)
            external = await conn.fetch(
                """SELECT attempted_at, number_e164, reference, campaign FROM attempts
                   WHERE principal = $1 AND source = 'external'
                     AND attempted_at >= $2 AND attempted_at < $3 ORDER BY attempted_at""",
                principal, start, end)
            blocks = await conn.fetch(
                """SELECT b.id, b.kind, b.number_e164, b.recorded_at, b.local_day, b.until_day,
                          b.source, b.agent,
                          (SELECT count(*) FROM decisions d
                             WHERE d.principal = b.principal AND d.number_e164 = b.number_e164
                               AND d.decided_at > b.recorded_at AND d.decided_at < $3
                               AND d.decision = 'deny'
                               AND d.reason_codes && ARRAY['REFUSAL_COOLDOWN',
                                                           'CONSUMER_OPPOSED'])
                              AS calls_refused_after,
                          (SELECT count(*) FROM decisions d
                             WHERE d.principal = b.principal AND d.number_e164 = b.number_e164
                               AND d.decided_at > b.recorded_at AND d.decided_at < $3
                               AND d.decision = 'allow' AND d.counts_as_attempt
                               AND (b.until_day IS NULL OR d.decided_at <
                                    (b.until_day + 1)::timestamp AT TIME ZONE 'Europe/Paris'))
                              AS calls_allowed_during
                   FROM contact_blocks b
                   WHERE b.principal = $1 AND b.recorded_at < $3
                     AND (b.until_day IS NULL
                          OR b.until_day >= ($2 AT TIME ZONE 'Europe/Paris')::date)
                   ORDER BY b.recorded_at""", principal, start, end)
            consents = await conn.fetch(
                """SELECT c.id, c.number_e164, c.scopes, c.collected_at, c.channel, c.wording,
                          c.proof_ref, c.valid_until, c.withdrawn_at
                   FROM consents c WHERE c.principal = $1
                     AND (c.collected_at >= $2 AND c.collected_at < $3
                          OR EXISTS (SELECT 1 FROM decisions d WHERE d.principal = $1
                                     AND d.number_e164 = c.number_e164
                                     AND d.decided_at >= $2 AND d.decided_at < $3))
                   ORDER BY c.collected_at, c.id""", principal, start, end)
            scrubs = await conn.fetch(
                """SELECT d.id::text AS decision_id, d.decided_at, d.number_e164, d.decision,
                          s.scrubbed_on, s.listed
                   FROM decisions d
                   LEFT JOIN LATERAL (
                       SELECT scrubbed_on, listed FROM bloctel_scrubs b
                       WHERE b.principal = d.principal AND b.number_e164 = d.number_e164
                         AND b.scrubbed_on <= (d.decided_at AT TIME ZONE 'Europe/Paris')::date
                       ORDER BY scrubbed_on DESC LIMIT 1) s ON true
                   WHERE d.principal = $1 AND d.decided_at >= $2 AND d.decided_at < $3
                     AND d.number_e164 IS NOT NULL AND d.purpose = 'prospecting'
                     AND (d.decided_at AT TIME ZONE 'Europe/Paris')::date < $4
                   ORDER BY d.decided_at, d.id""", principal, start, end, self._opt_in_from)
            # Platform-wide, whoever they were for: calls that reached a trunk without a
            # decision (the watchdog's UNGUARDED_CALL rows). The count must be 0.
            unguarded = await conn.fetch(
                """SELECT id::text AS id, created_at, channel, endpoint, dialled, originator,
                          problem, action, emergency, lifetime_ms
                   FROM unguarded_calls WHERE created_at >= $1 AND created_at < $2
                   ORDER BY created_at""", start, end)
            head = await conn.fetchrow(
                "SELECT seq, hash FROM evidence_chain ORDER BY seq DESC LIMIT 1")
        attempts = [_row(r) for r in calls]
        for a in attempts:
            reasons = a.pop("reasons")
            a["reasons"] = json.loads(reasons) if isinstance(reasons, str) else reasons
        totals: dict[str, dict[str, Any]] = {}
        for a in attempts:
            for code in a["deny_codes"]:
                entry = totals.setdefault(code, {"code": code, "rule": rule_of(code),
                                                 "text": text_of(code), "count": 0})
                entry["count"] += 1
        by_rule: dict[str, int] = {}
        for entry in totals.values():
            by_rule[entry["rule"]] = by_rule.get(entry["rule"], 0) + entry["count"]
        return {
            "principal": {"id": principal, "name": name},
            "start": start.isoformat(), "end": end.isoformat(),
            "generated_chain_head": dict(head) if head else None,
            "summary": {
                "decisions": len(attempts),
                "allowed": sum(1 for a in attempts if a["decision"] == "allow"),
                "denied": sum(1 for a in attempts if a["decision"] == "deny"),
                "attempts_counted": sum(1 for a in attempts if a["counts_as_attempt"]),
                "external_attempts": len(external),
                "unguarded_calls": sum(1 for u in unguarded if not u["emergency"]),
            },
            "unguarded_calls": [{**dict(u), "created_at": u["created_at"].isoformat(),
                                 "lifetime_ms": None if u["lifetime_ms"] is None
                                 else float(u["lifetime_ms"])} for u in unguarded],
            "totals_by_code": sorted(totals.values(), key=lambda e: (-e["count"], e["code"])),
            "totals_by_rule": [{"rule": k, "count": v} for k, v in sorted(by_rule.items())],
            "attempts": attempts,
            "external_attempts": [{"at": r["attempted_at"].isoformat(),
                                   "number": r["number_e164"], "reference": r["reference"],
                                   "campaign": r["campaign"]} for r in external],
            "blocks": [{**{k: (v.isoformat() if isinstance(v, dt.date) else v)
                           for k, v in dict(b).items()},
                        "honoured": b["calls_allowed_during"] == 0} for b in blocks],
            "consents": [{**{k: (v.isoformat() if isinstance(v, dt.date) else v)
                             for k, v in dict(c).items()}, "scopes": list(c["scopes"])}
                         for c in consents],
            "bloctel_scrubs": [{**{k: (v.isoformat() if isinstance(v, dt.date) else v)
                                   for k, v in dict(s).items()}} for s in scrubs],
            "opt_in_from": self._opt_in_from.isoformat(),
        }
