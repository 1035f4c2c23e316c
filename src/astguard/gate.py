"""The one decision path: live calls (ARI, FastAGI), the dry-run CLI and the HTTP API all come here.

gather facts from the store → `policy.decide` → record the evidence (or not, for a dry run).
Fails closed: a store that cannot be read or written turns a prospecting call into a refusal
with GUARD_UNAVAILABLE, and the evidence waits in the local spool.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from astguard.clock import Clock
from astguard.errors import StoreUnavailable
from astguard.policy import (
    CallRequest,
    Campaign,
    DialMode,
    Facts,
    RuleSettings,
    Verdict,
    decide,
)
from astguard.store.directory import Classification, Directory
from astguard.store.evidence import EvidenceStore, Outcome, evidence_row
from astguard.store.spool import Spool

log = logging.getLogger(__name__)

_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Decided:
    verdict: Verdict
    decision_id: str
    recorded: bool  # False for a dry run
    spooled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "recorded": self.recorded,
                "spooled": self.spooled, **self.verdict.as_dict()}


class Gate:
    def __init__(self, *, directory: Directory, evidence: EvidenceStore, spool: Spool | None,
                 clock: Clock, rules: RuleSettings, node: str) -> None:
        self._directory = directory
        self._evidence = evidence
        self._spool = spool
        self._clock = clock
        self._rules = rules
        self._node = node
        # Last known classification per (endpoint, override): lets service and b2b calls go on
        # while the store is away. Prospecting is refused then whatever the cache says.
        self._known: OrderedDict[tuple[str | None, str | None], Campaign] = OrderedDict()

    async def check(self, call: CallRequest, *, record: bool,
                    campaign: Campaign | None = None) -> Decided:
        """Decide one call. `campaign` skips classification (a dry run naming purpose and
        principal); everything else is the live path."""
        if campaign is not None:
            facts = Facts(campaign=campaign, classification="finalité donnée par l'appelant")
        else:
            facts = await self._facts(call)
        verdict = decide(call, facts, self._clock.now(), self._rules)
        decision_id = str(uuid.uuid4())
        if not record:
            return Decided(verdict, decision_id, recorded=False)
        row = evidence_row(decision_id, verdict, call, classification=facts.classification,
                           clock_mode=self._clock.mode, node=self._node)
        try:
            await self._evidence.record(row)
            return Decided(verdict, decision_id, recorded=True)
        except StoreUnavailable as exc:
            if verdict.allowed and verdict.counts_as_attempt:
                # The facts were read but the attempt could not be written: fail closed.
                facts = dataclasses.replace(facts, store_error=str(exc))
                verdict = decide(call, facts, verdict.decided_at, self._rules)
                row = evidence_row(decision_id, verdict, call,
                                   classification=facts.classification,
                                   clock_mode=self._clock.mode, node=self._node)
        await self._to_spool("decision", row)
        return Decided(verdict, decision_id, recorded=True, spooled=True)

    async def outcome(self, decision_id: str, outcome: Outcome) -> None:
        row = outcome.as_row(decision_id)
        try:
            if await self._evidence.attach_outcome(row):
                return
            # No open decision row yet: it may still wait in the spool; keep the order there.
        except StoreUnavailable:
            pass
        await self._to_spool("outcome", row)

    async def _to_spool(self, kind: str, row: dict[str, Any]) -> None:
        if self._spool is None:
            log.critical("no spool configured: %s %s lost", kind, row.get("id"))
            return
        try:
            await self._spool.append(kind, row)
        except OSError:
            log.critical("spool write failed: %s %s", kind, row, exc_info=True)

    async def _facts(self, call: CallRequest) -> Facts:
        key = (call.endpoint, call.campaign_name)
        try:
            found: Classification = await self._directory.classify(*key)
        except StoreUnavailable as exc:
            cached = self._known.get(key)
            campaign = self._with_mode(cached, call)
            how = "campagne connue avant la panne" if cached else "classement impossible"
            return Facts(campaign=campaign, classification=how, store_error=str(exc))
        if found.campaign is not None:
            self._known[key] = found.campaign
            self._known.move_to_end(key)
            while len(self._known) > _CACHE_SIZE:
                self._known.popitem(last=False)
        return Facts(campaign=self._with_mode(found.campaign, call), classification=found.how)

    @staticmethod
    def _with_mode(campaign: Campaign | None, call: CallRequest) -> Campaign | None:
        """A per-call dial mode may only make the call more automated, never less (R-F4)."""
        if campaign is None or call.dial_mode is None:
            return campaign
        order = list(DialMode)
        mode = max(campaign.dial_mode, call.dial_mode, key=order.index)
        return dataclasses.replace(campaign, dial_mode=mode)
