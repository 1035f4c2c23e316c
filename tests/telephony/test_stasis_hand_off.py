"""An allowed call whose hand-off ARI did not confirm is never forgotten (issue 14's soak: "1 of
86 allowed calls without its outcome; the ARI POST variable timed out at that moment").

A request that times out on astguard's side may still have been applied by Asterisk: the
verdict reached the channel, the call goes to the trunk, and its end must be recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import pytest

from astguard.telephony.ari import AriClient
from astguard.telephony.call_token import CallTokens
from astguard.telephony.stasis import (
    HUNG_UP_DURING_DECISION,
    LOST_END,
    LOST_HAND_OFF,
    NOT_HANDED_OFF,
    OutboundStasisApp,
)
from astguard.values import NOT_DIALLED
from tests.telephony.fake_ari import FakeAri, Seen
from tests.telephony.test_stasis import RecordingGate, stasis_start

TIMEOUT = 0.2  # the client's request timeout; the fake answers late requests after LATE
LATE = 0.5


@pytest.fixture
async def env():
    fake = FakeAri()
    await fake.start()
    async with aiohttp.ClientSession() as session:
        ari = AriClient(session, fake.url, "astguard", "secret", "astguard",
                        request_timeout=TIMEOUT)
        yield fake, ari
        await asyncio.sleep(LATE)  # let the late answers go before the session closes
    await fake.stop()


def late(predicate):
    return lambda seen: LATE if predicate(seen) else 0.0


def result_request(seen: Seen) -> bool:
    return seen.path.endswith("/variable") and seen.query.get("variable") == "ASTGUARD_RESULT"


def subscription(seen: Seen) -> bool:
    return seen.path.endswith("/subscription")


def dial_and_end(app: OutboundStasisApp, channel_id: str) -> None:
    app.handle({"type": "Dial", "caller": {"id": channel_id}, "dialstatus": "ANSWER"})
    app.handle({"type": "ChannelStateChange", "channel": {"id": channel_id, "state": "Up"},
                "timestamp": "2026-11-27T10:00:01.000+0000"})
    app.handle({"type": "ChannelDestroyed", "channel": {"id": channel_id}, "cause": 16,
                "cause_txt": "Normal Clearing", "timestamp": "2026-11-27T10:00:31.500+0000"})


async def test_a_verdict_applied_late_still_gets_its_calls_outcome(env):
    # POST variable times out on astguard's side, but Asterisk applied it: the call dials
    # and ends. The subscription went through: its events arrive and give the outcome.
    fake, ari = env
    fake.delay_for = late(result_request)
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    app.handle(stasis_start("chA", "0612345678", "agent1", "", "", ""))
    await app.drain()
    assert any(result_request(r) for r in fake.requests)  # it did reach "Asterisk"
    assert fake.paths()[-1] == "/channels/chA/continue"
    dial_and_end(app, "chA")
    await app.drain()
    (decision_id, outcome), = gate.outcomes
    assert decision_id == "dec-1" and gate.unobserved == []
    assert outcome.answered is True and outcome.dial_status == "ANSWER"
    assert outcome.hangup_cause == 16 and outcome.duration_s == 30.5
    assert app.followed == 0


async def test_a_subscription_that_timed_out_is_made_again_then_the_outcome_follows(env):
    fake, ari = env
    fake.delay_for = late(lambda seen: result_request(seen) or subscription(seen))
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    app.handle(stasis_start("chB", "0612345678", "agent1", "", "", ""))
    await app.drain()
    assert app.followed == 1 and gate.outcomes == []
    fake.delay_for = None  # ARI answers again: the next look subscribes, which confirms
    assert await app.confirm_channels() == 0
    subscriptions = [r for r in fake.requests if subscription(r)
                     and r.query.get("eventSource") == "channel:chB"]
    assert len(subscriptions) == 2
    assert await app.confirm_channels() == 0
    assert len([r for r in fake.requests if subscription(r)]) == 2  # confirmed: not again
    app.handle({"type": "ChannelDestroyed", "channel": {"id": "chB"}, "cause": 16,
                "cause_txt": "Normal Clearing", "timestamp": "2026-11-27T10:00:31.500+0000"})
    await app.drain()
    (_, outcome), = gate.outcomes
    assert outcome.hangup_cause == 16
    assert outcome.answered is None  # its events before the subscription may be lost


async def test_an_unsubscribed_call_that_ended_gets_an_honest_outcome(env):
    # Nothing of the call was seen (no subscription): when the channel is found gone, its
    # outcome says so instead of being missing for ever.
    fake, ari = env
    fake.delay_for = late(lambda seen: result_request(seen) or subscription(seen))
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    fake.fail_paths = {"/channels/chC"}  # GET: the call is over when astguard asks (404)
    ari.connected.set()  # as when the websocket is up
    follower = asyncio.create_task(app.follow_unconfirmed_forever(interval=0.05))
    try:
        app.handle(stasis_start("chC", "0612345678", "agent1", "", "", ""))
        await app.drain()
        async with asyncio.timeout(5):
            while not gate.outcomes:
                await asyncio.sleep(0.01)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    (decision_id, outcome), = gate.outcomes
    assert decision_id == "dec-1" and gate.unobserved == ["dec-1"]
    assert outcome.answered is None and outcome.hangup_cause is None
    assert outcome.hangup_cause_text == LOST_HAND_OFF
    assert app.followed == 0


async def test_at_shutdown_an_unconfirmed_call_that_ended_is_settled_a_live_one_left(env):
    fake, ari = env
    fake.delay_for = late(subscription)
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    for channel in ("chEnded", "chLive"):
        app.handle(stasis_start(channel, "0612345678", "agent1", "", "", ""))
    await app.drain()
    fake.delay_for = None
    fake.fail_paths = {"/channels/chEnded"}
    seen_before = len(fake.requests)
    assert await app.settle_ended() == 1
    assert [d for d in gate.unobserved] == ["dec-1"] and app.followed == 1
    assert not any(subscription(r) for r in fake.requests[seen_before:])


async def test_a_token_that_could_not_be_set_means_the_call_was_not_dialled(env):
    fake, ari = env
    fake.delay_for = late(lambda seen: seen.query.get("variable") == "__ASTGUARD_TOKEN")
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate, CallTokens("s" * 40, 300))
    app.handle(stasis_start("chD", "0612345678", "agent1", "", "", ""))
    await app.drain()
    # No verdict was set: the dialplan refuses the call. Its allow has its outcome now.
    assert not any(result_request(r) for r in fake.requests)
    (decision_id, outcome), = gate.outcomes
    assert outcome.answered is False and outcome.dial_status == NOT_DIALLED
    assert outcome.hangup_cause_text == NOT_HANDED_OFF and app.followed == 0


async def test_a_caller_who_hung_up_during_the_decision_was_not_dialled(env):
    fake, ari = env
    fake.fail_paths = {"/channels/chE/variable"}  # 404: the channel is gone
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    app.handle(stasis_start("chE", "0612345678", "agent1", "", "", ""))
    await app.drain()
    (_, outcome), = gate.outcomes
    assert outcome.dial_status == NOT_DIALLED and outcome.answered is False
    assert outcome.hangup_cause_text == HUNG_UP_DURING_DECISION and app.followed == 0


async def test_a_channel_not_reconciled_after_a_reconnection_is_looked_at_again(env):
    # Back from a websocket outage, ARI does not answer in time for one channel: it is not
    # left followed for ever without a subscription; the next look settles it.
    fake, ari = env
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    app.handle(stasis_start("chF", "0612345678", "agent1", "", "", ""))
    await app.drain()
    fake.delay_for = late(lambda seen: seen.path == "/channels/chF")
    app.handle({"type": "AstguardConnected", "connection": 2})
    await app.drain()
    assert gate.outcomes == [] and app.followed == 1
    fake.delay_for = None
    fake.fail_paths = {"/channels/chF"}  # it ended during the outage
    assert await app.confirm_channels() == 1
    (_, outcome), = gate.outcomes
    assert outcome.hangup_cause_text == LOST_END and gate.unobserved == ["dec-1"]


class ExplodingGate(RecordingGate):
    async def outcome(self, decision_id: str, outcome: object, *,
                      observed: bool = True) -> None:
        raise RuntimeError("outcome exploded")


async def test_a_failure_in_a_spawned_task_is_logged_not_swallowed(env, caplog):
    fake, ari = env
    app = OutboundStasisApp(ari, ExplodingGate())
    app.handle(stasis_start("chG", "0612345678", "agent1", "", "", ""))
    await app.drain()
    with caplog.at_level(logging.ERROR, logger="astguard.telephony.stasis"):
        dial_and_end(app, "chG")
        await app.drain()
        await asyncio.sleep(0)
    failed = [r for r in caplog.records if r.exc_info and "outcome exploded" in
              str(r.exc_info[1])]
    assert failed, caplog.records
