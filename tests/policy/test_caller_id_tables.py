"""R-F1 to R-F5 table by table: every NPV root and non-NPV geographic root, every forbidden range
and 3BPQ exception, the national form of every plan, and what the evidence says of each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.caller_id import (
    CallerIdRecord,
    canonical,
    check_presented,
    load_tables,
    national_form,
    shipped_tables,
)
from astguard.policy.reasons import Effect, ReasonCode
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED

TABLES = shipped_tables()
TODAY = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris
RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))


def held(number: str, principal: str = "acme") -> tuple[CallerIdRecord, ...]:
    return (CallerIdRecord(canonical(number), principal, dt.date(2025, 1, 1), None),)


def check(number, mode=DialMode.PREDICTIVE, inventory=None):
    return check_presented(number, principal="acme", mode=mode, today=TODAY,
                           inventory=held(number) if inventory is None else inventory,
                           tables=TABLES)


def codes(number, mode=DialMode.PREDICTIVE, inventory=None) -> list[str]:
    return [r.code.value for r in check(number, mode, inventory)]


# R-F4: the rule book's NPV roots; a number of each is fine for automated dialling.
NPV = {"0162": "0162000012", "0163": "0163000012", "0270": "0270000012", "0271": "0271000012",
       "0377": "0377000012", "0378": "0378000012", "0424": "0424000012", "0425": "0425000012",
       "0568": "0568000012", "0569": "0569000012", "0948": "0948000012", "0949": "0949000012",
       "09475": "0947500012", "09476": "0947600012", "09477": "0947700012",
       "09478": "0947800012", "09479": "0947900012"}


def test_the_shipped_npv_table_is_the_rule_books():
    assert sorted(TABLES.npv_roots) == sorted(NPV)
    assert TABLES.forbidden_prefixes == ("089", "118")  # R-F3
    assert TABLES.short_3bpq_except == ("30", "31")  # R-F3: 30PQ and 31PQ allowed


@pytest.mark.parametrize("number", sorted(NPV.values()))
def test_each_npv_root(number):
    assert codes(number) == []


# R-F4: 01–05 and 09 numbers that are not NPV (one per root, overseas geographic included).
@pytest.mark.parametrize("number", ["0145678901", "0161000012", "0164000012", "0262201234",
                                    "0299123456", "0380123456", "0376000012", "0472123456",
                                    "0426000012", "0556123456", "0567000012", "0594301234",
                                    "0970123456", "0947400012", "0950000012"])
@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREDICTIVE, DialMode.BROADCAST,
                                  DialMode.PRERECORDED, DialMode.VOICEBOT])
def test_every_geographic_and_09_root_needs_npv_when_automated(number, mode):
    [reason] = check(number, mode)
    assert reason.code is ReasonCode.NPV_REQUIRED and reason.resolved_effect is Effect.DENY
    assert reason.inputs == {"caller_id": canonical(number), "mode": mode.value,
                             "npv_tables_checked": "2026-11-25"}


@pytest.mark.parametrize("mode", [DialMode.MANUAL, DialMode.PREVIEW])
def test_manual_and_preview_calls_need_no_npv(mode):
    # R-F4: one human action per call is not automated dialling.
    assert codes("0380123456", mode) == [] and codes("0970123456", mode) == []


@pytest.mark.parametrize("number", ["0800123456", "0810123456", "0820123456"])
def test_08_numbers_are_not_geographic(number):
    assert codes(number) == []


@pytest.mark.parametrize(("number", "national"), [
    ("0899123456", "0899123456"), ("0890123456", "0890123456"), ("118218", "118218"),
    ("118000", "118000"), ("3200", "3200"), ("3400", "3400"), ("3699", "3699"),
    ("3919", "3919"), ("3999", "3999"),
])
@pytest.mark.parametrize("mode", [DialMode.MANUAL, DialMode.PREDICTIVE])
def test_every_forbidden_range(number, national, mode):
    # R-F3: 089, 118 XYZ, 3BPQ except 30PQ and 31PQ — for every mode.
    found = check(number, mode)
    forbidden = [r for r in found if r.code is ReasonCode.CALLER_ID_FORBIDDEN_RANGE]
    assert forbidden and forbidden[0].inputs == {
        "caller_id": canonical(number), "mode": mode.value, "national": national}


@pytest.mark.parametrize("number", ["3000", "3010", "3099", "3100", "3117", "3199"])
def test_30pq_and_31pq_are_allowed(number):
    assert codes(number) == []


def test_other_tables_can_be_loaded(tmp_path: Path):
    # Kept as data (R-F4 "keep the table in configuration"): another file decides differently.
    path = tmp_path / "numbering.toml"
    path.write_text(
        'last_checked = 2027-01-15\n'
        '[npv]\nmetropolitan = ["0145"]\noverseas = []\n'
        '[forbidden]\nprefixes = ["0899"]\nshort_3bpq_except = ["36"]\n', "utf-8")
    tables = load_tables(path)
    assert tables.last_checked == dt.date(2027, 1, 15)
    assert (tables.npv_roots, tables.forbidden_prefixes, tables.short_3bpq_except) == (
        ("0145",), ("0899",), ("36",))

    def found(number):
        return [r.code.value for r in check_presented(
            number, principal="acme", mode=DialMode.PREDICTIVE, today=TODAY,
            inventory=held(number), tables=tables)]

    assert found("3650") == [] and found("3010") == ["CALLER_ID_FORBIDDEN_RANGE"]
    assert found("0145678901") == [] and found("0162000012") == ["NPV_REQUIRED"]
    assert found("0890123456") == [] and found("0899123456") == ["CALLER_ID_FORBIDDEN_RANGE"]


@pytest.mark.parametrize(("presented", "national"), [
    ("+33145678901", "0145678901"), ("+262262201234", "0262201234"),
    ("+262692123456", "0692123456"), ("+590590331234", "0590331234"),
    ("+590690123456", "0690123456"), ("+596596301234", "0596301234"),
    ("+596696201234", "0696201234"), ("+594594301234", "0594301234"),
    ("+594694201234", "0694201234"), ("+508411234", "0508411234"),
    ("0596301234", "0596301234"), ("3117", "3117"), ("118218", "118218"),
    ("+3225551212", None), ("+33 1 45 67 89 01", "0145678901"), ("bonjour", None),
])
def test_the_national_form_of_every_plan(presented, national):
    assert national_form(presented) == national


@pytest.mark.parametrize("number", ["0690123456", "0694201234", "0696201234", "0639012345"])
def test_overseas_mobiles_are_mobiles(number):
    # R-F5: 06/07 mobile numbers, overseas ones included.
    assert codes(number) == ["MOBILE_CLI_NOT_ALLOWED"]


def test_evidence_of_each_finding():
    assert check(None, inventory=())[0].inputs == {}  # R-F1
    assert check("anonymous", inventory=())[0].code is ReasonCode.CLI_WITHHELD
    # A foreign number: only R-F2 speaks of it (R-F3 to R-F5 name French ranges).
    [foreign] = check("+3225551212", inventory=())
    assert foreign.code is ReasonCode.CALLER_ID_NOT_AUTHORISED
    assert foreign.inputs == {"caller_id": "+3225551212", "mode": "predictive"}
    assert check("+3225551212") == []
    [illegible] = check("12ab", inventory=())
    assert illegible.code is ReasonCode.CALLER_ID_NOT_AUTHORISED
    assert illegible.inputs == {"caller_id": "12ab", "mode": "predictive", "detail": "illisible"}
    [not_held] = check("0162000012", DialMode.MANUAL, inventory=())
    assert not_held.code is ReasonCode.CALLER_ID_NOT_AUTHORISED
    assert not_held.inputs == {"caller_id": "+33162000012", "mode": "manual"}
    [mobile] = check("0612345678")
    assert mobile.inputs == {"caller_id": "+33612345678", "mode": "predictive"}
    assert mobile.resolved_effect is Effect.DENY


def test_a_manual_call_may_show_a_mobile_of_the_inventory_and_is_warned_otherwise():
    # R-F5: "warn for manual calls unless in the inventory".
    assert codes("0612345678", DialMode.MANUAL) == []
    found = check("0612345678", DialMode.MANUAL, inventory=())
    assert [(r.code, r.resolved_effect) for r in found] == [
        (ReasonCode.CALLER_ID_NOT_AUTHORISED, Effect.DENY),
        (ReasonCode.MOBILE_CLI_NOT_ALLOWED, Effect.WARN)]
    assert found[1].inputs == {"caller_id": "+33612345678", "mode": "manual"}


# -- R-F2 to R-F5 for every purpose, R-F1 for prospecting and surveys (2026-11-26) -------------
@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize(("presented", "mode", "code"), [
    ("0145678901", DialMode.PREDICTIVE, "NPV_REQUIRED"),
    ("0612345678", DialMode.PROGRESSIVE, "MOBILE_CLI_NOT_ALLOWED"),
    ("0899123456", DialMode.MANUAL, "CALLER_ID_FORBIDDEN_RANGE"),
])
def test_caller_id_rules_apply_to_every_purpose(purpose, presented, mode, code):
    campaign = Campaign("c", "acme", purpose, mode, presented, scope="energie",
                        cli_policy="refuse")
    facts = Facts(campaign, "t", history=CONSENTED, inventory=held(presented))
    v = decide(CallRequest("0612345678", "t"), facts, NOW, RULES)
    assert not v.allowed and code in v.codes


@pytest.mark.parametrize(("purpose", "refused"), [
    (Purpose.PROSPECTING, True), (Purpose.SURVEY, True),
    (Purpose.SERVICE, False), (Purpose.B2B, False),
])
def test_a_withheld_number_is_refused_for_prospecting_and_surveys_only(purpose, refused):
    campaign = Campaign("c", "acme", purpose, DialMode.MANUAL, None, scope="energie")
    v = decide(CallRequest("0612345678", "t"), Facts(campaign, "t", history=CONSENTED), NOW, RULES)
    assert ("CLI_WITHHELD" in v.codes) is refused and v.allowed is not refused
