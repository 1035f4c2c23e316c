"""The campaigns the gate remembers for an outage (service and B2B calls go on while
PostgreSQL is away) forget a campaign once it is deactivated, under every key (issue 14)."""

from __future__ import annotations

import pytest

from astguard.policy import CallRequest
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from tests.test_gate import directory  # noqa: F401 (fixture)
from tests.test_gate_lost_outcomes import db, gate_on  # noqa: F401 (fixture)

pytestmark = pytest.mark.db

AGENT_SERVICE = CallRequest("0612345678", "ari", endpoint="gate-agent",
                            campaign_name="gate-service")
DIALER_SERVICE = CallRequest("0612345678", "ari", campaign_name="gate-service")


async def _deactivate_service(directory: Directory) -> None:
    await directory.set_campaign("gate-service", "gate-acme", "service", "manual",
                                 "0145678901", active=False)


async def _learn(gate) -> None:
    for call in (AGENT_SERVICE, DIALER_SERVICE):
        assert (await gate.check(call, record=False)).verdict.allowed


async def test_a_campaign_found_inactive_under_one_key_is_forgotten_under_all(
        db, directory, tmp_path):  # noqa: F811
    gate = gate_on(db, Spool(tmp_path / "spool"), "cache-1")
    await _learn(gate)
    await _deactivate_service(directory)
    assert not (await gate.check(AGENT_SERVICE, record=False)).verdict.allowed
    db.down = True
    during = await gate.check(DIALER_SERVICE, record=False)
    assert not during.verdict.allowed and during.verdict.codes == ["GUARD_UNAVAILABLE"]


async def test_a_campaign_deactivated_before_an_outage_does_not_go_out_during_it(
        db, directory, tmp_path):  # noqa: F811
    gate = gate_on(db, Spool(tmp_path / "spool"), "cache-2")
    await _learn(gate)
    assert await gate.forget_inactive_campaigns() == 0  # still active: kept
    await _deactivate_service(directory)
    assert await gate.forget_inactive_campaigns() == 2
    db.down = True
    for call in (AGENT_SERVICE, DIALER_SERVICE):
        during = await gate.check(call, record=False)
        assert during.verdict.codes == ["GUARD_UNAVAILABLE"], call
