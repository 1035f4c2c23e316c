"""rules-fr 2026-11-26 through the real Asterisk and SIPp: an overseas block without a
distinctive prefix is timed in its own zones (R-D4), and the caller-ID rules bind every purpose
(R-F4 for an automated service campaign)."""

from __future__ import annotations

import pytest

from astguard.policy.numbers import parse_number
from astguard.store.database import Database
from lab.sipp import agent_call
from tests.conftest import give_consent
from tests.e2e.conftest import decisions_for, denials, fresh_number, run_async, wait_for

pytestmark = pytest.mark.e2e


def overseas_voip(seeded: str) -> tuple[str, str]:
    """A 09 76 0x number (Guadeloupe, Saint-Barthélemy, Saint-Martin, Guyane and, in FR's
    plan, metropolitan France), with the consumer's consent under its canonical form."""
    national, _ = fresh_number(consent=False, prefix="0976")
    e164 = parse_number(national).e164
    assert e164.startswith("+590") and e164 != "+33" + national[1:]

    async def give() -> None:
        db = Database(seeded)
        await give_consent(db, "e2e-acme", e164)
        await db.close()

    run_async(give())
    return national, e164


def test_overseas_block_without_a_distinctive_prefix_is_refused_when_paris_is_open(
        guard_factory, carrier, seeded, tmp_path):
    # Friday 27 November 2026, 11:00 in Paris: 06:00 in Guadeloupe, 07:00 in Cayenne.
    guard_factory(clock="2026-11-27T11:00:00+01:00").start()
    national, e164 = overseas_voip(seeded)
    result = agent_call(tmp_path, national, agent="agent2", expect=403)
    assert result.ok, result.messages[-2000:]
    assert carrier.invites_to(e164) == [] and carrier.invites_to("+33" + national[1:]) == []
    (row,) = wait_for(lambda: decisions_for(seeded, national), what="the decision")
    assert row["decision"] == "deny" and denials(row) == ["OUTSIDE_CALL_WINDOW"]
    assert row["number_e164"] == e164


def test_the_same_block_goes_out_when_every_zone_is_open(guard_factory, carrier, seeded,
                                                          tmp_path):
    # 16:00 in Paris: 11:00 in Guadeloupe and its islands, 12:00 in Cayenne.
    guard_factory(clock="2026-11-27T16:00:00+01:00").start()
    national, e164 = overseas_voip(seeded)
    result = agent_call(tmp_path, national, agent="agent3")
    assert result.ok, result.messages[-2000:]
    assert len(carrier.invites_to(e164)) == 1  # dialled in its canonical E.164 form


def test_automated_service_campaign_showing_a_non_npv_number_is_refused(
        guard, carrier, seeded, tmp_path):
    national, e164 = fresh_number(consent=False)
    result = agent_call(tmp_path, national, agent="agent1", expect=403,
                        headers={"X-Astguard-Campaign": "e2e-service-auto"})
    assert result.ok, result.messages[-2000:]
    assert carrier.invites_to(e164) == []
    (row,) = wait_for(lambda: decisions_for(seeded, e164), what="the decision")
    assert row["campaign"] == "e2e-service-auto" and row["decision"] == "deny"
    # The softphone's own number is not the principal's, and the campaign's is not an NPV.
    assert "NPV_REQUIRED" in denials(row)
    assert "OUT_OF_SCOPE_SERVICE_CALL" in row["reason_codes"]
