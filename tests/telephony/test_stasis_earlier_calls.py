"""Outcomes a previous run of astguard lost (issue 14's soak: kill -9 during calls, and the
spool's disk full while PostgreSQL was away): found at start and settled, against the fake ARI."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

from astguard.telephony.stasis import LOST_BY_RESTART, LOST_UNFOLLOWED, OutboundStasisApp
from astguard.values import OpenOutcome
from tests.telephony.test_stasis import RecordingGate, env  # noqa: F401 (fixture)

BEFORE = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
EARLIER = BEFORE - dt.timedelta(minutes=5)
THIS_RUN = BEFORE + dt.timedelta(minutes=5)


class EarlierCallsGate(RecordingGate):
    """A gate whose store holds allowed decisions of this node without an outcome; it answers
    open_outcomes with every one of them (the selection by age is the gate's, tested with
    PostgreSQL in tests/test_gate_lost_outcomes.py)."""

    def __init__(self, open_calls: list[tuple[str, str]], source: str = "ari",
                 decided_at: dt.datetime = EARLIER) -> None:
        super().__init__()
        self.open_calls = open_calls
        self.source = source
        self.decided_at = decided_at
        self.asked: list[dt.datetime] = []
        self.retried = 0

    async def open_outcomes(self, started: dt.datetime,
                            margin: dt.timedelta) -> list[OpenOutcome]:
        self.asked.append(started)
        done = {d for d, _ in self.outcomes}
        return [OpenOutcome(d, c, self.source, self.decided_at) for d, c in self.open_calls
                if d not in done]

    async def retry_unsaved_outcomes(self) -> int:
        self.retried += 1
        return 0


async def test_an_ended_call_of_an_earlier_run_gets_an_honest_outcome(env):  # noqa: F811
    fake, ari = env
    fake.channels = [{"id": "ch-live", "state": "Ring"}]  # ch-gone ended meanwhile
    gate = EarlierCallsGate([("dec-gone", "ch-gone"), ("dec-live", "ch-live")])
    app = OutboundStasisApp(ari, gate)
    assert await app.reconcile_earlier(BEFORE) == 1
    assert gate.asked == [BEFORE] and gate.retried == 1
    (decision_id, outcome), = gate.outcomes
    assert decision_id == "dec-gone" and outcome.answered is None
    assert gate.unobserved == ["dec-gone"]  # gives way to a real outcome waiting elsewhere
    assert outcome.hangup_cause is None and outcome.hangup_cause_text == LOST_BY_RESTART
    # The live one is followed from now on: its end gives its outcome.
    assert app.followed == 1
    assert ("POST", "/applications/astguard/subscription") in [
        (r.method, r.path) for r in fake.requests if r.query.get("eventSource") ==
        "channel:ch-live"]
    app.handle({"type": "ChannelDestroyed", "channel": {"id": "ch-live"}, "cause": 16,
                "cause_txt": "Normal Clearing", "timestamp": "2026-11-27T10:00:31.500+0000"})
    await app.drain()
    assert [d for d, _ in gate.outcomes] == ["dec-gone", "dec-live"]
    assert gate.outcomes[1][1].hangup_cause == 16
    assert gate.outcomes[1][1].answered is None  # not seen answered: unknown, not "no"
    # A second look settles nothing twice and does not follow the live call twice.
    assert await app.reconcile_earlier(BEFORE) == 0
    assert app.followed == 0


async def test_a_fastagi_call_of_this_run_that_ended_unreported_is_settled(env):  # noqa: F811
    # Its hangup handler never reached astguard: nobody else will write its outcome.
    fake, ari = env
    fake.channels = [{"id": "agi-other", "state": "Up"}]  # agi-gone is not among them
    gate = EarlierCallsGate([("dec-agi", "agi-gone")], source="agi", decided_at=THIS_RUN)
    app = OutboundStasisApp(ari, gate)
    assert await app.reconcile_earlier(BEFORE) == 1
    (decision_id, outcome), = gate.outcomes
    assert decision_id == "dec-agi" and outcome.hangup_cause_text == LOST_UNFOLLOWED
    assert gate.unobserved == ["dec-agi"]


async def test_a_live_fastagi_call_is_left_to_its_hangup_handler(env):  # noqa: F811
    # Following it over ARI as well would give it two outcomes (the hangup handler's first,
    # then ChannelDestroyed's, which PostgreSQL refuses and the spool sets aside).
    fake, ari = env
    fake.channels = [{"id": "agi-live", "state": "Up"}]
    gate = EarlierCallsGate([("dec-agi", "agi-live")], source="agi")
    app = OutboundStasisApp(ari, gate)
    assert await app.reconcile_earlier(BEFORE) == 0
    assert app.followed == 0 and gate.outcomes == []
    assert "/applications/astguard/subscription" not in fake.paths()


async def test_outcomes_kept_in_memory_are_retried_while_ari_is_away(env):  # noqa: F811
    # They need PostgreSQL, not ARI: a long ARI outage must not keep them in memory only.
    fake, ari = env
    gate = EarlierCallsGate([])
    app = OutboundStasisApp(ari, gate)
    assert not ari.connected.is_set()
    loop = asyncio.create_task(app.reconcile_earlier_forever(BEFORE, interval=0.05))
    try:
        async with asyncio.timeout(2):
            while gate.retried < 2:
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert gate.asked == []  # no reconciliation without ARI


async def test_at_shutdown_outcomes_kept_in_memory_are_tried_once_more(env):  # noqa: F811
    fake, ari = env
    gate = EarlierCallsGate([])
    assert await OutboundStasisApp(ari, gate).settle_ended() == 0
    assert gate.retried == 1


async def test_an_unreadable_channel_list_settles_nothing(env):  # noqa: F811
    # ARI answering something else than a list must not pass for "every call ended".
    fake, ari = env
    gate = EarlierCallsGate([("dec-live", "ch-live")])
    app = OutboundStasisApp(ari, gate)
    fake.fail_paths = {"/channels"}  # 404 on the list
    assert await app.reconcile_earlier(BEFORE) == 0
    fake.fail_paths = set()

    async def not_a_list(*args, **kwargs):
        return {"message": "surprise"}

    ari.request = not_a_list
    assert await app.reconcile_earlier(BEFORE) == 0
    assert gate.outcomes == [] and app.followed == 0


async def test_one_request_lists_the_channels_of_every_open_call(env):  # noqa: F811
    fake, ari = env
    fake.channels = [{"id": f"agi-{n}", "state": "Up"} for n in range(50)]
    gate = EarlierCallsGate([(f"dec-{n}", f"agi-{n}") for n in range(50)], source="agi")
    assert await OutboundStasisApp(ari, gate).reconcile_earlier(BEFORE) == 0
    assert fake.paths() == ["/channels"]
