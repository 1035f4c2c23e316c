"""R-D2: the holiday tables themselves (national days of L3133-1, Alsace-Moselle's, abolition days).

Expected dates are the calendar's, written out by hand; Easter dates are the published ones.
"""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.policy.holidays import (
    Holiday,
    abolition_holidays,
    alsace_moselle_holidays,
    easter_sunday,
    holidays_on,
    national_holidays,
)
from astguard.policy.numbers import Territory

D = dt.date


# Published Gregorian Easter Sundays, chosen across centuries (the algorithm's century terms) and
# at both ends of the possible range (22 March, 25 April).
@pytest.mark.parametrize("day", [
    D(1818, 3, 22), D(1886, 4, 25), D(1900, 4, 15), D(1943, 4, 25), D(1961, 4, 2),
    D(2000, 4, 23), D(2008, 3, 23), D(2011, 4, 24), D(2019, 4, 21), D(2024, 3, 31),
    D(2025, 4, 20), D(2026, 4, 5), D(2027, 3, 28), D(2038, 4, 25), D(2285, 3, 22),
])
def test_easter_sunday(day):
    assert easter_sunday(day.year) == day
    assert day.weekday() == 6


def _easter_usno(year: int) -> dt.date:
    """Gregorian Easter by another published method (J.-M. Oudin, 1940, as the US Naval
    Observatory gives it), to check every year against the module's Meeus/Jones/Butcher."""
    c = year // 100
    n = year - 19 * (year // 19)
    k = (c - 17) // 25
    i = c - c // 4 - (c - k) // 3 + 19 * n + 15
    i = i - 30 * (i // 30)
    i = i - (i // 28) * (1 - (i // 28) * (29 // (i + 1)) * ((21 - n) // 11))
    j = year + year // 4 + i + 2 - c + c // 4
    j = j - 7 * (j // 7)
    el = i - j
    month = 3 + (el + 40) // 44
    return D(year, month, el + 28 - 31 * (month // 4))


def test_easter_every_gregorian_year_agrees_with_another_method():
    for day in (D(1818, 3, 22), D(2026, 4, 5), D(2038, 4, 25), D(2285, 3, 22)):
        assert _easter_usno(day.year) == day
    assert [y for y in range(1583, 4100) if easter_sunday(y) != _easter_usno(y)] == []


def test_national_days_of_2028_with_their_scope():
    # R-D2, L3133-1: Easter 2028 is 16 April.
    assert national_holidays(2028) == tuple(Holiday(day, name, "national") for day, name in [
        (D(2028, 1, 1), "Jour de l'an"), (D(2028, 4, 17), "Lundi de Pâques"),
        (D(2028, 5, 1), "Fête du Travail"), (D(2028, 5, 8), "Victoire 1945"),
        (D(2028, 5, 25), "Ascension"), (D(2028, 6, 5), "Lundi de Pentecôte"),
        (D(2028, 7, 14), "Fête nationale"), (D(2028, 8, 15), "Assomption"),
        (D(2028, 11, 1), "Toussaint"), (D(2028, 11, 11), "Armistice 1918"),
        (D(2028, 12, 25), "Noël"),
    ])


def test_alsace_moselle_days():
    # R-D2 (I): Good Friday (Easter 2027 is 28 March) and 26 December.
    assert alsace_moselle_holidays(2027) == (
        Holiday(D(2027, 3, 26), "Vendredi saint (Alsace-Moselle)", "alsace-moselle"),
        Holiday(D(2027, 12, 26), "Saint-Étienne (Alsace-Moselle)", "alsace-moselle"),
    )


# R-D2 (I): the rule book's abolition days, per territory.
ABOLITION = {
    Territory.MAYOTTE: [(4, 27)], Territory.MARTINIQUE: [(5, 22)],
    Territory.GUADELOUPE: [(5, 27)], Territory.SAINT_MARTIN: [(5, 27), (5, 28)],
    Territory.GUYANE: [(6, 10)], Territory.SAINT_BARTHELEMY: [(10, 9)],
    Territory.REUNION: [(12, 20)], Territory.METRO: [], Territory.SAINT_PIERRE_ET_MIQUELON: [],
}


@pytest.mark.parametrize("territory", list(Territory))
def test_abolition_days_of_every_territory(territory):
    assert abolition_holidays(2027, territory) == tuple(
        Holiday(D(2027, m, d), f"Abolition de l'esclavage ({territory.value})", territory.value)
        for m, d in ABOLITION[territory])


def test_christmas_stays_a_holiday_in_alsace_moselle():
    # R-D2: the local days add to the national ones, they never replace them.
    assert [h.name for h in holidays_on(D(2026, 12, 25), frozenset({Territory.METRO}),
                                        alsace_moselle=True, local_days=True)] == ["Noël"]
    assert [h.name for h in holidays_on(D(2026, 12, 26), frozenset({Territory.METRO}),
                                        alsace_moselle=True, local_days=True)] \
        == ["Saint-Étienne (Alsace-Moselle)"]
    assert holidays_on(D(2026, 12, 26), frozenset({Territory.METRO}),
                       alsace_moselle=False, local_days=True) == []


def test_local_days_switched_off_leave_the_national_ones():
    # R-D2: only the L3133-1 days are V; the local ones are a setting (I).
    everywhere = frozenset(Territory)
    assert holidays_on(D(2027, 3, 26), everywhere, alsace_moselle=True, local_days=False) == []
    assert holidays_on(D(2027, 5, 27), everywhere, alsace_moselle=True, local_days=False) == []
    assert [h.name for h in holidays_on(D(2027, 5, 6), everywhere, alsace_moselle=True,
                                        local_days=False)] == ["Ascension"]


def test_a_day_that_is_a_holiday_in_several_candidate_territories():
    # R-D2 + R-D4: a +590 number may be in Guadeloupe, Saint-Barthélemy or Saint-Martin; 27 May
    # is a holiday in two of them, and each is reported.
    found = holidays_on(D(2027, 5, 27), frozenset({Territory.GUADELOUPE, Territory.SAINT_MARTIN,
                                                   Territory.SAINT_BARTHELEMY}),
                        alsace_moselle=False, local_days=True)
    assert [(h.name, h.scope) for h in found] == [
        ("Abolition de l'esclavage (GP)", "GP"), ("Abolition de l'esclavage (MF)", "MF")]
    assert [h.scope for h in holidays_on(D(2027, 5, 28), frozenset({Territory.SAINT_MARTIN}),
                                         alsace_moselle=False, local_days=True)] == ["MF"]
