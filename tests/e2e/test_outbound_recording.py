"""Recording outbound calls on the real Asterisk (optional path, same policy as inbound calls,
keyed by the presented number): once the consumer (SIPp, pressing RFC 2833 keys) answers, the
announcement plays to them before the agent is connected; recording starts only after it."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from astguard.store.database import Database
from astguard.store.inbound import InboundStore
from lab.sipp import Carrier, agent_call
from tests.e2e.conftest import (
    OPEN,
    decisions_for,
    fresh_number,
    recording_settings,
    set_recording_policy,
    wait_for,
)
from tests.e2e.test_inbound import ANNOUNCEMENT_MS, kinds

pytestmark = pytest.mark.e2e

PRESENTED = "+33162123459"  # campaign e2e-recorded
RECORDED = {"X-Astguard-Campaign": "e2e-recorded"}


@pytest.fixture
def recording_guard(guard_factory, lab, carrier, seeded):
    set_recording_policy(seeded, PRESENTED)
    # A clock started at an open moment and running (the call window is open; the
    # announcement's length shows in the evidence, dated by that clock).
    g = guard_factory(clock=None, ASTGUARD_CLOCK_START=OPEN, **recording_settings(lab))
    g.start()
    return g


@pytest.fixture
def consumer(lab, tmp_path):
    peers: list[Carrier] = []

    def start(dtmf_at_ms: int | None = None) -> Carrier:
        peer = Carrier(tmp_path / "consumer", port=5086)
        peer.start(consumer=True, consumer_dtmf_at_ms=dtmf_at_ms)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.stop()


def evidence_of(url: str, decision_id) -> dict | None:
    async def fetch():
        db = Database(url)
        try:
            async with db.connection() as conn:
                call_id = await conn.fetchval(
                    "SELECT id FROM inbound_calls WHERE decision_id = $1", decision_id)
            return await InboundStore(db).call_evidence(str(call_id)) if call_id else None
        finally:
            await db.close()

    return asyncio.run(fetch())


def settled(url: str, e164: str, kind: str) -> dict:
    (row,) = wait_for(lambda: decisions_for(url, e164), what="the decision")

    def ready():
        evidence = evidence_of(url, row["id"])
        return evidence if evidence and kind in kinds(evidence) else None

    return wait_for(ready, timeout=15, what=f"the {kind} event")


def test_no_key_records_after_the_full_announcement(recording_guard, consumer, seeded,
                                                    tmp_path):
    consumer()
    national, e164 = fresh_number(prefix="0777")
    result = agent_call(tmp_path, national, headers=RECORDED, hold_ms=2500, timeout=40)
    assert result.ok, result.messages[-1500:]
    evidence = settled(seeded, e164, "hangup")
    call = evidence["call"]
    opened = dt.datetime.fromisoformat(OPEN)
    assert opened <= call["started_at"] < opened + dt.timedelta(minutes=15)  # astguard's clock
    assert call["clock_mode"] == "started"
    assert call["direction"] == "outbound" and call["did"] == PRESENTED
    assert call["caller"] == e164 and len(call["prompt_sha256"]) == 64
    events = {e["kind"]: e for e in evidence["events"]}
    assert events["playback_finished"]["detail"]["state"] == "done"
    recording = evidence["recording"]
    assert recording["started_at"] >= events["playback_finished"]["at"]
    assert (events["playback_finished"]["at"] - events["playback_started"]["at"]
            ).total_seconds() > ANNOUNCEMENT_MS / 1000 - 1
    file = Path(recording["file"])
    wait_for(lambda: file.exists() and file.stat().st_size > 44, what="the recording file")


def test_key_during_the_announcement_means_no_recording_and_the_call_goes_on(
        recording_guard, consumer, seeded, tmp_path):
    consumer(dtmf_at_ms=2000)
    national, e164 = fresh_number(prefix="0777")
    result = agent_call(tmp_path, national, headers=RECORDED, hold_ms=1500, timeout=40)
    assert result.ok, result.messages[-1500:]  # the agent was connected and hung up normally
    evidence = settled(seeded, e164, "not_recorded")
    assert evidence["recording"] is None
    keys = [e["detail"] for e in evidence["events"] if e["kind"] == "key"]
    assert keys == [{"digit": "1", "during": "announcement"}]
    reasons = [e["detail"]["reason"] for e in evidence["events"] if e["kind"] == "not_recorded"]
    assert reasons == ["RECORDING_OBJECTED"]


def test_key_mid_call_stops_and_deletes_the_recording(recording_guard, consumer, seeded,
                                                      tmp_path):
    consumer(dtmf_at_ms=ANNOUNCEMENT_MS + 1500)
    national, e164 = fresh_number(prefix="0777")
    result = agent_call(tmp_path, national, headers=RECORDED, hold_ms=4000, timeout=40)
    assert result.ok, result.messages[-1500:]
    evidence = settled(seeded, e164, "file_removal")
    found = kinds(evidence)
    assert found.index("recording_started") < found.index("objection") \
        < found.index("recording_deleted")
    assert not Path(evidence["recording"]["file"]).exists()


def test_a_number_without_policy_is_neither_announced_nor_recorded(
        recording_guard, consumer, seeded, tmp_path):
    consumer()
    national, e164 = fresh_number(prefix="0777")
    result = agent_call(tmp_path, national, hold_ms=500)  # e2e-prospect: no policy
    assert result.ok, result.messages[-1500:]
    (row,) = wait_for(lambda: decisions_for(seeded, e164), what="the decision")
    assert row["decision"] == "allow"
    assert evidence_of(seeded, row["id"]) is None


def test_astguard_unreachable_at_answer_means_no_recording_but_the_call_goes_on(
        guard_factory, lab, carrier, consumer, seeded, tmp_path):
    """FastAGI off: the subroutine's AGI() cannot connect; the consumer is still connected."""
    set_recording_policy(seeded, PRESENTED)
    guard_factory(ASTGUARD_AGI_ENABLED="false").start()
    consumer()
    national, e164 = fresh_number(prefix="0777")
    result = agent_call(tmp_path, national, headers=RECORDED, hold_ms=1000, timeout=40)
    assert result.ok, result.messages[-1500:]
    (row,) = wait_for(lambda: decisions_for(seeded, e164), what="the decision")
    assert row["decision"] == "allow" and evidence_of(seeded, row["id"]) is None
    row = wait_for(lambda: decisions_for(seeded, e164)[0]["outcome_at"]
                   and decisions_for(seeded, e164)[0], what="the outcome")
    assert row["answered"] is True
