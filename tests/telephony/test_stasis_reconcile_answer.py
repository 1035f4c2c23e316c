"""A call answered while the ARI websocket was down is never recorded as not answered
(found by review, issue 14)."""
from __future__ import annotations

import asyncio
import contextlib

from astguard.telephony.stasis import OutboundStasisApp
from tests.telephony.test_stasis import RecordingGate, env, stasis_start  # noqa: F401


async def test_call_answered_during_ws_outage_is_not_recorded_as_unanswered(env):  # noqa: F811
    fake, ari = env
    gate = RecordingGate()
    app = OutboundStasisApp(ari, gate)
    runner = asyncio.create_task(ari.run(app.handle))
    try:
        await fake.wait_connects(1)
        app.handle(stasis_start("ch7", "0612345678", "agent1", "", "", ""))
        await app.drain()
        await fake.drop()  # websocket down: the Dial ANSWER and ChannelStateChange Up are lost
        await fake.wait_connects(2)
        await asyncio.sleep(0.2)
        await app.drain()
        # the channel is alive (GET /channels/ch7 answers), re-subscribed; then it ends normally
        app.handle({"type": "ChannelDestroyed", "channel": {"id": "ch7"}, "cause": 16,
                    "cause_txt": "Normal Clearing",
                    "timestamp": "2026-11-27T10:05:00.000+0000"})
        await app.drain()
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    (_, outcome), = gate.outcomes
    # The call was answered during the outage (astguard cannot know): the evidence must not
    # say "not answered" with certainty (answered is a bool, False is a claim).
    assert outcome.answered is not False, outcome
