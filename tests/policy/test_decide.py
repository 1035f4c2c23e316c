"""Scope (R-A), emergency numbers, fail-closed facts, caller ID, and the verdict's shape."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy import (
    CallRequest,
    Campaign,
    DialMode,
    Facts,
    Purpose,
    Reason,
    ReasonCode,
    RuleSettings,
    decide,
)
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED, INVENTORY

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
OPEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris
SATURDAY_NIGHT = dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.UTC)


def campaign(purpose: Purpose = Purpose.PROSPECTING, caller_id: str | None = "0162123456"):
    return Campaign("c", "acme", purpose, DialMode.MANUAL, caller_id, scope="energie")


def run(number="0612345678", facts=None, when=OPEN, **call):
    facts = facts or Facts(campaign(), "test", history=CONSENTED, inventory=INVENTORY)
    return decide(CallRequest(number, "test", **call), facts, when, RULES)


def test_ordinary_prospecting_call_allowed_and_counted():
    v = run()
    assert v.allowed and v.codes == [] and v.counts_as_attempt
    assert v.destination == "+33612345678"
    assert v.hangup_cause is None and v.prompt is None


@pytest.mark.parametrize("number", sorted(DEFAULT_EMERGENCY))
def test_emergency_numbers_always_pass_and_are_never_counted(number):
    facts = Facts(None, "nothing", store_error="PostgreSQL injoignable")
    v = run(number, facts=facts, when=SATURDAY_NIGHT)
    assert v.allowed and v.emergency and not v.counts_as_attempt
    assert v.codes == ["EMERGENCY_NUMBER"]


def test_unclassified_call_refused():
    v = run(facts=Facts(None, "aucune campagne par défaut pour le poste x"))
    assert v.codes == ["PURPOSE_UNCLASSIFIED"]
    assert v.prompt.value == "refus-campagne" and v.hangup_cause == 21
    assert "poste x" in v.reasons[0].inputs["classification"]


def test_unclassified_call_still_reports_the_hour_rules():
    v = run(facts=Facts(None, "none"), when=SATURDAY_NIGHT)
    assert v.codes == ["PURPOSE_UNCLASSIFIED", "OUTSIDE_CALL_DAYS", "OUTSIDE_CALL_WINDOW"]


@pytest.mark.parametrize(
    ("purpose", "code"),
    [(Purpose.SERVICE, "OUT_OF_SCOPE_SERVICE_CALL"), (Purpose.B2B, "OUT_OF_SCOPE_B2B")],
)
def test_service_and_b2b_skip_consumer_rules_but_are_logged(purpose, code):
    v = run(facts=Facts(campaign(purpose), "t", inventory=INVENTORY), when=SATURDAY_NIGHT)
    assert v.allowed and v.codes == [code] and not v.counts_as_attempt


@pytest.mark.parametrize("purpose", [Purpose.SERVICE, Purpose.B2B])
def test_service_and_b2b_caller_id_must_be_in_the_inventory(purpose):
    # R-F2 applies to every purpose (2026-11-26).
    v = run(facts=Facts(campaign(purpose), "t"), when=SATURDAY_NIGHT)
    assert not v.allowed and "CALLER_ID_NOT_AUTHORISED" in v.codes


def test_surveys_follow_the_consumer_rules():
    v = run(facts=Facts(campaign(Purpose.SURVEY), "t", history=CONSENTED, inventory=INVENTORY), when=SATURDAY_NIGHT)
    assert not v.allowed


def test_invalid_number_refused_with_detail():
    v = run("06123")
    assert v.codes == ["INVALID_NUMBER"] and v.prompt.value == "refus-numero"
    assert "10 chiffres" in v.reasons[0].text


def test_foreign_destination_refused_unless_configured():
    assert run("+32470123456").codes == ["NON_FR_DESTINATION"]
    assert "NON_FR_DESTINATION" in run("+687751234").codes  # 23:00 in Nouméa too
    rules = RuleSettings(emergency_numbers=RULES.emergency_numbers,
                         allowed_foreign_regions=frozenset({"BE"}))
    v = decide(CallRequest("+32470123456", "t"), Facts(campaign(), "t", history=CONSENTED, inventory=INVENTORY),
               OPEN, rules)
    assert v.allowed and v.local_times[0].zone == "Europe/Brussels"


def test_store_unavailable_fails_closed_for_prospecting():
    v = run(facts=Facts(campaign(), "cache", store_error="PostgreSQL injoignable"))
    assert v.codes == ["GUARD_UNAVAILABLE"]
    assert v.hangup_cause == 34 and v.prompt.value == "refus-indisponible"


def test_store_unavailable_unknown_campaign_fails_closed():
    v = run(facts=Facts(None, "classement impossible", store_error="down"))
    assert v.codes == ["GUARD_UNAVAILABLE"]


def test_store_unavailable_lets_a_known_service_call_through():
    # The inventory cannot be read: R-F2 is reported as a warning, R-F3 to R-F5 still apply.
    v = run(facts=Facts(campaign(Purpose.SERVICE), "cache", store_error="down"))
    assert v.allowed and v.codes == ["OUT_OF_SCOPE_SERVICE_CALL", "CALLER_ID_NOT_AUTHORISED"]
    assert v.reasons[1].resolved_effect.value == "warn"


def test_store_unavailable_still_refuses_a_forbidden_service_caller_id():
    service = Campaign("s", "acme", Purpose.SERVICE, DialMode.PREDICTIVE, "0145678901")
    v = run(facts=Facts(service, "cache", store_error="down"))
    assert not v.allowed and "NPV_REQUIRED" in v.codes


def test_bad_department_fails_closed():
    v = run(department="99")
    assert v.codes == ["TIMEZONE_UNKNOWN"]


def test_caller_id_is_the_campaigns_in_e164():
    assert run(caller_id="0145678901").caller_id == "+33162123456"
    v = run(caller_id="0145678901", facts=Facts(campaign(caller_id=None), "t", history=CONSENTED, inventory=INVENTORY))
    assert v.caller_id == "+33145678901" and v.caller_id_requested == "0145678901"


def test_needs_an_aware_clock():
    with pytest.raises(ValueError):
        run(when=dt.datetime(2026, 11, 27, 11, 0))


def test_every_reason_code_has_a_french_text():
    for code in ReasonCode:
        text = Reason(code, {}).text
        assert text and "{" not in text


def test_verdict_dict_has_what_the_cli_json_promises():
    # 08:00 UTC: 11:00 in Mayotte, 12:00 in Réunion (at 10:00 UTC Mayotte is in its lunch gap).
    d = run("0692123456", when=OPEN.replace(hour=8)).as_dict()
    assert d["decision"] == "allow" and d["number"] == "+262692123456"
    assert d["reasons"] == [] and d["zones"] == ["Indian/Mayotte", "Indian/Reunion"]
    assert [t["zone"] for t in d["local_times"]] == d["zones"]
