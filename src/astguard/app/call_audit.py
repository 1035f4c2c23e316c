"""Every call that reached a trunk had an allow decision before it: the reconciliation of
Asterisk's call records with astguard's evidence (`astguard audit calls`, the inspection
report). It works from Asterisk's records alone, so it finds what went out while astguard was
stopped as well as what the watchdog caught."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from astguard.policy.numbers import is_emergency
from astguard.values import UnguardedCall
from astguard.store.trunk_audit import TrunkAuditStore
from astguard.telephony.call_token import CallTokens, trunk_number
from astguard.telephony.cdr import TrunkCall

CLOCK_TOLERANCE = dt.timedelta(seconds=2)  # Asterisk's and PostgreSQL's clocks
FALLBACK_WINDOW = dt.timedelta(minutes=10)  # no token: an allow this long before, same number


@dataclass(frozen=True, slots=True)
class CallFinding:
    call: TrunkCall
    problem: str  # French
    decision_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.call.as_dict(), "problem": self.problem, "decision_id": self.decision_id}

    def describe(self) -> str:
        number = self.call.number or "numéro inconnu"
        return (f"{self.call.start.isoformat(timespec='seconds')} {number} sur "
                f"{self.call.endpoint} ({self.call.trunk_channel}, par {self.call.via}) : "
                f"{self.problem}")


@dataclass(slots=True)
class CallAuditResult:
    start: dt.datetime
    end: dt.datetime
    checked: int = 0
    by_token: int = 0
    by_number: int = 0  # matched without a token, by number and time
    unguarded: list[CallFinding] = field(default_factory=list)
    emergency: list[CallFinding] = field(default_factory=list)  # passed, never counted

    @property
    def ok(self) -> bool:
        return not self.unguarded

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(),
                "checked": self.checked, "matched_by_token": self.by_token,
                "matched_by_number_and_time": self.by_number,
                "unguarded_count": len(self.unguarded),
                "unguarded": [f.as_dict() for f in self.unguarded],
                "emergency": [f.as_dict() for f in self.emergency]}


def _with_watchdog_numbers(calls: list[TrunkCall],
                           caught: list[UnguardedCall]) -> list[TrunkCall]:
    """Asterisk's record of a direct origination has no number; the watchdog's has."""
    out = []
    for call in calls:
        if not call.number:
            for row in caught:
                if row.channel == call.trunk_channel and abs(
                        (row.created_at - call.start).total_seconds()) < 5:
                    call = dataclasses.replace(call, number=row.dialled)
                    break
        out.append(call)
    return out


async def audit_calls(calls: list[TrunkCall], store: TrunkAuditStore, tokens: CallTokens, *,
                      start: dt.datetime, end: dt.datetime, emergency_numbers: frozenset[str],
                      caught: list[UnguardedCall] = ()) -> CallAuditResult:
    """`caught`: the watchdog's rows of the period (they name the numbers Asterisk's records
    leave out)."""
    result = CallAuditResult(start, end)
    period = _with_watchdog_numbers([c for c in calls if start <= c.start < end], list(caught))
    checks = {id(c): tokens.verify(c.token, c.number, check_age=False)
              for c in period if c.token}
    marks = await store.by_ids([ch.decision_id for ch in checks.values() if ch.decision_id])
    for call in period:
        result.checked += 1
        if call.number and is_emergency(call.number, emergency_numbers):
            result.emergency.append(CallFinding(call, "numéro d'urgence (jamais bloqué)"))
            continue
        check = checks.get(id(call))
        if check is not None and check.valid:
            mark = marks.get(check.decision_id or "")
            if mark is None:
                problem = "jeton valide mais décision introuvable (encore dans la file locale ?)"
            elif mark.decision != "allow":
                problem = f"la décision {mark.id} est un refus"
            elif mark.at > call.start + CLOCK_TOLERANCE:
                problem = f"la décision {mark.id} est postérieure à l'appel"
            else:
                result.by_token += 1
                continue
            result.unguarded.append(CallFinding(call, problem, check.decision_id))
            continue
        if check is not None:  # a token that does not hold
            result.unguarded.append(CallFinding(call, check.problem, check.decision_id))
            continue
        if call.number:
            mark = await store.allowed_near(trunk_number(call.number), call.start,
                                            FALLBACK_WINDOW, CLOCK_TOLERANCE)
            if mark is not None:
                result.by_number += 1
                continue
        result.unguarded.append(CallFinding(
            call, "aucune décision astguard" if call.number else
            "origination directe vers l'opérateur, sans décision astguard"))
    return result
