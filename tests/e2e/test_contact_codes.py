"""Agents record refusals from their softphone, on the real Asterisk: the in-call feature code
(DTMF over SIP INFO) and the after-call short codes; the next call is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.telephony.contract import KEPT_CODES_FAMILY
from lab.sipp import agent_call
from tests.e2e.conftest import OPEN, decisions_for, fresh_number, wait_for

pytestmark = pytest.mark.e2e


def blocks_for(url: str, e164: str) -> list[dict]:
    import asyncio

    import asyncpg

    async def fetch():
        conn = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await conn.fetch(
                "SELECT * FROM contact_blocks WHERE number_e164 = $1", e164)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def asterisk_log(lab) -> str:
    return (lab.logdir / "asterisk.log").read_text(errors="replace")


def test_in_call_feature_code_records_a_refusal(guard, carrier, seeded, lab, tmp_path):
    national, e164 = fresh_number()
    result = agent_call(tmp_path, national, agent="agent1", dtmf="*81", hold_ms=3500)
    assert result.ok, result.messages[-1500:]
    (block,) = wait_for(lambda: blocks_for(seeded, e164), what="the refusal")
    # From 2026-08-11 a refusal is a lasting objection (rules-fr R-D7, 2026-11-26).
    assert block["kind"] == "opposition" and block["source"] == "dtmf"
    assert block["until_day"] is None
    assert block["agent"] == "agent1"
    assert "Playing 'astguard/enregistre-refus" in asterisk_log(lab)
    # The next call to this consumer is refused, and the agent hears why.
    assert agent_call(tmp_path, national, agent="agent1", expect=403).ok
    last = decisions_for(seeded, e164)[-1]
    assert "CONSUMER_OPPOSED" in last["reason_codes"]
    assert "CONSENT_WITHDRAWN" in last["reason_codes"]  # the refusal withdrew the consent
    assert len(carrier.invites_to(e164)) == 1


def test_after_call_short_code_records_a_refusal(guard, carrier, seeded, lab, tmp_path):
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="agent2").ok
    assert agent_call(tmp_path, "*81", agent="agent2").ok  # right after the call
    (block,) = wait_for(lambda: blocks_for(seeded, e164), what="the refusal")
    assert block["kind"] == "opposition" and block["source"] == "short-code"
    assert agent_call(tmp_path, national, agent="agent2", expect=403).ok
    assert "CONSUMER_OPPOSED" in decisions_for(seeded, e164)[-1]["reason_codes"]


def test_after_call_suspension_code(guard, carrier, seeded, tmp_path):
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="agent3").ok
    assert agent_call(tmp_path, "*8330", agent="agent3").ok
    (block,) = wait_for(lambda: blocks_for(seeded, e164), what="the suspension")
    assert block["kind"] == "suspension"
    assert (block["until_day"] - block["local_day"]).days == 30


def test_short_code_without_a_previous_call_says_so(guard, lab, tmp_path):
    assert agent_call(tmp_path, "*82", agent="agent-nocampaign", hold_ms=2500).ok
    wait_for(lambda: "Playing 'astguard/enregistrement-impossible" in asterisk_log(lab),
             what="the failure prompt")


def kept_in_astdb(lab) -> str:
    return lab.cli(f"database show {KEPT_CODES_FAMILY}")


def test_an_in_call_code_keyed_while_astguard_is_down_is_kept_then_written(
        guard_factory, carrier, seeded, lab, tmp_path):
    """Issue 14: astguard is killed during the call, the agent keys *81: the dialplan keeps
    the code in AstDB and confirms it; the next astguard writes it, dated when keyed."""
    from concurrent.futures import ThreadPoolExecutor

    national, e164 = fresh_number()
    first = guard_factory()
    first.start()
    confirmations = asterisk_log(lab).count("Playing 'astguard/enregistre-refus")
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(agent_call, tmp_path, national, agent="agent1", dtmf="*81",
                           dtmf_after_ms=4000, hold_ms=2500)
        wait_for(lambda: carrier.invites_to(e164), what="the allowed call at the carrier")
        assert first.proc is not None
        first.proc.kill()  # kill -9, as the OOM killer would
        first.proc.wait(10)
        result = call.result(timeout=60)
    assert result.ok, result.messages[-1500:]
    assert blocks_for(seeded, e164) == []  # nothing could write it yet
    assert "1 results found" in kept_in_astdb(lab), kept_in_astdb(lab)
    # The agent heard the confirmation all the same: the code is kept on the node.
    assert asterisk_log(lab).count("Playing 'astguard/enregistre-refus") == confirmations + 1
    second = guard_factory()
    second.start()
    (block,) = wait_for(lambda: blocks_for(seeded, e164), timeout=20, what="the kept refusal")
    assert block["kind"] == "opposition" and block["source"] == "dtmf"  # R-D7 (2026-11-26)
    assert block["agent"] == "agent1"
    # Under the lab's pinned clock a kept code is dated from that clock, as its decision is
    # (in real time: from the EPOCH Asterisk kept, tests/telephony/test_kept_codes.py).
    assert block["recorded_at"] == dt.datetime.fromisoformat(OPEN)
    wait_for(lambda: "0 results found" in kept_in_astdb(lab), what="the AstDB key deleted")
    assert agent_call(tmp_path, national, agent="agent1", expect=403).ok
    assert "CONSUMER_OPPOSED" in decisions_for(seeded, e164)[-1]["reason_codes"]
    assert len(carrier.invites_to(e164)) == 1


def test_an_after_call_code_dialled_while_astguard_is_down_is_kept_then_written(
        guard_factory, carrier, seeded, lab, tmp_path):
    national, e164 = fresh_number()
    first = guard_factory()
    first.start()
    assert agent_call(tmp_path, national, agent="agent2").ok
    first.stop()
    assert agent_call(tmp_path, "*8330", agent="agent2").ok  # suspension, 30 days
    assert "1 results found" in kept_in_astdb(lab), kept_in_astdb(lab)
    second = guard_factory()
    second.start()
    (block,) = wait_for(lambda: blocks_for(seeded, e164), timeout=20, what="the suspension")
    assert block["kind"] == "suspension" and block["source"] == "short-code"
    assert (block["until_day"] - block["local_day"]).days == 30
    wait_for(lambda: "0 results found" in kept_in_astdb(lab), what="the AstDB key deleted")
