"""Reading STREAM FILE's reply for the outbound announcement (the e2e tests play real ones)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from panoramisk.utils import parse_agi_result

from astguard.app.recording import RecordingService
from astguard.clock import PinnedClock
from astguard.store.inbound import InboundStore
from astguard.telephony.outbound_recording import (
    OutboundRecordingAgi,
    _playback_state,
    _valid_uuid,
)


@pytest.mark.parametrize(("line", "expected"), [
    ("200 result=0 endpos=61440", ("done", None)),
    ("200 result=49 endpos=16000", ("objected", "1")),
    ("200 result=35 endpos=800", ("objected", "#")),
    ("200 result=0 endpos=0", ("failed", None)),  # nothing could be played
    ("200 result=-1 endpos=0", ("hangup", None)),  # hang-up, or a missing file: checked next
    ("511 Command Not Permitted on a dead channel", ("hangup", None)),
])
def test_playback_state(line, expected):
    assert _playback_state(parse_agi_result(line)) == expected


def test_agi_transport_error_is_a_failed_playback():
    assert _playback_state({"error": "no reply from Asterisk in time"}) == ("failed", None)


@pytest.mark.parametrize(("text", "ok"), [("6d2c5f38-6c3f-4d8c-9a0e-0d4f4f1d8a11", True),
                                          ("", False), ("'; DROP TABLE x", False)])
def test_decision_ids_are_checked_before_any_query(text, ok):
    assert _valid_uuid(text) is ok


class StreamingRequest:
    """A FastAGI request as the announcement sees it: STREAM FILE answers `reply`."""

    def __init__(self, reply: str) -> None:
        self.timeout = 5.0
        self.reply = reply
        self.commands: list[str] = []

    async def send_command(self, command: str) -> dict:
        self.commands.append(command)
        return parse_agi_result(self.reply if command.startswith("STREAM FILE") else
                                "200 result=1")


PINNED = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)


@pytest.mark.db
@pytest.mark.parametrize(("reply", "draw", "reason"), [
    ("200 result=0 endpos=61440", 10.0, "hors échantillon"),  # played, out of the sample
    ("200 result=0 endpos=0", 0.0, "RECORDING_NOT_ANNOUNCED"),  # not played (R-I1)
    ("200 result=49 endpos=800", 0.0, "RECORDING_OBJECTED"),  # the key (R-I2)
])
async def test_the_outbound_announcement_decides_by_the_core_at_the_clocks_time(
        db, reply, draw, reason):
    store = InboundStore(db)
    recording = RecordingService(store, PinnedClock(PINNED), draw=lambda: draw)
    policy = await recording.set_policy(f"+3316212{uuid.uuid4().int % 10**4:04d}", "sampled",
                                        sample_percent=10)
    call_id = str(uuid.uuid4())
    await recording.start_call(call_id, channel_id="cons-1", did=policy.did,
                               caller="+33612345678", at=recording.now(), policy=policy,
                               prompt_sha256=None, direction="outbound")
    agi = OutboundRecordingAgi(recording, None, None)  # type: ignore[arg-type]
    request = StreamingRequest(reply)
    await agi._announce_then_record(request, call_id, policy,  # type: ignore[arg-type]
                                    "cons-1", "PJSIP/carrier-1", "agent-1")
    assert request.commands[0] == 'STREAM FILE astguard/annonce-enregistrement "1"'
    evidence = await store.call_evidence(call_id)
    assert evidence["call"]["started_at"] == PINNED and evidence["recording"] is None
    assert {e["at"] for e in evidence["events"]} == {PINNED}
    assert [e["detail"]["reason"] for e in evidence["events"]
            if e["kind"] == "not_recorded"] == [reason]
