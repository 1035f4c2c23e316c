"""Public holidays on which prospecting calls are forbidden (R-D2).

National days: Code du travail L3133-1 (V). Local days (I, on by default): Alsace-Moselle's Good
Friday and 26 December, and each overseas territory's abolition-of-slavery day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from astguard.policy.numbers import Territory


@dataclass(frozen=True, slots=True)
class Holiday:
    day: dt.date
    name: str  # French
    scope: str  # "national", "alsace-moselle" or a territory code


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


# Abolition-of-slavery days (loi 83-550, décret 83-1003 as amended). Saint-Martin: 27 and 28 May
# are both kept (the rule book leaves the date open, the strict reading blocks both).
_ABOLITION: dict[Territory, tuple[tuple[int, int], ...]] = {
    Territory.MAYOTTE: ((4, 27),),
    Territory.MARTINIQUE: ((5, 22),),
    Territory.GUADELOUPE: ((5, 27),),
    Territory.SAINT_MARTIN: ((5, 27), (5, 28)),
    Territory.GUYANE: ((6, 10),),
    Territory.SAINT_BARTHELEMY: ((10, 9),),
    Territory.REUNION: ((12, 20),),
}


@lru_cache(maxsize=64)
def national_holidays(year: int) -> tuple[Holiday, ...]:
    easter = easter_sunday(year)
    days = [
        (dt.date(year, 1, 1), "Jour de l'an"),
        (easter + dt.timedelta(days=1), "Lundi de Pâques"),
        (dt.date(year, 5, 1), "Fête du Travail"),
        (dt.date(year, 5, 8), "Victoire 1945"),
        (easter + dt.timedelta(days=39), "Ascension"),
        (easter + dt.timedelta(days=50), "Lundi de Pentecôte"),
        (dt.date(year, 7, 14), "Fête nationale"),
        (dt.date(year, 8, 15), "Assomption"),
        (dt.date(year, 11, 1), "Toussaint"),
        (dt.date(year, 11, 11), "Armistice 1918"),
        (dt.date(year, 12, 25), "Noël"),
    ]
    return tuple(Holiday(day, name, "national") for day, name in days)


@lru_cache(maxsize=64)
def alsace_moselle_holidays(year: int) -> tuple[Holiday, ...]:
    return (
        Holiday(easter_sunday(year) - dt.timedelta(days=2), "Vendredi saint (Alsace-Moselle)",
                "alsace-moselle"),
        Holiday(dt.date(year, 12, 26), "Saint-Étienne (Alsace-Moselle)", "alsace-moselle"),
    )


def abolition_holidays(year: int, territory: Territory) -> tuple[Holiday, ...]:
    return tuple(
        Holiday(dt.date(year, month, day), f"Abolition de l'esclavage ({territory.value})",
                territory.value)
        for month, day in _ABOLITION.get(territory, ())
    )


def holidays_on(
    day: dt.date,
    territories: frozenset[Territory],
    *,
    alsace_moselle: bool,
    local_days: bool,
) -> list[Holiday]:
    """Every holiday that falls on `day` for a consumer who may live in any of `territories`."""
    found = [h for h in national_holidays(day.year) if h.day == day]
    if not local_days:
        return found
    if alsace_moselle:
        found += [h for h in alsace_moselle_holidays(day.year) if h.day == day]
    for territory in sorted(territories):
        found += [h for h in abolition_holidays(day.year, territory) if h.day == day]
    return found
