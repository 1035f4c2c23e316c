"""The reconciliation of Asterisk's trunk calls with the decisions, in the real PostgreSQL: a
trunk call passes only with a valid token naming an earlier allow decision (or, without a
token, an allow for the same number just before); everything else is listed."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from astguard.app.call_audit import audit_calls
from astguard.clock import PinnedClock
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from astguard.store.trunk_audit import TrunkAuditStore
from astguard.store.unguarded import UnguardedCall
from astguard.telephony.call_token import CallTokens
from astguard.telephony.cdr import TrunkCall
from tests.conftest import give_consent, hold_number

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
TOKENS = CallTokens("t" * 40, 300)
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def trunk_call(number: str, start: dt.datetime, token: str = "",
               channel: str | None = None) -> TrunkCall:
    return TrunkCall(start=start, trunk_channel=channel or f"PJSIP/carrier-{uuid.uuid4().hex[:8]}",
                     endpoint="carrier", number=number, via="PJSIP/agent1-00000001",
                     context="astguard-trunk", disposition="ANSWERED", uniqueid="1",
                     linkedid=uuid.uuid4().hex, token=token)


async def decide(db, tmp_path, number: str, endpoint: str = "ca-agent"):
    d = Directory(db)
    await d.add_principal("ca-acme", "ACME")
    await hold_number(db, "ca-acme")
    await d.set_campaign("ca-prospect", "ca-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("ca-agent", "ca-prospect", [], "Alice")
    await d.set_endpoint("ca-nobody", None, [], None)
    await give_consent(db, "ca-acme", "+33" + number[1:])
    # A pinned clock decides; the order against Asterisk's (real-time) records is then
    # judged on recorded_at, PostgreSQL's own time.
    gate = Gate(db=db, directory=d, spool=Spool(tmp_path), clock=PinnedClock(FRIDAY),
                rules=RULES, node="t")
    return await gate.check(CallRequest(number, "ari", endpoint=endpoint), record=True)


async def test_each_kind_of_trunk_call(db, tmp_path):
    allowed = await decide(db, tmp_path, "0612700001")
    refused = await decide(db, tmp_path, "0612700002", endpoint="ca-nobody")
    fallback = await decide(db, tmp_path, "0612700003")
    assert allowed.verdict.allowed and not refused.verdict.allowed
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    good = TOKENS.issue(allowed.decision_id, "+33612700001")
    calls = [
        trunk_call("+33612700001", later, good),                      # guarded
        trunk_call("+33612700009", later, good),                      # token moved
        trunk_call("+33612700002", later,
                   TOKENS.issue(refused.decision_id, "+33612700002")),  # a refusal's id
        trunk_call("0612700003", later),                              # no token, allow before
        trunk_call("0612700004", later),                              # nothing at all
        trunk_call("112", later),                                     # emergency
        trunk_call("+33612700001", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
                   good),                                             # before its decision
        trunk_call("", later, channel="PJSIP/carrier-0000abcd"),      # direct origination
    ]
    caught = [UnguardedCall(
        channel_id="x", channel="PJSIP/carrier-0000abcd", endpoint="carrier",
        dialled="0612700005", number_e164="+33612700005", caller=None, originator=None,
        linkedid=None, token_decision_id=None, problem="aucun jeton astguard", mode="hangup",
        action="hung_up", emergency=False, created_at=later, detected_at=later,
        hung_up_at=later, node="t")]
    result = await audit_calls(calls, TrunkAuditStore(db), TOKENS,
                               start=later - dt.timedelta(minutes=30),
                               end=later + dt.timedelta(hours=1),
                               emergency_numbers=frozenset(DEFAULT_EMERGENCY), caught=caught)
    assert fallback.verdict.allowed
    assert result.checked == 8 and result.by_token == 1 and result.by_number == 1
    assert [f.call.number for f in result.emergency] == ["112"]
    problems = {f.call.number: f.problem for f in result.unguarded}
    assert problems == {
        "+33612700009": "jeton falsifié ou émis pour un autre numéro",
        "+33612700002": f"la décision {refused.decision_id} est un refus",
        "0612700004": "aucune décision astguard",
        "+33612700001": f"la décision {allowed.decision_id} est postérieure à l'appel",
        "0612700005": "aucune décision astguard",  # number from the watchdog's row
    }
    assert not result.ok and result.as_dict()["unguarded_count"] == 5


async def test_a_period_without_trunk_calls_is_clean(db):
    now = dt.datetime.now(dt.UTC)
    result = await audit_calls([trunk_call("0612700004", now - dt.timedelta(days=9))],
                               TrunkAuditStore(db), TOKENS, start=now - dt.timedelta(days=1),
                               end=now, emergency_numbers=frozenset(DEFAULT_EMERGENCY))
    assert result.ok and result.checked == 0
