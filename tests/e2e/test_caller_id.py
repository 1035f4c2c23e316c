"""Caller-ID presentation on the wire (R-F, R-G1), with the real Asterisk and SIPp."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request

import asyncpg
import pytest

from lab.sipp import agent_call
from tests.e2e.conftest import decisions_for, denials, fresh_number, wait_for

pytestmark = pytest.mark.e2e


def test_rewritten_number_in_from_and_pai_without_privacy(guard, carrier, seeded, tmp_path):
    national, e164 = fresh_number()
    # The softphone asks to show a number the principal does not hold, and to hide it.
    headers = {"P-Asserted-Identity": "<sip:0145678999@127.0.0.1>", "Privacy": "id"}
    assert agent_call(tmp_path, national, agent="agent1", headers=headers).ok
    (invite,) = carrier.invites_to(e164)
    assert "<sip:+33162123456@" in invite.headers["from"]
    assert "<sip:+33162123456@" in invite.headers["p-asserted-identity"]
    assert "privacy" not in invite.headers and "anonymous" not in invite.headers["from"]
    row = decisions_for(seeded, e164)[0]
    assert row["decision"] == "allow"
    assert row["caller_id_requested"] == "0145678999" and row["caller_id"] == "+33162123456"
    assert "CALLER_ID_NOT_AUTHORISED" in row["reason_codes"]  # kept as evidence of the rewrite
    assert denials(row) == []


def test_refused_presentation_never_reaches_the_carrier(guard, carrier, seeded, tmp_path):
    national, e164 = fresh_number()
    headers = {"P-Asserted-Identity": "<sip:0145678999@127.0.0.1>"}
    assert agent_call(tmp_path, national, agent="agent4", headers=headers, expect=403).ok
    assert carrier.invites_to(e164) == []
    row = decisions_for(seeded, e164)[0]
    assert denials(row) == ["CALLER_ID_NOT_AUTHORISED"]
    assert row["campaign"] == "e2e-strict"


def test_held_number_asked_by_the_phone_is_presented(guard, carrier, seeded, tmp_path):
    national, e164 = fresh_number()
    headers = {"P-Asserted-Identity": "<sip:+33162123457@127.0.0.1>"}
    assert agent_call(tmp_path, national, agent="agent4", headers=headers).ok
    assert "<sip:+33162123457@" in carrier.invites_to(e164)[0].headers["from"]


def alerts(url: str) -> list[dict]:
    async def fetch():
        conn = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await conn.fetch("SELECT * FROM caller_id_alerts")]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_carrier_declining_again_and_again_raises_call_blocked_by_network(
        guard_factory, declining_carrier, seeded, tmp_path):
    guard_factory(ASTGUARD_NETWORK_REFUSAL_THRESHOLD="3").start()
    for _ in range(3):
        national, e164 = fresh_number(prefix="0756")
        result = agent_call(tmp_path, national, agent="agent2", expect=403, early_media=False)
        assert result.ok, result.messages[-1500:]
        assert len(declining_carrier.invites_to(e164)) == 1
        wait_for(lambda e=e164: decisions_for(seeded, e)[0]["outcome_at"],
                 what="the declined call's outcome")
    (alert,) = wait_for(lambda: alerts(seeded), what="CALL_BLOCKED_BY_NETWORK")
    assert alert["caller_id"] == "+33162123456" and alert["refusals"] == 3
    metrics = urllib.request.urlopen("http://127.0.0.1:8090/metrics", timeout=5).read().decode()
    assert "astguard_caller_id_blocked_by_network_total 1" in metrics
    assert "astguard_ari_connected 1" in metrics
    # The next decisions presenting that number carry the warning (the call is not refused:
    # a person takes the number out of service).
    try:
        national, e164 = fresh_number(prefix="0756")
        agent_call(tmp_path, national, agent="agent2", expect=403, early_media=False)
        row = decisions_for(seeded, e164)[0]
        assert "CALL_BLOCKED_BY_NETWORK" in row["reason_codes"] and row["decision"] == "allow"
    finally:
        # A person takes the number out of service, or clears the alert.
        done = subprocess.run(
            [sys.executable, "-m", "astguard", "callerid", "clear", "+33162123456", "--by",
             "e2e"], env={**os.environ, "ASTGUARD_DATABASE_URL": seeded}, text=True,
            capture_output=True, timeout=60)
        assert done.returncode == 0 and "1 alerte" in done.stdout, done.stderr
    assert all(a["cleared_by"] == "e2e" for a in alerts(seeded))
