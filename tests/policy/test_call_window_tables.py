"""R-D1 to R-D4 beyond single examples: every department of a known address, the zones it adds,
what the evidence says of each failing zone, and the TIMEZONE_UNKNOWN branch."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.call_window import (
    ConsumerPlace,
    DepartmentError,
    check_call_window,
    consumer_place,
    department_territory,
)
from astguard.policy.model import Regime
from astguard.policy.numbers import Territory, parse_number
from astguard.policy.reasons import Reason, ReasonCode
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED, INVENTORY

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY), regime=Regime.CONSENT)
PROSPECT = Campaign("c", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                    scope="energie")
UTC = dt.UTC


def verdict(number: str, when: dt.datetime, department: str | None = None, rules=RULES):
    return decide(CallRequest(number, "test", department=department),
                  Facts(PROSPECT, "test", history=CONSENTED, inventory=INVENTORY), when, rules)


# Metropolitan departments 01 to 95 (no "20": Corsica is 2A and 2B).
METRO_DEPARTMENTS = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
OVERSEAS_DEPARTMENTS = {
    "971": Territory.GUADELOUPE, "972": Territory.MARTINIQUE, "973": Territory.GUYANE,
    "974": Territory.REUNION, "975": Territory.SAINT_PIERRE_ET_MIQUELON,
    "976": Territory.MAYOTTE, "977": Territory.SAINT_BARTHELEMY, "978": Territory.SAINT_MARTIN,
}


@pytest.mark.parametrize("department", METRO_DEPARTMENTS)
def test_every_metropolitan_department(department):
    assert department_territory(department) is Territory.METRO


@pytest.mark.parametrize(("department", "territory"), list(OVERSEAS_DEPARTMENTS.items()))
def test_every_overseas_department(department, territory):
    assert department_territory(department) is territory


@pytest.mark.parametrize("written", ["2a", "2b", " 2A ", " 75", "01 "])
def test_department_as_a_crm_writes_it(written):
    assert department_territory(written) is Territory.METRO


@pytest.mark.parametrize("department", ["00", "20", "96", "99", "970", "979", "2C", "7", "075",
                                        "", "A1"])
def test_unknown_department_is_an_error_naming_it(department):
    with pytest.raises(DepartmentError) as caught:
        department_territory(department)
    assert repr(department) in str(caught.value)


@pytest.mark.parametrize("department", ["20", "96", "2C"])
def test_unknown_department_refuses_the_call(department):
    # R-D4: the consumer's zone cannot be told: TIMEZONE_UNKNOWN, and the call is refused.
    v = verdict("0145678901", dt.datetime(2026, 11, 27, 10, 0, tzinfo=UTC), department)
    assert v.codes == ["TIMEZONE_UNKNOWN"] and not v.allowed
    assert repr(department) in v.reasons[0].inputs["detail"]


def test_no_candidate_zone_at_all_is_timezone_unknown():
    # R-D4 "No zone → TIMEZONE_UNKNOWN".
    place = ConsumerPlace((), frozenset(), alsace_moselle=False)
    found = check_call_window(place, (), RULES)
    assert found == [Reason(ReasonCode.TIMEZONE_UNKNOWN, {})]
    assert found[0].inputs == {}


@pytest.mark.parametrize(("department", "zone"), [
    ("971", "America/Guadeloupe"), ("972", "America/Martinique"), ("973", "America/Cayenne"),
    ("974", "Indian/Reunion"), ("975", "America/Miquelon"), ("976", "Indian/Mayotte"),
    ("977", "America/St_Barthelemy"), ("978", "America/Marigot"),
])
def test_an_overseas_address_adds_its_zone_to_a_metropolitan_mobile(department, zone):
    # R-D4: candidates come from the number AND the known address; every one must be open.
    place = consumer_place(parse_number("0612345678"), department, RULES)
    assert place.zones == tuple(sorted({"Europe/Paris", zone}))
    assert place.territories == {Territory.METRO, OVERSEAS_DEPARTMENTS[department]}


def test_a_mobile_at_an_address_in_cayenne_is_refused_when_cayenne_is_early():
    # R-D4: 10:30 UTC on Friday 27 Nov 2026 is 11:30 in Paris and 07:30 in Cayenne.
    v = verdict("0612345678", dt.datetime(2026, 11, 27, 10, 30, tzinfo=UTC), "973")
    assert v.codes == ["OUTSIDE_CALL_WINDOW"]
    assert v.reasons[0].inputs["zones"] == ["America/Cayenne"]
    assert verdict("0612345678", dt.datetime(2026, 11, 27, 10, 30, tzinfo=UTC), "75").allowed


@pytest.mark.parametrize(("number", "department", "expected"), [
    ("0612345678", "57", True), ("0612345678", "67", True), ("0612345678", "68", True),
    ("0612345678", "75", False), ("0612345678", "54", False),
    ("0388123456", "75", True),  # the number says Bas-Rhin: kept (strict)
    ("0145678901", "67", True),
])
def test_a_known_address_settles_alsace_moselle(number, department, expected):
    # R-D2: 57, 67, 68 are Alsace-Moselle; a known address replaces the "cannot tell" default.
    relaxed = RuleSettings(emergency_numbers=RULES.emergency_numbers,
                           alsace_moselle_when_unknown=False)
    for rules in (RULES, relaxed):
        assert consumer_place(parse_number(number), department, rules).alsace_moselle is expected


def test_good_friday_refused_for_a_mobile_at_an_address_in_moselle():
    # R-D2: Good Friday 2027 is 26 March; 10:00 UTC is 11:00 in Metz.
    when = dt.datetime(2027, 3, 26, 10, 0, tzinfo=UTC)
    assert verdict("0612345678", when, "57").codes == ["PUBLIC_HOLIDAY"]
    assert verdict("0612345678", when, "75").allowed


def test_outside_the_window_in_every_zone_says_which_and_when():
    # R-D3/R-D4: 17:30 UTC on Friday 27 Nov 2026 is 20:30 in Mayotte and 21:30 in Réunion.
    v = verdict("0692123456", dt.datetime(2026, 11, 27, 17, 30, tzinfo=UTC))
    assert v.codes == ["OUTSIDE_CALL_WINDOW"]
    assert v.reasons[0].inputs == {
        "local": "vendredi 27/11/2026 20:30:00 Indian/Mayotte, "
                 "vendredi 27/11/2026 21:30:00 Indian/Reunion",
        "zones": ["Indian/Mayotte", "Indian/Reunion"],
        "local_times": ["2026-11-27T20:30:00+03:00", "2026-11-27T21:30:00+04:00"],
    }


def test_only_the_failing_zone_is_reported():
    # 16:30 UTC: 19:30 in Mayotte (open), 20:30 in Réunion (closed): refused, for Réunion.
    v = verdict("0692123456", dt.datetime(2026, 11, 27, 16, 30, tzinfo=UTC))
    assert v.codes == ["OUTSIDE_CALL_WINDOW"]
    assert v.reasons[0].inputs["zones"] == ["Indian/Reunion"]


def test_weekend_evidence():
    # R-D1: Saturday 28 Nov 2026, 11:00 Paris.
    v = verdict("0145678901", dt.datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
    assert v.codes == ["OUTSIDE_CALL_DAYS"]
    assert v.reasons[0].inputs == {
        "local": "samedi 28/11/2026 11:00:00 Europe/Paris", "zones": ["Europe/Paris"],
        "local_times": ["2026-11-28T11:00:00+01:00"]}


def test_holiday_evidence():
    # R-D2: Christmas 2026 is a Friday.
    v = verdict("0145678901", dt.datetime(2026, 12, 25, 10, 0, tzinfo=UTC))
    assert v.codes == ["PUBLIC_HOLIDAY"]
    assert v.reasons[0].inputs == {
        "holiday": "Noël", "date": "2026-12-25", "scope": "national", "zone": "Europe/Paris",
        "local": "vendredi 25/12/2026 11:00:00 Europe/Paris"}


def test_two_holidays_on_one_day_are_both_reported():
    # R-D2 + R-D4: 0590 33 is claimed by the plans of Guadeloupe, Saint-Martin and
    # Saint-Barthélemy; 27 May 2027 (a Thursday) is a holiday in the first two. 15:00 UTC is
    # 11:00 in all three.
    v = verdict("0590331234", dt.datetime(2027, 5, 27, 15, 0, tzinfo=UTC))
    assert not v.allowed
    holidays = [r.inputs for r in v.reasons if r.code is ReasonCode.PUBLIC_HOLIDAY]
    assert {(h["holiday"], h["scope"]) for h in holidays} == {
        ("Abolition de l'esclavage (GP)", "GP"), ("Abolition de l'esclavage (MF)", "MF")}


def test_the_windows_in_each_of_the_consumers_zones_use_that_zones_clock():
    # R-D4 with a known address: Paris 10:00 exactly opens; the same instant is 05:00 in
    # Guadeloupe, so a metropolitan mobile at an address in 971 waits.
    when = dt.datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert verdict("0612345678", when).allowed
    v = verdict("0612345678", when, "971")
    assert v.codes == ["OUTSIDE_CALL_WINDOW"]
    assert v.reasons[0].inputs["local_times"] == ["2026-11-27T05:00:00-04:00"]
