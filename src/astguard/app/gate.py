"""The one decision path: live calls (ARI, FastAGI), the dry-run CLI and the HTTP API all come here.

gather facts from the store → `policy.decide` → record the evidence (or not, for a dry run).
Fails closed: a store that cannot be read or written turns a prospecting call into a refusal
with GUARD_UNAVAILABLE, and the evidence waits in the local spool.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import asyncpg

from astguard.clock import Clock
from astguard.metrics import Metrics
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
from astguard.policy.caller_id import canonical
from astguard.policy.decide import consumer_today
from astguard.store.contacts import load_history
from astguard.store.database import Database
from astguard.store.directory import Classification, Directory
from astguard.store.caller_ids import NETWORK_REFUSED_CAUSE, note_network_refusal
from astguard.store.replay import replay_outcome
from astguard.store.evidence import (
    Outcome,
    attach_outcome,
    decision_exists,
    evidence_row,
    insert_decision,
    insert_decision_and_attempt,
    open_outcomes,
    outcome_recorded,
)
from astguard.store.spool import Spool
from astguard.values import OpenOutcome

log = logging.getLogger(__name__)

_CACHE_SIZE = 4096
_UNSAVED_OUTCOMES = 10_000


@dataclass(frozen=True, slots=True)
class Decided:
    verdict: Verdict
    decision_id: str
    recorded: bool  # False for a dry run
    spooled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "recorded": self.recorded,
                "spooled": self.spooled, **self.verdict.as_dict()}


def _caller_id_candidates(call: CallRequest, campaign: Campaign) -> list[str]:
    """The numbers this call may present: the one asked for and the campaign's (R-F2)."""
    return sorted({canonical(n) for n in (call.caller_id, campaign.caller_id) if n})


class Gate:
    def __init__(self, *, db: Database, directory: Directory, spool: Spool | None,
                 clock: Clock, rules: RuleSettings, node: str,
                 metrics: Metrics | None = None) -> None:
        self._db = db
        self._metrics = metrics or Metrics()
        self._directory = directory
        self._spool = spool
        self._clock = clock
        self._rules = rules
        self._node = node
        # Last known classification per (endpoint, override): lets service and b2b calls go on
        # while the store is away. Prospecting is refused then whatever the cache says.
        self._known: OrderedDict[tuple[str | None, str | None], Campaign] = OrderedDict()
        # Outcomes neither PostgreSQL nor the spool could take (both down, the spool's disk
        # full): kept in memory and written by retry_unsaved_outcomes (issue 14's soak).
        self._unsaved: deque[tuple[str, Outcome, bool]] = deque(maxlen=_UNSAVED_OUTCOMES)
        self._writing: Counter[str] = Counter()  # decisions whose outcome is being written
        if spool is not None:
            spool.register("outcome", self._replay_outcome)

    async def _replay_outcome(self, conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
        """An outcome written from the spool counts a network refusal like a live one (R-G1)."""
        written = await replay_outcome(conn, row)
        if written and row.get("hangup_cause") == NETWORK_REFUSED_CAUSE \
                and not row.get("answered"):
            raised = await note_network_refusal(
                conn, row["decision_id"], threshold=self._rules.network_refusal_threshold,
                window=self._rules.network_refusal_window)
            self._metrics.network_alerts(raised)
        return written

    async def check(self, call: CallRequest, *, record: bool,
                    campaign: Campaign | None = None) -> Decided:
        """Decide one call. `campaign` skips classification (a dry run naming purpose and
        principal); everything else is the live path. One pooled connection per decision."""
        t0 = time.perf_counter()
        decided = await self._check(call, record=record, campaign=campaign)
        if record:
            verdict = decided.verdict
            self._metrics.decision(verdict.decision.value, call.source,
                                   [(r.code.value, r.resolved_effect.value)
                                    for r in verdict.reasons], time.perf_counter() - t0)
        return decided

    async def _check(self, call: CallRequest, *, record: bool,
                     campaign: Campaign | None) -> Decided:
        now = self._clock.now()
        # Chosen before any write: a write whose acknowledgement is lost is read back by it.
        decision_id = str(uuid.uuid4())
        facts: Facts | None = None
        sent: list[Verdict] = []  # the verdict whose write went to PostgreSQL, if one did
        try:
            async with self._db.connection() as conn:
                if campaign is not None:
                    facts = Facts(campaign, "finalité donnée par l'appelant")
                else:
                    facts = await self._classify(conn, call)
                return await self._decide(conn, call, facts, now, decision_id, record, sent)
        except StoreUnavailable as exc:
            self._metrics.db_error()
            if sent and await self._stored(decision_id):
                # The commit reached PostgreSQL, its acknowledgement did not: the stored
                # verdict (and the attempt it counts, R-D6) is what happened.
                log.warning("decision %s: stored, acknowledgement lost (%s)", decision_id, exc)
                return Decided(sent[0], decision_id, recorded=True)
            # Fail closed: decide again knowing the store is away (prospecting is refused,
            # GUARD_UNAVAILABLE), and keep the evidence in the local spool.
            if facts is None:
                facts = self._from_cache(call)
            facts = dataclasses.replace(facts, store_error=str(exc), history=None)
        verdict = decide(call, facts, now, self._rules)
        if not record:
            return Decided(verdict, decision_id, recorded=False)
        if await self._to_spool("decision", self._row(decision_id, verdict, call, facts)):
            return Decided(verdict, decision_id, recorded=True, spooled=True)
        # Neither PostgreSQL nor the spool can keep this decision's evidence (rules §7): refuse
        # every call but emergency numbers (R-A), whatever its campaign.
        facts = Facts(None, facts.classification,
                      store_error=f"{facts.store_error} ; journal local inutilisable")
        return Decided(decide(call, facts, now, self._rules), decision_id, recorded=False)

    async def _stored(self, decision_id: str) -> bool:
        """Is this decision in PostgreSQL? One try, even with the breaker open."""
        try:
            async with self._db.connection(despite_breaker=True) as conn:
                return await decision_exists(conn, decision_id)
        except StoreUnavailable:
            return False  # unknown: fail closed; a replay that finds it reports the conflict

    async def _decide(self, conn: asyncpg.Connection, call: CallRequest, facts: Facts,
                      now: dt.datetime, decision_id: str, record: bool,
                      sent: list[Verdict]) -> Decided:
        target = consumer_today(call, now, self._rules)
        # Every classified call reads the store: the consumer rules for prospecting and
        # surveys, and for every purpose the caller-ID inventory (R-F2, 2026-11-26).
        if facts.campaign is None or target is None:
            verdict = decide(call, facts, now, self._rules)
            if record:
                sent.append(verdict)
                await insert_decision(conn, self._row(decision_id, verdict, call, facts))
            return Decided(verdict, decision_id, recorded=record)
        # Lock the (principal, consumer), read its history, decide, and write the decision and
        # the attempt in one transaction: concurrent calls to one consumer are decided one
        # after the other, and exactly as many as the cap allows get through (R-D6).
        e164, today = target
        async with conn.transaction():
            store = await load_history(conn, facts.campaign.principal, e164, today, now,
                                       self._rules.callback_tolerance,
                                       window_days=self._rules.cap_days,
                                       caller_ids=_caller_id_candidates(call, facts.campaign))
            facts = dataclasses.replace(facts, history=store.history, inventory=store.inventory,
                                        blocked_caller_ids=store.blocked)
            verdict = decide(call, facts, now, self._rules)
            if record:
                row = self._row(decision_id, verdict, call, facts)
                sent.append(verdict)
                if verdict.counts_as_attempt:
                    await insert_decision_and_attempt(conn, row, local_day=today)
                else:
                    await insert_decision(conn, row)
        return Decided(verdict, decision_id, recorded=record)

    def _row(self, decision_id: str, verdict: Verdict, call: CallRequest,
             facts: Facts) -> dict[str, Any]:
        if call.agent is None and facts.agent is not None:
            call = dataclasses.replace(call, agent=facts.agent)
        return evidence_row(decision_id, verdict, call, classification=facts.classification,
                            clock_mode=self._clock.mode, node=self._node)

    async def outcome(self, decision_id: str, outcome: Outcome, *,
                      observed: bool = True) -> None:
        """Attach a call's outcome to its decision: in PostgreSQL, else in the spool (after the
        decision if it waits there too), else in memory until retry_unsaved_outcomes. Never
        raises: an outcome PostgreSQL refuses for another reason is logged and spooled (its
        replay sets it aside with the reason), not lost with the task that wrote it.

        `observed=False`: an outcome that says the call's end was not seen (a channel found
        ended). It gives way to any real one, waiting in memory or the spool, being written,
        or already stored: then it is dropped, and only then."""
        if not observed and await self._outcome_known(decision_id):
            log.info("decision %s: its outcome is already known, the unobserved end is not "
                     "written", decision_id)
            return
        row = outcome.as_row(decision_id)
        self._writing[decision_id] += 1
        try:
            async with self._db.transaction() as conn:
                if await attach_outcome(conn, row):
                    if outcome.hangup_cause == NETWORK_REFUSED_CAUSE and not outcome.answered:
                        raised = await note_network_refusal(  # R-G1
                            conn, decision_id, threshold=self._rules.network_refusal_threshold,
                            window=self._rules.network_refusal_window)
                        self._metrics.network_alerts(raised)
                    return
                if not observed and await outcome_recorded(conn, decision_id):
                    log.info("decision %s already has its outcome: the unobserved end is not "
                             "written", decision_id)
                    return
            # No open decision row yet: it may still wait in the spool; keep the order there.
        except StoreUnavailable:
            self._metrics.db_error()
        except Exception:
            log.exception("outcome of decision %s not written to PostgreSQL: spooled",
                          decision_id)
        finally:
            self._writing[decision_id] -= 1
            if not self._writing[decision_id]:
                del self._writing[decision_id]
        if not await self._to_spool("outcome", row):
            if len(self._unsaved) == self._unsaved.maxlen:
                log.critical("outcome of decision %s dropped from memory (%d kept): its call "
                             "is settled later as not observed", self._unsaved[0][0],
                             len(self._unsaved))
            self._unsaved.append((decision_id, outcome, observed))

    async def _outcome_known(self, decision_id: str) -> bool:
        """An outcome of this decision is being written, or waits in memory or the spool."""
        if decision_id in self._writing or any(d == decision_id for d, _, _ in self._unsaved):
            return True
        return self._spool is not None and await self._spool.holds_outcome(decision_id)

    @property
    def unsaved_outcomes(self) -> int:
        return len(self._unsaved)

    async def retry_unsaved_outcomes(self) -> int:
        """Write the outcomes kept in memory; how many are still waiting. Each one leaves
        memory only while it is written (kept again if that fails): a cancelled retry (at
        shutdown) loses none of the others."""
        for _ in range(len(self._unsaved)):
            if not self._unsaved:
                break  # another retry took them meanwhile
            decision_id, outcome, observed = entry = self._unsaved.popleft()
            try:
                await self.outcome(decision_id, outcome, observed=observed)
            except asyncio.CancelledError:
                self._unsaved.appendleft(entry)  # written or not: a second write is harmless
                raise
        return len(self._unsaved)

    async def open_outcomes(self, started: dt.datetime,
                            margin: dt.timedelta) -> list[OpenOutcome]:
        """This node's allowed calls still without an outcome, decided before this run
        `started` or, by this run, more than `margin` ago (the clock's time)."""
        before = max(started, self._clock.now() - margin)
        async with self._db.connection() as conn:
            return await open_outcomes(conn, self._node, before)

    async def _to_spool(self, kind: str, row: dict[str, Any]) -> bool:
        """Keep the record on disk; False (logged, counted) when nothing could keep it."""
        if self._spool is None:
            log.critical("no spool configured: %s %s lost", kind, row.get("id"))
            return False
        try:
            await self._spool.append(kind, row)
        except OSError as exc:
            self._metrics.spool_failure()
            log.critical("spool write failed (%s): %s %s not kept; calls are refused "
                         "(GUARD_UNAVAILABLE) until the spool or PostgreSQL can write", exc,
                         kind, row.get("id") or row.get("decision_id"))
            return False
        return True

    async def _classify(self, conn: asyncpg.Connection, call: CallRequest) -> Facts:
        key = (call.endpoint, call.campaign_name)
        found: Classification = await self._directory.classify(*key, conn=conn)
        if found.campaign is not None:
            self._known[key] = found.campaign
            self._known.move_to_end(key)
            while len(self._known) > _CACHE_SIZE:
                self._known.popitem(last=False)
            # What is known of a campaign is what was read last, under every key (a changed
            # purpose or scope must not come back from another key during an outage).
            for other, campaign in self._known.items():
                if campaign.name == found.campaign.name:
                    self._known[other] = found.campaign
        else:
            # Deactivated, deleted or no longer allowed: never let it out during an outage,
            # under this key or any other that knew the same campaign (issue 14).
            gone = self._known.pop(key, None)
            if gone is not None:
                self._forget({gone.name})
        return Facts(campaign=self._with_mode(found.campaign, call), classification=found.how,
                     agent=found.agent)

    def _forget(self, names: set[str]) -> None:
        for key in [k for k, c in self._known.items() if c.name in names]:
            del self._known[key]

    async def forget_inactive_campaigns(self) -> int:
        """Drop from the outage cache every campaign deactivated or deleted since it was read,
        even under keys no call has asked for since (issue 14); how many keys were dropped."""
        if not self._known:
            return 0
        active = {c["name"] for c in await self._directory.list_campaigns() if c["active"]}
        before = len(self._known)
        self._forget({c.name for c in self._known.values()} - active)
        return before - len(self._known)

    async def forget_inactive_campaigns_forever(self, interval: float = 30.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.forget_inactive_campaigns()
            except StoreUnavailable:
                pass  # the cache is what serves during the outage; looked at again later

    def _from_cache(self, call: CallRequest) -> Facts:
        cached = self._known.get((call.endpoint, call.campaign_name))
        how = "campagne connue avant la panne" if cached else "classement impossible"
        return Facts(campaign=self._with_mode(cached, call), classification=how)

    @staticmethod
    def _with_mode(campaign: Campaign | None, call: CallRequest) -> Campaign | None:
        """A per-call dial mode may only make the call more automated, never less (R-F4)."""
        if campaign is None or call.dial_mode is None:
            return campaign
        order = list(DialMode)
        mode = max(campaign.dial_mode, call.dial_mode, key=order.index)
        return dataclasses.replace(campaign, dial_mode=mode)
