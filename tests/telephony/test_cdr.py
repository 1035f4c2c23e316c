"""Which of Asterisk's call records are trunk calls (records shaped as the lab's Asterisk 22
writes them through docker/lab/asterisk/cdr_custom.conf)."""

from __future__ import annotations

import json

import pytest

from astguard.errors import InputError
from astguard.telephony.cdr import read_records, trunk_calls

TRUNKS = frozenset({"carrier"})


def record(**fields) -> dict:
    base = {"start": 1795683876.4, "answer": 0.0, "end": 1795683877.4, "channel": "",
            "dstchannel": "", "src": "", "dst": "", "dcontext": "", "lastapp": "",
            "lastdata": "", "disposition": "NO ANSWER", "uniqueid": "1.1", "linkedid": "1.1",
            "sequence": 0, "astguard_token": ""}
    return {**base, **fields}


GUARDED = record(channel="PJSIP/agent1-00000003", dstchannel="PJSIP/carrier-00000004",
                 dst="+33612032004", dcontext="astguard-trunk", lastapp="Dial",
                 lastdata="PJSIP/+33612032004@carrier,30,U(astguard-outbound-record^x)",
                 astguard_token="tok")
UNGUARDED_CONTEXT = record(channel="Local/0612032003@lab-unguarded-00000000;2",
                           dstchannel="PJSIP/carrier-00000002", dst="0612032003",
                           dcontext="lab-unguarded", lastapp="Dial",
                           lastdata="PJSIP/0612032003@carrier,30", linkedid="2.2")
ORIGINATED = record(channel="PJSIP/carrier-00000000", dst="s", dcontext="from-carrier",
                    lastapp="AppDial2", lastdata="(Outgoing Line)", linkedid="3.3")
ORIGINATED_ANSWERED = record(channel="PJSIP/carrier-0000000c", dst="s",
                             dcontext="lab-dialer-agent", lastapp="Hangup",
                             disposition="ANSWERED", linkedid="4.4")
INBOUND = record(channel="PJSIP/carrier-00000010", src="0612999999", dst="0170000001",
                 dcontext="from-carrier", lastapp="Hangup", linkedid="5.5")
OTHER_TRUNK = record(channel="PJSIP/agent1-00000011", dstchannel="PJSIP/desk-00000012",
                     dst="desk", lastapp="Dial", lastdata="PJSIP/desk@desk,30", linkedid="6.6")


def test_dialled_and_originated_trunk_calls_are_found_inbound_ones_are_not():
    calls = trunk_calls([GUARDED, UNGUARDED_CONTEXT, ORIGINATED, INBOUND, OTHER_TRUNK],
                        TRUNKS, frozenset())
    assert [(c.trunk_channel, c.number, c.via) for c in calls] == [
        ("PJSIP/carrier-00000004", "+33612032004", "PJSIP/agent1-00000003"),
        ("PJSIP/carrier-00000002", "0612032003", "Local/0612032003@lab-unguarded-00000000;2"),
        ("PJSIP/carrier-00000000", "", "origination directe"),
    ]
    assert calls[0].token == "tok" and calls[1].token == ""


def test_an_answered_origination_needs_the_inbound_contexts_to_be_told():
    without = trunk_calls([ORIGINATED_ANSWERED, INBOUND], TRUNKS, frozenset())
    assert without == []
    told = trunk_calls([ORIGINATED_ANSWERED, INBOUND], TRUNKS, frozenset({"from-carrier"}))
    assert [c.trunk_channel for c in told] == ["PJSIP/carrier-0000000c"]


def test_one_trunk_channel_in_several_records_counts_once():
    calls = trunk_calls([UNGUARDED_CONTEXT, {**UNGUARDED_CONTEXT, "start": 1795683877.0}],
                        TRUNKS, frozenset())
    assert len(calls) == 1


def test_records_file(tmp_path):
    path = tmp_path / "cdr.json"
    path.write_text(json.dumps(GUARDED) + "\n" + json.dumps(ORIGINATED) + "\n{\"start\": 1")
    assert len(read_records(path)) == 2  # a last line still being written is skipped
    path.write_text(json.dumps(GUARDED) + "\nnot json\n" + json.dumps(ORIGINATED) + "\n")
    with pytest.raises(InputError, match="ligne 2"):
        read_records(path)
    with pytest.raises(InputError, match="illisible"):
        read_records(tmp_path / "missing.json")
