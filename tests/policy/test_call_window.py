"""R-D1 to R-D4, table-driven, through the one `decide` (the clock passed in)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from astguard.policy import CallRequest, Campaign, DialMode, Facts, Purpose, RuleSettings, decide
from astguard.policy.model import Regime
from astguard.policy.holidays import easter_sunday, national_holidays
from astguard.settings import DEFAULT_EMERGENCY
from tests.policy.facts import CONSENTED, INVENTORY

PARIS = ZoneInfo("Europe/Paris")
# Hours are tested under one regime with a valid consent, so only the hour rules speak.
RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY), regime=Regime.CONSENT)
PROSPECT = Campaign("c", "acme", Purpose.PROSPECTING, DialMode.MANUAL, "+33162123456",
                    scope="energie")
METRO_MOBILE = "0612345678"
PARIS_FIXED = "0145678901"


def verdict(number: str, when: dt.datetime, rules: RuleSettings = RULES, department=None):
    call = CallRequest(number, "test", department=department)
    return decide(call, Facts(PROSPECT, "test", history=CONSENTED, inventory=INVENTORY), when, rules)


def paris(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


# Friday 27 November 2026, an ordinary working day.
@pytest.mark.parametrize(
    ("hms", "allowed"),
    [
        ((9, 59, 59), False), ((10, 0, 0), True), ((12, 59, 59), True), ((13, 0, 0), False),
        ((13, 59, 59), False), ((14, 0, 0), True), ((19, 59, 59), True), ((20, 0, 0), False),
    ],
)
def test_window_edges_start_inclusive_end_exclusive(hms, allowed):
    v = verdict(PARIS_FIXED, paris(2026, 11, 27, *hms))
    assert v.allowed is allowed
    assert v.codes == ([] if allowed else ["OUTSIDE_CALL_WINDOW"])


def test_window_end_margin_is_configurable():
    rules = RuleSettings(emergency_numbers=RULES.emergency_numbers,
                         window_end_margin=dt.timedelta(minutes=5), regime=Regime.CONSENT)
    assert not verdict(PARIS_FIXED, paris(2026, 11, 27, 19, 55), rules).allowed
    assert verdict(PARIS_FIXED, paris(2026, 11, 27, 19, 54, 59), rules).allowed
    assert not verdict(PARIS_FIXED, paris(2026, 11, 27, 12, 56), rules).allowed


@pytest.mark.parametrize("day", [28, 29])  # Saturday, Sunday
def test_weekend_refused_outside_call_days(day):
    v = verdict(PARIS_FIXED, paris(2026, 11, day, 11, 0))
    assert v.codes == ["OUTSIDE_CALL_DAYS"]
    assert "samedi" in v.reasons[0].text or "dimanche" in v.reasons[0].text


def test_every_failing_rule_is_reported():
    # Sunday 1 November 2026 (Toussaint) at 21:00: day, holiday and hour all fail.
    v = verdict(PARIS_FIXED, paris(2026, 11, 1, 21, 0))
    assert v.codes == ["OUTSIDE_CALL_DAYS", "PUBLIC_HOLIDAY", "OUTSIDE_CALL_WINDOW"]


NATIONAL = {
    2026: {
        dt.date(2026, 1, 1): "Jour de l'an", dt.date(2026, 4, 6): "Lundi de Pâques",
        dt.date(2026, 5, 1): "Fête du Travail", dt.date(2026, 5, 8): "Victoire 1945",
        dt.date(2026, 5, 14): "Ascension", dt.date(2026, 5, 25): "Lundi de Pentecôte",
        dt.date(2026, 7, 14): "Fête nationale", dt.date(2026, 8, 15): "Assomption",
        dt.date(2026, 11, 1): "Toussaint", dt.date(2026, 11, 11): "Armistice 1918",
        dt.date(2026, 12, 25): "Noël",
    },
    2027: {
        dt.date(2027, 1, 1): "Jour de l'an", dt.date(2027, 3, 29): "Lundi de Pâques",
        dt.date(2027, 5, 1): "Fête du Travail", dt.date(2027, 5, 8): "Victoire 1945",
        dt.date(2027, 5, 6): "Ascension", dt.date(2027, 5, 17): "Lundi de Pentecôte",
        dt.date(2027, 7, 14): "Fête nationale", dt.date(2027, 8, 15): "Assomption",
        dt.date(2027, 11, 1): "Toussaint", dt.date(2027, 11, 11): "Armistice 1918",
        dt.date(2027, 12, 25): "Noël",
    },
}


@pytest.mark.parametrize(
    ("day", "name"), [(d, n) for year in NATIONAL.values() for d, n in year.items()])
def test_each_national_holiday_of_2026_and_2027_is_refused_with_its_name(day, name):
    v = verdict(PARIS_FIXED, paris(day.year, day.month, day.day, 11, 0))
    assert "PUBLIC_HOLIDAY" in v.codes
    holiday = next(r for r in v.reasons if r.code == "PUBLIC_HOLIDAY")
    assert holiday.inputs["holiday"] == name
    assert name in holiday.text


@pytest.mark.parametrize("year", [2026, 2027])
def test_national_holiday_table_matches_the_calendar(year):
    assert {h.day: h.name for h in national_holidays(year)} == NATIONAL[year]


def test_easter_dates():
    assert easter_sunday(2026) == dt.date(2026, 4, 5)
    assert easter_sunday(2027) == dt.date(2027, 3, 28)
    assert easter_sunday(2038) == dt.date(2038, 4, 25)


def test_day_after_a_holiday_is_open():
    assert verdict(PARIS_FIXED, paris(2026, 5, 15, 11, 0)).allowed  # Friday after Ascension


@pytest.mark.parametrize(
    ("number", "day", "blocked"),
    [
        ("0387123456", dt.date(2026, 4, 3), True),  # Moselle fixed, Good Friday 2026
        ("0388123456", dt.date(2026, 12, 26), None),  # Saturday anyway: see below
        ("0389123456", dt.date(2027, 3, 26), True),  # Haut-Rhin, Good Friday 2027
        ("0388123456", dt.date(2027, 12, 27), False),  # Monday 27 Dec 2027: not a holiday
        ("0145678901", dt.date(2026, 4, 3), False),  # Paris fixed: not Alsace-Moselle
        ("0612345678", dt.date(2026, 4, 3), True),  # mobile: department unknown, strict
        ("0380123456", dt.date(2026, 4, 3), True),  # other 03: department not told, strict
    ],
)
def test_alsace_moselle_good_friday_and_26_december(number, day, blocked):
    v = verdict(number, paris(day.year, day.month, day.day, 11, 0))
    if blocked is None:
        assert "OUTSIDE_CALL_DAYS" in v.codes
        return
    assert ("PUBLIC_HOLIDAY" in v.codes) is blocked
    if blocked:
        assert "Alsace-Moselle" in next(r for r in v.reasons if r.code == "PUBLIC_HOLIDAY").text


def test_alsace_moselle_26_december_on_a_weekday():
    # 26 December 2025 was a Friday.
    v = verdict("0388123456", paris(2025, 12, 26, 11, 0))
    assert v.codes == ["PUBLIC_HOLIDAY"]
    assert v.reasons[0].inputs["holiday"].startswith("Saint-Étienne")


def test_alsace_moselle_unknown_department_can_be_relaxed_by_setting():
    rules = RuleSettings(emergency_numbers=RULES.emergency_numbers,
                         alsace_moselle_when_unknown=False, regime=Regime.CONSENT)
    assert verdict("0612345678", paris(2026, 4, 3, 11, 0), rules).allowed
    assert not verdict("0387123456", paris(2026, 4, 3, 11, 0), rules).allowed


def test_known_address_settles_alsace_moselle():
    assert verdict("0612345678", paris(2026, 4, 3, 11, 0), department="75").allowed
    v = verdict("0612345678", paris(2026, 4, 3, 11, 0), department="57")
    assert "PUBLIC_HOLIDAY" in v.codes


def test_local_holidays_can_be_switched_off():
    rules = RuleSettings(emergency_numbers=RULES.emergency_numbers, local_holidays=False, regime=Regime.CONSENT)
    assert verdict("0387123456", paris(2026, 4, 3, 11, 0), rules).allowed


# Daylight saving time: 29 March 2026 and 25 October 2026 are Sundays, so the days around them
# are what matter: the window is local wall-clock time on both sides of the change.
@pytest.mark.parametrize(
    ("utc", "allowed"),
    [
        (dt.datetime(2026, 3, 27, 9, 0), True),  # Fri before DST starts: 10:00 CET
        (dt.datetime(2026, 3, 27, 8, 59, 59), False),
        (dt.datetime(2026, 3, 30, 8, 0), True),  # Mon after: 10:00 CEST = 08:00 UTC
        (dt.datetime(2026, 3, 30, 7, 59, 59), False),
        (dt.datetime(2026, 3, 30, 17, 59, 59), True),  # 19:59:59 CEST
        (dt.datetime(2026, 3, 30, 18, 0), False),
        (dt.datetime(2026, 10, 23, 17, 59, 59), True),  # Fri before DST ends: 19:59:59 CEST
        (dt.datetime(2026, 10, 23, 18, 0), False),
        (dt.datetime(2026, 10, 26, 18, 59, 59), True),  # Mon after: 19:59:59 CET
        (dt.datetime(2026, 10, 26, 19, 0), False),
        (dt.datetime(2026, 3, 29, 9, 0), False),  # the DST Sundays themselves
        (dt.datetime(2026, 10, 25, 10, 0), False),
    ],
)
def test_dst_changes(utc, allowed):
    v = verdict(PARIS_FIXED, utc.replace(tzinfo=dt.UTC))
    assert v.allowed is allowed


@pytest.mark.parametrize(
    ("number", "zones", "territories"),
    [
        ("0262201234", ["Indian/Reunion"], ["RE"]),
        ("0692123456", ["Indian/Mayotte", "Indian/Reunion"], ["RE", "YT"]),  # 69x: both
        # R-D4 (2026-11-26): territories from every plan that claims the number. FR's plan
        # claims 026[013-9], 059[1-35-9] and 05[0-8]: those numbers get Paris's zone too.
        ("0269612345", ["Europe/Paris", "Indian/Mayotte"], ["FR", "YT"]),
        ("0590201234", ["America/Guadeloupe"], ["GP"]),
        ("0590271234", ["America/Guadeloupe", "America/Marigot", "America/St_Barthelemy"],
         ["BL", "GP", "MF"]),
        ("0596601234", ["America/Martinique", "Europe/Paris"], ["FR", "MQ"]),
        ("0594201234", ["America/Cayenne"], ["GF"]),
        ("0508412345", ["America/Miquelon", "Europe/Paris"], ["FR", "PM"]),
        ("+262692123456", ["Indian/Mayotte", "Indian/Reunion"], ["RE", "YT"]),
        ("+33262201234", ["Indian/Reunion"], ["RE"]),
    ],
)
def test_overseas_numbers_get_their_own_zones(number, zones, territories):
    v = verdict(number, paris(2026, 11, 27, 12, 0))
    assert v.as_dict()["zones"] == zones
    assert v.as_dict()["territories"] == territories


@pytest.mark.parametrize(
    ("number", "utc_hm", "allowed"),
    [
        # Réunion is UTC+4: 10:00 local = 06:00 UTC, 20:00 local = 16:00 UTC.
        ("0262201234", (6, 0), True), ("0262201234", (5, 59), False),
        ("0262201234", (15, 59), True), ("0262201234", (16, 0), False),
        # A 069x mobile may be in Mayotte (UTC+3) too: both must be inside the window.
        ("0692123456", (6, 0), False), ("0692123456", (7, 0), True),
        ("0692123456", (15, 59), True), ("0692123456", (16, 0), False),
        # 0269 is Mayotte (UTC+3) and, in FR's plan, metropolitan: both windows apply.
        ("0269612345", (7, 0), False), ("0269612345", (9, 0), True),
        ("0269612345", (6, 59), False), ("0269612345", (10, 0), False),  # 13:00 Mayotte
        # Guadeloupe and Martinique UTC-4, Guyane UTC-3, Saint-Pierre UTC-3 (winter).
        ("0590201234", (14, 0), True), ("0590201234", (13, 59), False),
        ("0590201234", (23, 59), True),  # 19:59 in Guadeloupe, which alone claims 0590 20
        ("0596601234", (14, 0), True), ("0596601234", (18, 59), True),  # 14:59 MQ, 19:59 Paris
        ("0596601234", (19, 0), False),  # 20:00 in Paris, 15:00 in Martinique
        ("0596601234", (23, 59), False), ("0596601234", (0, 0), None),
        ("0594201234", (13, 0), True), ("0594201234", (12, 59), False),
        ("0508412345", (13, 0), True), ("0508412345", (12, 59), False),  # 09:59 Miquelon
        ("0508412345", (19, 0), False),  # 16:00 Miquelon but 20:00 Paris
    ],
)
def test_overseas_windows_in_the_consumers_time(number, utc_hm, allowed):
    when = dt.datetime(2026, 11, 27, *utc_hm, tzinfo=dt.UTC)
    if allowed is None:  # 20:00 in Martinique, the next day in UTC
        when = dt.datetime(2026, 11, 28, 0, 0, tzinfo=dt.UTC)
        allowed = False
    assert verdict(number, when).allowed is allowed


@pytest.mark.parametrize(
    ("number", "day", "name"),
    [
        ("0269612345", dt.date(2026, 4, 27), "YT"),
        ("0596601234", dt.date(2026, 5, 22), "MQ"),
        ("0590201234", dt.date(2026, 5, 27), "GP"),
        ("0590091234", dt.date(2026, 5, 28), "MF"),  # Saint-Martin: 27 and 28 May
        ("0594201234", dt.date(2026, 6, 10), "GF"),
        ("0590271234", dt.date(2026, 10, 9), "BL"),
        ("0590201234", dt.date(2026, 10, 9), None),  # Guadeloupe alone: not BL's day
        ("0262201234", dt.date(2026, 12, 18), None),  # a Friday two days before: open
        ("0262201234", dt.date(2027, 12, 20), "RE"),
    ],
)
def test_overseas_abolition_days(number, day, name):
    # 10:00 local in the territory is between 06:00 and 14:00 UTC; noon UTC fits them all
    # except Réunion/Mayotte (16:00/15:00 local) which are still inside the window.
    v = verdict(number, dt.datetime(day.year, day.month, day.day, 12, 0, tzinfo=dt.UTC))
    holidays = [r for r in v.reasons if r.code == "PUBLIC_HOLIDAY"]
    if name is None:
        assert not holidays
    else:
        assert holidays and f"({name})" in holidays[0].inputs["holiday"]


def test_metropolitan_number_not_blocked_on_overseas_days():
    assert verdict(PARIS_FIXED, paris(2026, 5, 22, 11, 0)).allowed  # Martinique's day


def test_national_holiday_applies_overseas():
    v = verdict("0262201234", dt.datetime(2026, 7, 14, 8, 0, tzinfo=dt.UTC))
    assert "PUBLIC_HOLIDAY" in v.codes


def test_local_times_are_reported_for_every_zone():
    v = verdict("0692123456", dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC))
    assert [t.as_dict() for t in v.local_times] == [
        {"zone": "Indian/Mayotte", "local": "2026-11-27T11:00:00+03:00"},
        {"zone": "Indian/Reunion", "local": "2026-11-27T12:00:00+04:00"},
    ]
