"""FastAGI with a real Asterisk: when Asterisk is not an allowed peer, astguard closes the
connection unserved and the dialplan fails closed (issue 11, item 4)."""

from __future__ import annotations

import pytest

from lab.sipp import agent_call
from tests.e2e.conftest import decisions_for, fresh_number, wait_for

pytestmark = pytest.mark.e2e


def test_asterisk_outside_the_allowed_peers_gets_no_verdict(guard_factory, carrier, seeded,
                                                            tmp_path):
    guard = guard_factory(ASTGUARD_AGI_ALLOWED_PEERS="192.0.2.1/32")
    guard.start()
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="agi-agent1", expect=503).ok
    assert carrier.invites_to(e164) == []
    assert decisions_for(seeded, e164) == []
    wait_for(lambda: "not in ASTGUARD_AGI_ALLOWED_PEERS" in guard.text(),
             what="the refusal in astguard's log")
