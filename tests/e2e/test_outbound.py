"""Outbound calls through the real Asterisk: SIPp softphones and carrier, astguard deciding."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest
from panoramisk import Manager

from lab.asterisk import AMI, ARI_PASSWORD, ARI_URL, ARI_USER
from lab.sipp import agent_call
from tests.e2e.conftest import (
    CHRISTMAS,
    SATURDAY,
    decisions_for,
    denials,
    fresh_number,
    wait_for,
)

pytestmark = pytest.mark.e2e


def only_decision(database_url: str, e164: str) -> dict:
    rows = wait_for(lambda: decisions_for(database_url, e164), what=f"a decision for {e164}")
    assert len(rows) == 1, rows
    return rows[0]


def test_allowed_call_reaches_the_carrier_with_the_campaign_caller_id(
        guard, carrier, seeded, tmp_path):
    national, e164 = fresh_number()
    result = agent_call(tmp_path, national, agent="agent1", hold_ms=1000)
    assert result.ok, result.messages[-2000:]
    (invite,) = carrier.invites_to(e164)
    assert "<sip:+33162123456@" in invite.headers["from"]
    assert "<sip:+33162123456@" in invite.headers["p-asserted-identity"]
    assert "privacy" not in invite.headers
    row = only_decision(seeded, e164)
    assert row["decision"] == "allow" and row["source"] == "ari"
    assert row["endpoint"] == "agent1" and row["campaign"] == "e2e-prospect"
    assert row["caller_id"] == "+33162123456" and row["clock_mode"] == "pinned"
    # The outcome is attached to the same record when the call ends.
    row = wait_for(lambda: decisions_for(seeded, e164)[0]["outcome_at"] and
                   decisions_for(seeded, e164)[0], what="the outcome")
    assert row["answered"] is True and row["dial_status"] == "ANSWER"
    assert row["hangup_cause"] == 16 and 0.5 < float(row["duration_s"]) < 10


@pytest.mark.parametrize(
    ("clock", "code", "prompt"),
    [(SATURDAY, "OUTSIDE_CALL_DAYS", "refus-horaires"),
     (CHRISTMAS, "PUBLIC_HOLIDAY", "refus-jour-ferie"),
     ("2026-11-27T20:00:00+01:00", "OUTSIDE_CALL_WINDOW", "refus-horaires")],
)
def test_refused_call_never_reaches_the_carrier_and_the_agent_hears_why(
        guard_factory, carrier, seeded, lab, tmp_path, clock, code, prompt):
    guard_factory(clock=clock).start()
    national, e164 = fresh_number()
    result = agent_call(tmp_path, national, agent="agent2", expect=403)
    assert result.ok, result.messages[-2000:]
    assert result.statuses()[-2:] == [183, 403]  # the prompt as early media, then 403
    assert carrier.invites_to(e164) == []
    row = only_decision(seeded, e164)
    assert row["decision"] == "deny" and code in row["reason_codes"]
    log = (lab.logdir / "asterisk.log").read_text(errors="replace")
    assert f"Playing 'astguard/{prompt}" in log


def test_last_second_of_the_window_is_allowed(guard_factory, carrier, seeded, tmp_path):
    guard_factory(clock="2026-11-27T19:59:59+01:00").start()
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="agent3").ok
    assert len(carrier.invites_to(e164)) == 1


def test_endpoint_without_campaign_is_refused_unclassified(guard, carrier, seeded, tmp_path):
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="agent-nocampaign", expect=403).ok
    assert carrier.invites_to(e164) == []
    assert denials(only_decision(seeded, e164)) == ["PURPOSE_UNCLASSIFIED"]


def test_campaign_header_is_honoured_only_for_allowed_campaigns(
        guard_factory, carrier, seeded, tmp_path):
    guard_factory(clock=SATURDAY).start()
    service, service_e164 = fresh_number()
    assert agent_call(tmp_path, service, agent="agent1",
                      headers={"X-Astguard-Campaign": "e2e-service"}).ok
    row = only_decision(seeded, service_e164)
    assert row["campaign"] == "e2e-service"
    # The softphone's own number is rewritten to the campaign's (R-F2 binds service calls
    # too, rules-fr 2026-11-26): a note, not a refusal.
    assert row["decision"] == "allow" and denials(row) == []
    assert row["reason_codes"] == ["OUT_OF_SCOPE_SERVICE_CALL", "CALLER_ID_NOT_AUTHORISED"]
    assert "<sip:+33145678901@" in carrier.invites_to(service_e164)[0].headers["from"]

    other, other_e164 = fresh_number()
    assert agent_call(tmp_path, other, agent="agent1", expect=403,
                      headers={"X-Astguard-Campaign": "e2e-other"}).ok
    assert carrier.invites_to(other_e164) == []
    row = only_decision(seeded, other_e164)
    # Every failing rule is reported: the campaign is refused, and it is Saturday.
    assert denials(row) == ["PURPOSE_UNCLASSIFIED", "OUTSIDE_CALL_DAYS"]
    assert "non autorisée" in row["classification"]


def test_an_unregistered_phone_cannot_relabel_its_call_as_service(
        guard_factory, carrier, seeded, tmp_path):
    # Saturday: a service call would go out, prospecting may not. A phone astguard was never
    # told about names the service campaign in its header: refused, unclassified (R-A).
    guard_factory(clock=SATURDAY).start()
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="agent-unregistered", expect=403,
                      headers={"X-Astguard-Campaign": "e2e-service"}).ok
    assert carrier.invites_to(e164) == []
    row = only_decision(seeded, e164)
    assert row["endpoint"] == "agent-unregistered" and row["campaign"] is None
    assert denials(row) == ["PURPOSE_UNCLASSIFIED", "OUTSIDE_CALL_DAYS"]
    assert "poste agent-unregistered inconnu" in row["classification"]


def test_invalid_number_is_refused(guard, carrier, seeded, tmp_path):
    assert agent_call(tmp_path, "0612", agent="agent1", expect=403).ok
    rows = wait_for(lambda: decisions_for(seeded, "0612"), what="the decision")
    assert denials(rows[0]) == ["INVALID_NUMBER"]


def test_fastagi_path_decides_the_same_way(guard_factory, carrier, seeded, tmp_path):
    guard_factory().start()
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="agi-agent1", hold_ms=500).ok
    assert "<sip:+33162123456@" in carrier.invites_to(e164)[0].headers["from"]
    row = wait_for(lambda: decisions_for(seeded, e164)[0]["outcome_at"] and
                   decisions_for(seeded, e164)[0], what="the outcome over FastAGI")
    assert row["source"] == "agi" and row["answered"] is True


def test_fastagi_refusal(guard_factory, carrier, seeded, tmp_path):
    guard_factory(clock=SATURDAY).start()
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="agi-agent1", expect=403).ok
    assert carrier.invites_to(e164) == []
    row = only_decision(seeded, e164)
    assert row["source"] == "agi" and denials(row) == ["OUTSIDE_CALL_DAYS"]


def test_astguard_down_refuses_with_503_but_emergency_numbers_pass(
        lab, carrier, seeded, tmp_path):
    # No astguard process at all: the dialplan fails closed on its own.
    national, e164 = fresh_number()
    result = agent_call(tmp_path, national, agent="agent1", expect=503)
    assert result.ok, result.messages[-2000:]
    assert carrier.invites_to(e164) == []
    assert "Playing 'astguard/refus-indisponible" in (lab.logdir / "asterisk.log").read_text()
    before = len(carrier.invites_to("112"))
    assert agent_call(tmp_path, "112", agent="agent1").ok
    assert len(carrier.invites_to("112")) == before + 1


async def _ami_originate(number: str, variables: str) -> dict:
    host, port, user, secret = AMI
    manager = Manager(host=host, port=port, username=user, secret=secret,
                      loop=asyncio.get_running_loop())
    await manager.connect()
    try:
        response = await manager.send_action({
            "Action": "Originate", "Channel": f"Local/{number}@astguard-dialer",
            "Context": "lab-dialer-agent", "Exten": "s", "Priority": "1",
            "Variable": variables, "Async": "false", "Timeout": "15000",
        })
    finally:
        manager.close()
    return dict(response) if not isinstance(response, list) else dict(response[-1])


def test_dialer_origination_through_ami_is_guarded(guard, carrier, seeded):
    national, e164 = fresh_number()
    response = asyncio.run(_ami_originate(
        national, "ASTGUARD_CAMPAIGN=e2e-dialer,ASTGUARD_DIAL_MODE=predictive"))
    assert response.get("Response") == "Success", response
    invite = wait_for(lambda: carrier.invites_to(e164), what="the carrier INVITE")[0]
    assert "<sip:+33162123458@" in invite.headers["from"]
    row = only_decision(seeded, e164)
    assert row["campaign"] == "e2e-dialer" and row["dial_mode"] == "predictive"
    assert row["endpoint"] is None

    refused, refused_e164 = fresh_number()
    asyncio.run(_ami_originate(refused, "ASTGUARD_DIAL_MODE=predictive"))  # no campaign
    row = only_decision(seeded, refused_e164)
    assert denials(row) == ["PURPOSE_UNCLASSIFIED"]
    assert carrier.invites_to(refused_e164) == []


async def _ari_originate(number: str) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{ARI_URL}/channels",
            headers=_basic(),
            json={"endpoint": f"Local/{number}@astguard-dialer", "context": "lab-dialer-agent",
                  "extension": "s", "priority": 1,
                  "variables": {"ASTGUARD_CAMPAIGN": "e2e-dialer"}},
        ) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


def _basic() -> dict[str, str]:
    token = base64.b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_dialer_origination_through_ari_is_guarded(guard, carrier, seeded):
    national, e164 = fresh_number()
    asyncio.run(_ari_originate(national))
    invite = wait_for(lambda: carrier.invites_to(e164), what="the carrier INVITE")[0]
    assert "<sip:+33162123458@" in invite.headers["from"]
    assert only_decision(seeded, e164)["campaign"] == "e2e-dialer"


def test_predial_hook_allows_with_the_campaign_caller_id(guard, carrier, seeded, tmp_path):
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="predial-agent1").ok
    # The pre-dial hook keeps the administrator's own Dial(): the number is dialled as dialled.
    (invite,) = carrier.invites_to(national)
    assert "<sip:+33162123456@" in invite.headers["from"]
    row = only_decision(seeded, e164)
    assert row["source"] == "agi" and row["endpoint"] == "predial-agent1"


def test_predial_hook_refuses_and_never_returns(guard_factory, carrier, seeded, tmp_path):
    guard_factory(clock=SATURDAY).start()
    national, e164 = fresh_number()
    assert agent_call(tmp_path, national, agent="predial-agent1", expect=403).ok
    assert carrier.invites_to(national) == []
    assert denials(only_decision(seeded, e164)) == ["OUTSIDE_CALL_DAYS"]


def test_predial_hook_lets_emergency_through_with_astguard_down(lab, carrier, tmp_path):
    before = len(carrier.invites_to("112"))
    assert agent_call(tmp_path, "112", agent="predial-agent1").ok
    assert len(carrier.invites_to("112")) == before + 1
    national, _ = fresh_number()
    assert agent_call(tmp_path, national, agent="predial-agent1", expect=503).ok
