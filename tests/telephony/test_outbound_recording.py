"""Reading STREAM FILE's reply for the outbound announcement (the e2e tests play real ones)."""

from __future__ import annotations

import pytest
from panoramisk.utils import parse_agi_result

from astguard.telephony.outbound_recording import _playback_state, _valid_uuid


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
