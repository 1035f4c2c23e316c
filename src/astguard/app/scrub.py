"""List scrubbing for dialers: each number's verdict now and its next callable moment.

A predictive dialer loads its hopper from here instead of discovering refusals one call at a
time. Nothing is recorded: no decision, no attempt, no lock; the facts are read a batch at a
time (store.scrub_facts.batch_facts, one statement per batch of thousands, all in one
read-only snapshot; the next batch's statement runs in PostgreSQL while this batch is
decided) and each number is decided by the pure policy, `decide` and `next_callable`,
exactly as a dry run of the gate would decide it.
The dial-time check stays the authority: between the scrub and the call, an attempt, a
refusal or a withdrawn consent may change the answer.

Numbers whose inputs to the policy are equal get the same answer: the answer is memoised on
those inputs (the number's plan attributes, its history without record identifiers), so a
list of millions costs one evaluation per distinct situation, not one per number. A number's
plan attributes and local day are those of its block (Arcep allots blocks of 10,000
numbers; app/number_batches.plan_of), looked up once per block.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from astguard.app.contacts import next_callable
from astguard.app.number_batches import block_of, plan_of
from astguard.clock import Clock
from astguard.errors import InputError
from astguard.policy import CallRequest, Campaign, Facts, RuleSettings, decide
from astguard.policy.caller_id import CallerIdRecord, canonical
from astguard.policy.decide import consumer_today
from astguard.policy.model import ContactHistory
from astguard.policy.numbers import ConsumerNumber, NumberError, is_emergency
from astguard.store import contacts as store
from astguard.store import scrub_facts
from astguard.store.database import Database
from astguard.store.directory import Directory

MAX_NUMBERS = 10_000_000
BATCH = 20_000  # numbers per statement: fewer, larger index probes (measured 5,000 to 20,000)
SOURCE = "scrub"
_MEMO_SIZE = 100_000  # answers kept; cleared when full (constant memory)


@dataclass(frozen=True, slots=True)
class Answer:
    """A verdict as scrubbing gives it; numbers in the same situation share one."""

    callable: bool
    reasons: tuple[str, ...]  # reason codes of the verdict now
    next_at: dt.datetime | None  # the next moment a call would be allowed (now if callable)


@dataclass(frozen=True, slots=True)
class ScrubLine:
    number: str  # as given
    e164: str | None
    answer: Answer

    @property
    def callable(self) -> bool:
        return self.answer.callable

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.answer.reasons

    @property
    def next_at(self) -> dt.datetime | None:
        return self.answer.next_at

    def as_dict(self) -> dict[str, object]:
        return {"number": self.number, "e164": self.e164, "callable": self.callable,
                "reasons": list(self.reasons),
                "next_callable_at": self.next_at.isoformat() if self.next_at else None}


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
        async for lines in self.scrub_batches(numbers, campaign_name, at):
            for line in lines:
                yield line

    async def scrub_batches(self, numbers: Iterable[str], campaign_name: str,
                            at: dt.datetime | None = None) -> AsyncIterator[list[ScrubLine]]:
        """scrub's lines a batch at a time (what the surfaces write)."""
        campaign, how = await self.campaign(campaign_name)
        now = at or self._clock.now()
        principal = campaign.principal
        caller_ids = sorted({canonical(campaign.caller_id)} if campaign.caller_id else set())
        rules = self._rules
        window = dt.timedelta(days=rules.cap_days)
        async with self._db.connection() as conn, \
                conn.transaction(isolation="repeatable_read", readonly=True):
            await scrub_facts.open_snapshot(conn)
            inventory, blocked = await store.caller_id_facts(conn, principal, caller_ids)
            evaluate = _Evaluator(campaign, how, inventory, blocked, now, rules)

            def fetch(targets: list[_Target]) -> asyncio.Task[scrub_facts.BatchFacts] | None:
                days = {t[1]: t[2] for t in targets if t[1] is not None}
                if not days:
                    return None
                first, last = min(days.values()), max(days.values())
                return asyncio.ensure_future(scrub_facts.batch_facts(
                    conn, principal, sorted(days), first - window, first, last,
                    now - rules.callback_tolerance, now + rules.callback_tolerance, now))

            previous: tuple[list[_Target], asyncio.Task | None] | None = None
            task: asyncio.Task | None = None
            try:
                for batch in _batches(numbers, self._batch):
                    targets = [evaluate.target(dialled) for dialled in batch]
                    facts = await previous[1] if previous and previous[1] else None
                    task = fetch(targets)
                    if task is not None:
                        await asyncio.sleep(0)  # the statement leaves: PostgreSQL works on it
                    if previous is not None:   # while this batch's predecessor is decided
                        yield evaluate.batch(previous[0], facts, window)
                    previous = targets, task
                if previous is not None:
                    facts = await previous[1] if previous[1] else None
                    yield evaluate.batch(previous[0], facts, window)
            finally:
                if task is not None and not task.done():  # the reader went away
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task


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


# (the number as given, its E.164 or None, the consumer's local day, the index of its plan
# attributes, whether it is an emergency number)
_Target = tuple[str, str | None, dt.date | None, int, bool]


def _plain_shape(dialled: str) -> bool:
    """0ZABPQMCDU or +33ZABPQMCDU in ASCII digits: a number that normalise_digits leaves as
    it is, whose E.164, plan attributes and local day are its block's (the first 6 or 8
    characters) followed by its last four digits."""
    if len(dialled) == 10:
        return dialled[0] == "0" and dialled[1] != "0" and dialled.isascii() \
            and dialled.isdigit()
    return len(dialled) == 12 and dialled.startswith("+33") and dialled.isascii() \
        and dialled[1:].isdigit()


class _Evaluator:
    """decide() and next_callable() for one campaign at one instant, memoised on their
    inputs: the number's plan attributes (not its digits) and its history (not the records'
    identifiers). Numbers that the policy could tell apart by their digits (an emergency
    number, an unparsable one) are memoised on their digits."""

    def __init__(self, campaign: Campaign, how: str, inventory: tuple[CallerIdRecord, ...],
                 blocked: frozenset[str], now: dt.datetime, rules: RuleSettings) -> None:
        self._campaign = campaign
        self._how = how
        self._inventory = inventory
        self._blocked = blocked
        self._now = now
        self._rules = rules
        self._emergency = rules.emergency_numbers
        self._memo: dict[tuple[object, ...], Answer] = {}
        self._plans: dict[ConsumerNumber, tuple[int, dt.date]] = {}  # plan -> (index, day)
        # A plain-shaped number's block ("0ZABPQ" or "+33ZABPQ") -> (its E.164 without the
        # last four digits, the plan's index, the consumer's day)
        self._blocks: dict[str, tuple[str, int, dt.date]] = {}

    def target(self, dialled: str) -> _Target:
        """Where the gate would read this number's history: its E.164 and the consumer's
        local day (None for a number that does not parse)."""
        plain = _plain_shape(dialled)
        if plain:
            found = self._blocks.get(dialled[:-4])
            if found is not None:
                return dialled, found[0] + dialled[-4:], found[2], found[1], \
                    dialled in self._emergency  # normalise_digits(dialled) == dialled
        try:
            e164, plan = plan_of(dialled)
        except NumberError:
            return dialled, None, None, -1, is_emergency(dialled, self._emergency)
        known = self._plans.get(plan)
        if known is None:  # the policy's own answer, once per distinct plan attributes
            found_day = consumer_today(CallRequest(dialled, SOURCE), self._now, self._rules)
            if found_day is None:  # pragma: no cover (plan_of parsed it)
                return dialled, None, None, -1, is_emergency(dialled, self._emergency)
            known = self._plans[plan] = (len(self._plans), found_day[1])
        if plain and e164[-4:] == dialled[-4:] and block_of(e164) is not None:
            self._blocks[dialled[:-4]] = (e164[:-4], known[0], known[1])
        return dialled, e164, known[1], known[0], is_emergency(dialled, self._emergency)

    def batch(self, targets: list[_Target], facts: scrub_facts.BatchFacts | None,
              window: dt.timedelta) -> list[ScrubLine]:
        memo = self._memo
        lines = []
        for dialled, e164, day, plan, emergency in targets:
            found = facts.facts_of(e164, day, day - window) \
                if facts is not None and e164 is not None else None
            if e164 is None or emergency:  # decided on the digits alone
                key: tuple[object, ...] = (dialled,)
            else:
                key = (plan,) if found is None else (plan, found[0])
            answer = memo.get(key)
            if answer is None:
                if e164 is None:
                    history = None
                else:
                    history = ContactHistory() if found is None else scrub_facts.history(found[1])
                answer = self._evaluate(dialled, history)
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()
                memo[key] = answer
            lines.append(ScrubLine(dialled, e164, answer))
        return lines

    def _evaluate(self, dialled: str, history: ContactHistory | None) -> Answer:
        call = CallRequest(dialled, SOURCE, campaign_name=self._campaign.name)
        facts = Facts(self._campaign, self._how, history=history,
                      inventory=self._inventory if history is not None else (),
                      blocked_caller_ids=self._blocked if history is not None else frozenset())
        verdict = decide(call, facts, self._now, self._rules)
        if verdict.allowed:
            return Answer(True, tuple(verdict.codes), self._now)
        if history is None:  # not a consumer number: never callable as it is
            return Answer(False, tuple(verdict.codes), None)
        nxt = next_callable(dialled, self._campaign, history, self._inventory, self._blocked,
                            self._now, self._rules)
        return Answer(False, tuple(verdict.codes), nxt.at)
