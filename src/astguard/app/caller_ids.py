"""The numbers the centre may present (R-F2), the network's refusals of them (R-G1), and a check
that explains a number's verdict for a dial mode with the very rules a live call applies."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from astguard.clock import Clock
from astguard.instants import PARIS
from astguard.policy import RuleSettings
from astguard.policy.caller_id import CallerIdRecord, CliPolicy, canonical, shipped_tables
from astguard.policy.decide import check_caller_id
from astguard.policy.model import Campaign, DialMode, Facts, Purpose
from astguard.policy.reasons import Reason
from astguard.store.caller_ids import KINDS, CallerIdStore
from astguard.store.directory import valid_identifier

__all__ = ["KINDS", "CallerIdCheck", "CallerIds"]


@dataclass(frozen=True, slots=True)
class CallerIdCheck:
    number: str
    mode: str
    principal: str
    reasons: tuple[Reason, ...]
    tables_checked: dt.date  # when the NPV and range tables were last checked

    @property
    def allowed(self) -> bool:
        return not any(r.resolved_effect.value == "deny" for r in self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "mode": self.mode, "principal": self.principal,
                "allowed": self.allowed, "tables_checked": self.tables_checked.isoformat(),
                "reasons": [{"code": r.code.value, "effect": r.resolved_effect.value,
                             "text": r.text} for r in self.reasons]}


class CallerIds:
    def __init__(self, store: CallerIdStore, clock: Clock, rules: RuleSettings) -> None:
        self._store = store
        self._clock = clock
        self._rules = rules

    async def add(self, number: str, principal: str, *, mandate_ref: str, valid_from: dt.date,
                  valid_to: dt.date | None = None, trunk: str | None = None,
                  operator: str | None = None, kind: str | None = None) -> dict[str, Any]:
        return await self._store.add(number, principal, mandate_ref=mandate_ref,
                                     valid_from=valid_from, valid_to=valid_to, trunk=trunk,
                                     operator=operator, kind=kind)

    async def list(self, principal: str | None = None) -> list[dict[str, Any]]:
        """The inventory; `recent_refusals` counts the network's refusals within R-G1's window
        (the rules' network_refusal_window, the one the gate counts with)."""
        since = self._clock.now() - self._rules.network_refusal_window
        return await self._store.list(principal, refusals_since=since)

    async def alerts(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        return await self._store.alerts(open_only=open_only)

    async def clear(self, number: str, by: str) -> int:
        return await self._store.clear(number, by)

    async def check(self, number: str, *, mode: str, principal: str, purpose: str,
                    day: dt.date | None = None) -> CallerIdCheck:
        """The caller-ID rules exactly as a live call applies them (check_caller_id), with the
        principal's inventory and the network's alerts read from the store; at noon Paris on
        `day` when given, else now."""
        tables = self._rules.numbering or shipped_tables()
        now = self._clock.now()
        if day is not None:
            now = dt.datetime.combine(day, dt.time(12), PARIS)
        valid_identifier(principal, "donneur d'ordre")
        shown = canonical(number)
        rows = await self._store.inventory_for(principal, [shown])
        inventory = tuple(CallerIdRecord(r["number"], r["principal"], r["valid_from"],
                                         r["valid_to"], r["trunk"], r["mandate_ref"])
                          for r in rows)
        blocked = frozenset(a["caller_id"] for a in await self._store.alerts(open_only=True))
        campaign = Campaign("(vérification)", principal, Purpose(purpose), DialMode(mode),
                            caller_id=None, cli_policy=CliPolicy.REFUSE)
        facts = Facts(campaign, "callerid check", inventory=inventory,
                      blocked_caller_ids=blocked)
        _, reasons = check_caller_id(number, campaign, facts, now, self._rules)
        return CallerIdCheck(number, mode, principal, tuple(reasons), tables.last_checked)
