"""Caller-ID rules (R-F1 to R-F5, R-H1), table-driven, and through `decide`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.caller_id import (
    CallerIdRecord,
    check_presented,
    load_tables,
    national_form,
    shipped_tables,
)
from astguard.policy.model import ContactHistory
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED

TABLES = shipped_tables()
TODAY = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris
RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
NPV_ROOTS = ["0162", "0163", "0270", "0271", "0377", "0378", "0424", "0425", "0568", "0569",
             "0948", "0949", "09475", "09476", "09477", "09478", "09479"]


def held(*numbers: str, principal="acme", start=dt.date(2025, 1, 1), end=None):
    from astguard.policy.caller_id import canonical

    return tuple(CallerIdRecord(canonical(n), principal, start, end) for n in numbers)


def codes(number, mode="predictive", inventory=None, principal="acme"):
    inventory = held(number) if inventory is None else inventory
    return [r.code.value for r in check_presented(
        number, principal=principal, mode=DialMode(mode), today=TODAY, inventory=inventory,
        tables=TABLES)]


def test_the_shipped_tables_are_the_rule_books():
    assert list(TABLES.npv_roots) == NPV_ROOTS
    assert TABLES.last_checked == dt.date(2026, 11, 25)


@pytest.mark.parametrize("root", NPV_ROOTS)
def test_every_npv_root_is_accepted_for_predictive_dialling(root):
    number = root + "0" * (10 - len(root) - 2) + "12"
    assert codes(number) == []


@pytest.mark.parametrize("mode", ["progressive", "predictive", "broadcast"])
@pytest.mark.parametrize(
    ("number", "code"),
    [("0145678901", "NPV_REQUIRED"), ("0262201234", "NPV_REQUIRED"),
     ("0556123456", "NPV_REQUIRED"), ("0970123456", "NPV_REQUIRED"),
     ("0612345678", "MOBILE_CLI_NOT_ALLOWED"), ("0756123456", "MOBILE_CLI_NOT_ALLOWED")],
)
def test_ordinary_numbers_are_refused_for_automated_modes(number, mode, code):
    assert codes(number, mode) == [code]


@pytest.mark.parametrize("mode", ["manual", "preview"])
@pytest.mark.parametrize("number", ["0145678901", "0970123456", "0262201234"])
def test_ordinary_numbers_are_fine_for_manual_calls(number, mode):
    assert codes(number, mode) == []


@pytest.mark.parametrize("mode", ["manual", "predictive"])
@pytest.mark.parametrize("number", ["0899123456", "0892123456", "118218", "118712", "3650",
                                    "3949", "3200"])
def test_forbidden_ranges_are_refused_everywhere(number, mode):
    assert "CALLER_ID_FORBIDDEN_RANGE" in codes(number, mode)


@pytest.mark.parametrize("number", ["3010", "3117", "0800123456", "0810123456"])
def test_30pq_31pq_and_08_are_allowed_for_automated_dialling(number):
    assert codes(number) == []


def test_mobile_numbers_for_manual_calls():
    assert codes("0612345678", "manual") == []  # in the inventory: fine
    found = check_presented("0612345678", principal="acme", mode=DialMode.MANUAL, today=TODAY,
                            inventory=(), tables=TABLES)
    assert [(r.code.value, r.resolved_effect.value) for r in found] == [
        ("CALLER_ID_NOT_AUTHORISED", "deny"), ("MOBILE_CLI_NOT_ALLOWED", "warn")]


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [(dt.date(2025, 1, 1), dt.date(2026, 11, 26), False),  # mandate expired yesterday
     (dt.date(2025, 1, 1), dt.date(2026, 11, 27), True),  # last day
     (dt.date(2026, 11, 28), None, False),  # not yet
     (dt.date(2026, 11, 27), None, True)],
)
def test_mandate_validity(start, end, ok):
    inventory = held("0162123456", start=start, end=end)
    assert (codes("0162123456", inventory=inventory) == []) is ok


def test_another_principals_number():
    inventory = held("0162123456", principal="someone-else")
    assert codes("0162123456", inventory=inventory) == ["CALLER_ID_NOT_AUTHORISED"]


@pytest.mark.parametrize("presented", [None, "", "anonymous", "Restricted"])
def test_withheld(presented):
    assert [r.code.value for r in check_presented(
        presented, principal="acme", mode=DialMode.MANUAL, today=TODAY, inventory=(),
        tables=TABLES)] == ["CLI_WITHHELD"]


def test_national_forms():
    assert national_form("+33162123456") == "0162123456"
    assert national_form("+262262201234") == "0262201234"
    assert national_form("+508412345") == "0508412345"
    assert national_form("3010") == "3010"
    assert national_form("+32470123456") is None


def test_tables_are_data(tmp_path: Path):
    path = tmp_path / "numbering.toml"
    path.write_text('last_checked = 2027-01-15\nsources = "x"\n[npv]\nmetropolitan = ["0145"]\n'
                    'overseas = []\n[forbidden]\nprefixes = ["089"]\nshort_3bpq_except = []\n')
    tables = load_tables(path)
    assert tables.last_checked == dt.date(2027, 1, 15)
    found = check_presented("0145678901", principal="acme", mode=DialMode.PREDICTIVE,
                            today=TODAY, inventory=held("0145678901"), tables=tables)
    assert found == []


# -- through decide: rewrite or refuse, R-H1, the network's alerts ------------------------------
def campaign(policy="rewrite", mode=DialMode.PREDICTIVE, caller_id="+33162123456"):
    return Campaign("c", "acme", Purpose.PROSPECTING, mode, caller_id, scope="energie",
                    cli_policy=policy)


def run(caller_id, camp, *, history=CONSENTED, blocked=frozenset(), inventory=None):
    inventory = held("0162123456") if inventory is None else inventory
    facts = Facts(camp, "t", history=history, inventory=inventory, blocked_caller_ids=blocked)
    return decide(CallRequest("0612345678", "ari", caller_id=caller_id), facts, NOW, RULES)


def test_wrong_number_rewritten_to_the_campaigns():
    v = run("0145678901", campaign("rewrite"))
    assert v.allowed and v.caller_id == "+33162123456"
    assert v.caller_id_requested == "0145678901"
    rewritten = {r.code.value: r for r in v.reasons}
    assert rewritten["NPV_REQUIRED"].resolved_effect.value == "info"
    assert rewritten["NPV_REQUIRED"].inputs["rewritten_to"] == "+33162123456"


def test_wrong_number_refused_when_the_campaign_says_so():
    v = run("0145678901", campaign("refuse"))
    assert not v.allowed
    assert v.codes == ["CALLER_ID_NOT_AUTHORISED", "NPV_REQUIRED"]
    assert v.prompt.value == "refus-numero-presente"


def test_no_rewrite_to_a_number_that_is_wrong_too():
    v = run("0145678901", campaign("rewrite", caller_id="+33145678902"),
            inventory=held("0145678902"))
    assert not v.allowed and "NPV_REQUIRED" in v.codes


def test_the_campaigns_number_when_the_phone_sends_none():
    v = run(None, campaign())
    assert v.allowed and v.caller_id == "+33162123456" and v.codes == []


def test_withheld_without_any_number():
    v = run(None, campaign(caller_id=None))
    assert v.codes == ["CLI_WITHHELD"]


def test_automated_prospecting_without_consent():
    # R-H1 (2026-11-26): only without a human agent; progressive/predictive connect one.
    for mode in (DialMode.BROADCAST, DialMode.PRERECORDED, DialMode.VOICEBOT):
        v = run(None, campaign(mode=mode), history=ContactHistory())
        assert v.codes == ["NO_CONSENT", "AUTOMATED_CALL_NO_CONSENT"], mode
    for mode in (DialMode.MANUAL, DialMode.PREVIEW, DialMode.PROGRESSIVE, DialMode.PREDICTIVE):
        v = run(None, campaign(mode=mode), history=ContactHistory())
        assert v.codes == ["NO_CONSENT"], mode


def test_automated_call_needs_consent_under_bloctel_too():
    from astguard.policy.model import BloctelScrub

    july = dt.datetime(2026, 7, 28, 9, 0, tzinfo=dt.UTC)
    history = ContactHistory(bloctel=BloctelScrub(dt.date(2026, 7, 20), False))
    facts = Facts(campaign(mode=DialMode.BROADCAST), "t", history=history,
                  inventory=held("0162123456"))
    v = decide(CallRequest("0612345678", "ari"), facts, july, RULES)
    assert v.codes == ["AUTOMATED_CALL_NO_CONSENT"]
    predictive = Facts(campaign(), "t", history=history, inventory=held("0162123456"))
    assert decide(CallRequest("0612345678", "ari"), predictive, july, RULES).allowed


def test_network_blocked_number_is_flagged_not_refused():
    v = run(None, campaign(), blocked=frozenset({"+33162123456"}))
    assert v.allowed and v.codes == ["CALL_BLOCKED_BY_NETWORK"]


def test_service_calls_are_checked_too():
    # R-F2 to R-F5 apply to every purpose (2026-11-26): an automated service campaign
    # presenting a non-NPV 01 number it holds is refused.
    service = Campaign("s", "acme", Purpose.SERVICE, DialMode.PREDICTIVE, "+33145678901")
    facts = Facts(service, "t", inventory=held("0145678901"))
    v = decide(CallRequest("0612345678", "ari"), facts, NOW, RULES)
    assert not v.allowed and v.codes == ["OUT_OF_SCOPE_SERVICE_CALL", "NPV_REQUIRED"]
    npv = Campaign("s", "acme", Purpose.SERVICE, DialMode.PREDICTIVE, "+33162123456")
    v = decide(CallRequest("0612345678", "ari"), Facts(npv, "t", inventory=held("0162123456")),
               NOW, RULES)
    assert v.allowed and v.caller_id == "+33162123456"


def test_saint_pierre_mobile_is_a_mobile_for_r_f5():
    # rules-fr 2026-11-26: Saint-Pierre-et-Miquelon mobiles are mobiles (R-F5).
    assert national_form("+508708401234") == "0708401234"
    v = run("0508551234", campaign(), inventory=held("0508551234"))
    assert "MOBILE_CLI_NOT_ALLOWED" in v.codes and not v.allowed
    manual = run("0508551234", campaign(mode=DialMode.MANUAL, caller_id=None),
                 inventory=held("0508551234"))
    assert manual.allowed and manual.codes == []  # a manual call may show its own mobile
    stranger = run("0508551234", campaign(mode=DialMode.MANUAL, caller_id=None,
                                          policy="refuse"), inventory=())
    assert {r.code.value: r.resolved_effect.value for r in stranger.reasons} == {
        "CALLER_ID_NOT_AUTHORISED": "deny", "MOBILE_CLI_NOT_ALLOWED": "warn"}
