"""The verdict as the gate, the evidence store and the CLI/API read it (model.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy import (
    CallRequest,
    Campaign,
    Decision,
    DialMode,
    Effect,
    Facts,
    PromptFamily,
    Purpose,
    Reason,
    ReasonCode,
    RuleSettings,
    Verdict,
    decide,
)
from astguard.policy.model import CAUSE_REJECTED, CAUSE_UNAVAILABLE, LocalTime, deny_reasons
from astguard.policy.numbers import parse_number
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED, INVENTORY

AT = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
CAMPAIGN = Campaign("relance", "acme", Purpose.PROSPECTING, DialMode.PREVIEW, "0162123456",
                    scope="energie")


def verdict(decision=Decision.ALLOW, reasons=(), campaign=CAMPAIGN, number="0692123456",
            emergency=False, parsed=True, **kw) -> Verdict:
    return Verdict(decision=decision, reasons=tuple(reasons), decided_at=AT, dialled=number,
                   number=parse_number(number) if parsed and not emergency else None,
                   local_times=kw.pop("local_times", ()), campaign=campaign,
                   caller_id=kw.pop("caller_id", "+33162123456"),
                   caller_id_requested=kw.pop("caller_id_requested", None), emergency=emergency,
                   **kw)


def test_the_evidence_dict_of_a_refused_call():
    # §7: what was decided, why, for whom, on which number, at what local time, with which CLI.
    times = (LocalTime("Indian/Mayotte", AT.astimezone(dt.timezone(dt.timedelta(hours=3)))),
             LocalTime("Indian/Reunion", AT.astimezone(dt.timezone(dt.timedelta(hours=4)))))
    v = verdict(Decision.DENY, [Reason(ReasonCode.FREQUENCY_CAP, {"attempts": 4}),
                                Reason(ReasonCode.FREQUENCY_CAP, {"attempts": 4})],
                local_times=times, caller_id_requested="0145678901")
    expected = {
        "decision": "deny",
        "reasons": ["FREQUENCY_CAP"],
        "number": "+262692123456",
        "dialled": "0692123456",
        "emergency": False,
        "decided_at": "2026-11-27T10:00:00+00:00",
        "local_times": [{"zone": "Indian/Mayotte", "local": "2026-11-27T13:00:00+03:00"},
                        {"zone": "Indian/Reunion", "local": "2026-11-27T14:00:00+04:00"}],
        "zones": ["Indian/Mayotte", "Indian/Reunion"],
        "territories": ["RE", "YT"],
        "campaign": "relance",
        "principal": "acme",
        "purpose": "prospecting",
        "dial_mode": "preview",
        "caller_id": "+33162123456",
        "caller_id_requested": "0145678901",
        "prompt": "refus-sollicitation",
        "hangup_cause": 21,
    }
    d = v.as_dict()
    assert {key: d[key] for key in expected} == expected
    assert [r["code"] for r in d["details"]] == ["FREQUENCY_CAP", "FREQUENCY_CAP"]
    assert d["rulebook_version"] == v.rulebook_version


def test_the_evidence_dict_without_campaign_or_number():
    v = verdict(Decision.DENY, [Reason(ReasonCode.INVALID_NUMBER, {})], campaign=None,
                number="06123", parsed=False, caller_id=None)
    d = v.as_dict()
    assert {k: d[k] for k in ("number", "territories", "zones", "campaign", "principal",
                              "purpose", "dial_mode", "caller_id", "prompt", "emergency")} == {
        "number": None, "territories": [], "zones": [], "campaign": None, "principal": None,
        "purpose": None, "dial_mode": None, "caller_id": None, "prompt": "refus-numero",
        "emergency": False}
    assert v.destination == "06123" and d["dialled"] == "06123"


def test_an_emergency_call_says_so_and_is_never_counted():
    v = verdict(reasons=[Reason(ReasonCode.EMERGENCY_NUMBER, {})], number="112", emergency=True)
    assert v.as_dict()["emergency"] is True and v.as_dict()["prompt"] is None
    assert not v.counts_as_attempt and v.destination == "112"


def test_the_trunk_dials_e164_when_the_number_parsed():
    assert verdict(number="0612345678").destination == "+33612345678"


@pytest.mark.parametrize(("purpose", "survey_setting", "counted"), [
    # R-D6 counts prospecting attempts; surveys keep the cap by default (R-A 2026-11-26), and
    # are not counted once the setting turns days, hours and the cap off for them.
    (Purpose.PROSPECTING, True, True), (Purpose.SURVEY, True, True),
    (Purpose.SURVEY, False, False), (Purpose.SERVICE, True, False), (Purpose.B2B, True, False),
])
def test_which_allowed_calls_count_as_attempts(purpose, survey_setting, counted):
    rules = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY),
                         survey_days_hours_cap=survey_setting)
    campaign = Campaign("c", "acme", purpose, DialMode.MANUAL, "0162123456", scope="energie")
    facts = Facts(campaign, "t", history=CONSENTED, inventory=INVENTORY)
    allowed = decide(CallRequest("0612345678", "t"), facts, AT, rules)
    assert allowed.allowed and allowed.counts_as_attempt is counted
    saturday = AT + dt.timedelta(days=1)
    refused = decide(CallRequest("0612345678", "t"), facts, saturday, rules)
    if purpose is Purpose.PROSPECTING:
        assert not refused.allowed and not refused.counts_as_attempt
    emergency = decide(CallRequest("112", "t"), facts, AT, rules)
    assert emergency.allowed and not emergency.counts_as_attempt
    unclassified = decide(CallRequest("0612345678", "t"), Facts(None, "t"), AT, rules)
    assert not unclassified.counts_as_attempt


def test_hangup_cause_503_only_when_the_guard_is_unavailable():
    assert verdict().hangup_cause is None
    assert verdict(Decision.DENY, [Reason(ReasonCode.NO_CONSENT)]).hangup_cause == CAUSE_REJECTED
    both = [Reason(ReasonCode.NO_CONSENT), Reason(ReasonCode.GUARD_UNAVAILABLE, {"detail": "x"})]
    assert verdict(Decision.DENY, both).hangup_cause == CAUSE_UNAVAILABLE == 34
    assert CAUSE_REJECTED == 21


def test_an_allowed_call_has_no_prompt_even_with_reasons():
    v = verdict(reasons=[Reason(ReasonCode.CALL_BLOCKED_BY_NETWORK, {})])
    assert v.allowed and v.prompt is None and v.codes == ["CALL_BLOCKED_BY_NETWORK"]
    refused = verdict(Decision.DENY, [Reason(ReasonCode.NPV_REQUIRED)])
    assert not refused.allowed and refused.prompt is PromptFamily.CALLER_ID


def test_codes_keep_the_order_of_first_appearance():
    v = verdict(Decision.DENY, [Reason(ReasonCode.PUBLIC_HOLIDAY, {"holiday": "a"}),
                                Reason(ReasonCode.NO_CONSENT),
                                Reason(ReasonCode.PUBLIC_HOLIDAY, {"holiday": "b"})])
    assert v.codes == ["PUBLIC_HOLIDAY", "NO_CONSENT"]


def test_only_denials_refuse():
    reasons = [Reason(ReasonCode.OUT_OF_SCOPE_B2B), Reason(ReasonCode.CALL_BLOCKED_BY_NETWORK),
               Reason(ReasonCode.NPV_REQUIRED, effect=Effect.INFO), Reason(ReasonCode.NO_CONSENT)]
    assert deny_reasons(reasons) == [reasons[3]]


@pytest.mark.parametrize(("mode", "automated"), [
    # R-F4: manual and preview dialling (one human action per call) are not automated.
    (DialMode.MANUAL, False), (DialMode.PREVIEW, False),
    (DialMode.PROGRESSIVE, True), (DialMode.PREDICTIVE, True), (DialMode.BROADCAST, True),
])
def test_automated_dialling_modes(mode, automated):
    assert mode.automated is automated


def test_purposes_in_the_consumer_rules():
    # R-A: prospecting and surveys are checked against days, hours and the cap.
    assert Purpose.PROSPECTING.in_consumer_scope and Purpose.SURVEY.in_consumer_scope
    assert not Purpose.SERVICE.in_consumer_scope and not Purpose.B2B.in_consumer_scope


def test_rule_settings_defaults_are_the_strict_readings():
    rules = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
    assert rules.windows == ((dt.time(10), dt.time(13)), (dt.time(14), dt.time(20)))  # R-D3
    assert (rules.cap_attempts, rules.cap_days, rules.refusal_days) == (4, 30, 60)  # R-D6, R-D7
    assert rules.opt_in_from == dt.date(2026, 8, 11) and rules.bloctel_scrub_days == 30
    assert rules.banned_sectors == {"renovation-energetique", "energie-renouvelable",
                                    "adaptation-logement", "cpf"}  # R-B6
    assert rules.local_holidays and rules.alsace_moselle_when_unknown  # R-D2 (I), strict
    assert rules.window_end_margin == dt.timedelta(0) and rules.regime is None


def test_a_verdict_from_decide_carries_the_request():
    v = decide(CallRequest("0612345678", "cli", caller_id="0162123456"),
               Facts(CAMPAIGN, "t", history=CONSENTED, inventory=INVENTORY), AT,
               RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY)))
    assert v.allowed and v.decided_at == AT and v.dialled == "0612345678"
    assert v.campaign is CAMPAIGN and v.caller_id_requested == "0162123456"
    assert v.as_dict()["dial_mode"] == "preview" and v.as_dict()["purpose"] == "prospecting"
