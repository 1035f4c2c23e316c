"""List scrubbing for dialers: each number's verdict now and its next callable moment.

A predictive dialer loads its hopper from here instead of discovering refusals one call at a
time. Nothing is recorded: no decision, no attempt, no lock; the facts are read a batch at a
time (store.contacts.batch_histories, one query per batch) and each number is decided by the
pure policy, `decide` and `next_callable`, exactly as a dry run of the gate would decide it.
The dial-time check stays the authority: between the scrub and the call, an attempt, a
refusal or a withdrawn consent may change the answer.

Numbers whose inputs to the policy are equal get the same answer: the answer is memoised on
those inputs (the number's plan attributes, its history without record identifiers), so a
list of millions costs one evaluation per distinct situation, not one per number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from astguard.app.contacts import next_callable
from astguard.clock import Clock
from astguard.errors import InputError
from astguard.policy import CallRequest, Campaign, Facts, RuleSettings, decide
from astguard.policy.caller_id import CallerIdRecord, canonical
from astguard.policy.decide import consumer_today
from astguard.policy.model import ContactHistory
from astguard.app.number_batches import plan_of
from astguard.policy.numbers import ConsumerNumber, NumberError, is_emergency
from astguard.store import contacts as store
from astguard.store.database import Database
from astguard.store.directory import Directory

MAX_NUMBERS = 10_000_000
BATCH = 5_000
SOURCE = "scrub"


@dataclass(frozen=True, slots=True)
class ScrubLine:
    number: str  # as given
    e164: str | None
    callable: bool
    reasons: tuple[str, ...]  # reason codes of the verdict now
    next_at: dt.datetime | None  # the next moment a call would be allowed (now if callable)

    def as_dict(self) -> dict[str, object]:
        return {"number": self.number, "e164": self.e164, "callable": self.callable,
                "reasons": list(self.reasons),
                "next_callable_at": self.next_at.isoformat() if self.next_at else None}


@dataclass(frozen=True, slots=True)
class _Answer:
    callable: bool
    reasons: tuple[str, ...]
    next_at: dt.datetime | None


class Scrubber:
    def __init__(self, db: Database, directory: Directory, clock: Clock, rules: RuleSettings,
                 *, max_numbers: int = MAX_NUMBERS, batch: int = BATCH) -> None:
        self._db = db
        self._directory = directory
        self._clock = clock
        self._rules = rules
        self.max_numbers = max_numbers
        self._batch = batch

    async def campaign(self, name: str) -> tuple[Campaign, str]:
        """The campaign as a dialer's call naming it is classified (no endpoint)."""
        found = await self._directory.classify(None, name)
        if found.campaign is None:
            raise InputError(f"campagne {name!r} inconnue ou inactive ({found.how})")
        return found.campaign, found.how

    def check_count(self, count: int) -> None:
        if count > self.max_numbers:
            raise InputError(f"trop de numéros : {count:,} (au plus {self.max_numbers:,} par "
                             "liste)".replace(",", " "))

    async def scrub(self, numbers: Iterable[str], campaign_name: str,
                    at: dt.datetime | None = None) -> AsyncIterator[ScrubLine]:
        """The verdict of each number, in the order given (blank entries skipped)."""
        campaign, how = await self.campaign(campaign_name)
        now = at or self._clock.now()
        principal = campaign.principal
        caller_ids = sorted({canonical(campaign.caller_id)} if campaign.caller_id else set())
        async with self._db.connection() as conn:
            inventory, blocked = await store.caller_id_facts(conn, principal, caller_ids)
        evaluate = _Evaluator(campaign, how, inventory, blocked, now, self._rules)
        for batch in _batches(numbers, self._batch):
            days: dict[str, dt.date] = {}
            targets: list[tuple[str, str | None]] = []
            for dialled in batch:
                target = evaluate.target(dialled)
                targets.append((dialled, target[0] if target else None))
                if target:
                    days[target[0]] = target[1]
            histories: dict[str, ContactHistory] = {}
            if days:
                async with self._db.connection() as conn:
                    histories = await store.batch_histories(
                        conn, principal, days, now, self._rules.callback_tolerance,
                        self._rules.cap_days)
            for dialled, e164 in targets:
                answer = evaluate(dialled, histories.get(e164) if e164 else None)
                yield ScrubLine(dialled, e164, answer.callable, answer.reasons, answer.next_at)


def _batches(numbers: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for raw in numbers:
        number = raw.strip()
        if not number:
            continue
        batch.append(number)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Evaluator:
    """decide() and next_callable() for one campaign at one instant, memoised on their
    inputs: the number's plan attributes (not its digits) and its history (not the records'
    identifiers). Numbers that the policy could tell apart by their digits (an emergency
    number, an unparsable one) are decided on their own."""

    def __init__(self, campaign: Campaign, how: str, inventory: tuple[CallerIdRecord, ...],
                 blocked: frozenset[str], now: dt.datetime, rules: RuleSettings) -> None:
        self._campaign = campaign
        self._how = how
        self._inventory = inventory
        self._blocked = blocked
        self._now = now
        self._rules = rules
        self._memo: dict[tuple[object, ...], _Answer] = {}
        self._days: dict[ConsumerNumber, dt.date] = {}  # the consumer's day, per plan
        self._plans: dict[str, ConsumerNumber] = {}  # the current batch's, by number

    def target(self, dialled: str) -> tuple[str, dt.date] | None:
        """(E.164, the consumer's local day) as the gate reads the history, or None; the
        number's plan attributes are kept for the memo's key."""
        try:
            e164, plan = plan_of(dialled)
        except NumberError:
            return None
        day = self._days.get(plan)
        if day is None:  # the policy's own answer, once per distinct plan attributes
            found = consumer_today(CallRequest(dialled, SOURCE), self._now, self._rules)
            if found is None:  # pragma: no cover (consumer_number parsed it)
                return None
            day = self._days[plan] = found[1]
        self._plans[dialled] = plan
        return e164, day

    def __call__(self, dialled: str, history: ContactHistory | None) -> _Answer:
        plan = self._plans.pop(dialled, None)
        key = None
        if plan is not None and not is_emergency(dialled, self._rules.emergency_numbers):
            key = (plan, _without_ids(history))
            found = self._memo.get(key)
            if found is not None:
                return found
        answer = self._evaluate(dialled, history)
        if key is not None:
            if len(self._memo) > 100_000:  # constant memory on lists of unusual variety
                self._memo.clear()
            self._memo[key] = answer
        return answer

    def _evaluate(self, dialled: str, history: ContactHistory | None) -> _Answer:
        call = CallRequest(dialled, SOURCE, campaign_name=self._campaign.name)
        facts = Facts(self._campaign, self._how, history=history,
                      inventory=self._inventory if history is not None else (),
                      blocked_caller_ids=self._blocked if history is not None else frozenset())
        verdict = decide(call, facts, self._now, self._rules)
        if verdict.allowed:
            return _Answer(True, tuple(verdict.codes), self._now)
        if history is None:  # not a consumer number: never callable as it is
            return _Answer(False, tuple(verdict.codes), None)
        nxt = next_callable(dialled, self._campaign, history, self._inventory, self._blocked,
                            self._now, self._rules)
        return _Answer(False, tuple(verdict.codes), nxt.at)


def _without_ids(history: ContactHistory | None) -> tuple[object, ...] | None:
    """The history as decide() reads it, without the consents' identifiers and proofs (which
    only go into a verdict's evidence, never into its codes)."""
    if history is None:
        return None
    return (history.attempt_days, history.blocks,
            tuple((c.principal, c.scopes, c.collected_at, c.valid_until, c.withdrawn_at)
                  for c in history.consents),
            history.contracts, history.bloctel, history.callback_at)
