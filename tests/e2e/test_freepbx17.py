"""FreePBX 17 on Asterisk 22 (no app_macro): astguard's pre-dial hook in the outbound dialplan
FreePBX 17 generates (lab/freepbx17.conf, from core's functions.inc.php), with a route of two
trunks whose first answers 503: the call fails over, and it stays one decision and one attempt,
and each trunk dials the number astguard decided, showing the caller ID it decided (R-D6, R-F2).
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from lab.sipp import Carrier, agent_call
from tests.e2e.conftest import SATURDAY, decisions_for, denials, fresh_number, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def unavailable_trunk(lab, tmp_path):
    """FreePBX's first trunk: its carrier answers 503 Service Unavailable."""
    peer = Carrier(tmp_path / "trunk1", port=5088)
    peer.start(unavailable=True)
    yield peer
    peer.stop()


def attempts_for(url: str, e164: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval("SELECT count(*) FROM attempts WHERE number_e164 = $1",
                                       e164)
        finally:
            await conn.close()

    return asyncio.run(count())


def test_trunk_failover_is_one_decision_one_attempt_and_dials_the_number_decided(
        guard, carrier, unavailable_trunk, seeded, lab, tmp_path):
    national, e164 = fresh_number()
    result = agent_call(tmp_path, national, agent="freepbx-agent1", hold_ms=500)
    assert result.ok, result.messages[-2000:]  # answered through the second trunk
    (first,) = unavailable_trunk.invites_to(e164)  # the first trunk answered 503
    (second,) = carrier.invites_to(e164)
    # Both trunks dialled astguard's destination (E.164), not FreePBX's own digits, and showed
    # astguard's caller ID, not the trunks' own outbound CIDs (+33162123450, +33162123451).
    for invite in (first, second):
        assert "<sip:+33162123456@" in invite.headers["from"], invite.headers
    assert carrier.invites_to(national) == [] and unavailable_trunk.invites_to(national) == []
    (row,) = wait_for(lambda: decisions_for(seeded, e164), what="the decision")
    assert row["decision"] == "allow" and row["source"] == "agi"
    assert row["endpoint"] == "freepbx-agent1" and row["campaign"] == "e2e-prospect"
    assert attempts_for(seeded, e164) == 1
    log = (lab.logdir / "asterisk.log").read_text(errors="replace")
    assert "re-used on trunk 2" in log
    # The outcome is the call's, reported once when it ends (the second trunk answered).
    row = wait_for(lambda: decisions_for(seeded, e164)[0]["outcome_at"] and
                   decisions_for(seeded, e164)[0], what="the outcome")
    assert row["answered"] is True


def test_a_refusal_under_freepbx17_reaches_no_trunk(
        guard_factory, carrier, unavailable_trunk, seeded, tmp_path):
    guard_factory(clock=SATURDAY).start()
    national, e164 = fresh_number()
    result = agent_call(tmp_path, national, agent="freepbx-agent1", expect=403)
    assert result.ok, result.messages[-2000:]
    assert unavailable_trunk.invites_to(e164) == [] and carrier.invites_to(e164) == []
    assert unavailable_trunk.invites_to(national) == [] and carrier.invites_to(national) == []
    (row,) = wait_for(lambda: decisions_for(seeded, e164), what="the decision")
    assert denials(row) == ["OUTSIDE_CALL_DAYS"]
    assert attempts_for(seeded, e164) == 0


def test_hand_set_channel_variables_never_pass_for_a_decision(
        guard, carrier, unavailable_trunk, seeded, lab):
    """An originator (AMI) entering the outbound route with the variables of an allowed call
    set by hand: the hook asks astguard (/reuse), which knows no such decision, so the call is
    decided anew; here it is refused (no campaign, R-A) and reaches no trunk."""
    from tests.e2e.test_watchdog import ami_originate

    national, e164 = fresh_number()
    spoofed = ",".join([
        "__ASTGUARD_VERDICT=allow", f"__ASTGUARD_DECIDED_FOR={national}",
        f"__ASTGUARD_DESTINATION={e164}", "__ASTGUARD_CALLERID=+33162123456",
        "__ASTGUARD_TOKEN=0.0." + "0" * 64])
    asyncio.run(ami_originate(f"Local/{national}@lab-freepbx17-internal", spoofed))
    (row,) = wait_for(lambda: decisions_for(seeded, e164), what="the decision")
    assert row["decision"] == "deny"
    assert attempts_for(seeded, e164) == 0
    log = (lab.logdir / "asterisk.log").read_text(errors="replace")
    assert "re-used on trunk" not in log.split(national, 1)[-1]
    assert unavailable_trunk.invites_to(e164) == [] and carrier.invites_to(e164) == []
    assert unavailable_trunk.invites_to(national) == [] and carrier.invites_to(national) == []
