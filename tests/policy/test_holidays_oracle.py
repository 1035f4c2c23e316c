"""R-D2 against the `holidays` package (a well-kept public calendar) as an oracle: for every year
2024-2040 and every territory, astguard's holidays are the package's, except the differences
the rule book decides, each listed here with its reason."""

from __future__ import annotations

import datetime as dt

import holidays
import pytest

from astguard.policy.holidays import (
    abolition_holidays,
    alsace_moselle_holidays,
    national_holidays,
)
from astguard.policy.numbers import Territory

# The package's subdivision for each place astguard tells apart.
PLACES: dict[str, tuple[str | None, Territory | None, bool]] = {
    "métropole": (None, None, False),
    "Alsace-Moselle": ("57", None, True),
    "Guadeloupe": ("971", Territory.GUADELOUPE, False),
    "Martinique": ("972", Territory.MARTINIQUE, False),
    "Guyane": ("973", Territory.GUYANE, False),
    "La Réunion": ("974", Territory.REUNION, False),
    "Mayotte": ("976", Territory.MAYOTTE, False),
    "Saint-Barthélemy": ("BL", Territory.SAINT_BARTHELEMY, False),
    "Saint-Martin": ("MF", Territory.SAINT_MARTIN, False),
    "Saint-Pierre-et-Miquelon": ("PM", Territory.SAINT_PIERRE_ET_MIQUELON, False),
}

# Days the package lists that astguard does not block: customary days that no text makes
# public holidays (the rule book blocks the 11 days of L3133-1, Alsace-Moselle's two and each
# territory's abolition day, rules-fr R-D2). Guadeloupe's Good Friday is customary there (the
# Alsace-Moselle one rests on the local law, L3134-13).
NOT_BLOCKED = {
    "Guadeloupe": {"Mi-Carême", "Vendredi saint", "Fête de Victor Schoelcher"},
    "Martinique": {"Fête de Victor Schoelcher"},
    "Saint-Martin": {"Fête de Victor Schoelcher"},
}
# Days astguard blocks that the package does not list: Saint-Martin's abolition day is
# 28 May for the package; the rule book keeps 27 and 28 May (open question, strict reading).
ALSO_BLOCKED = {"Saint-Martin": {(5, 27)}}


def _ours(year: int, territory: Territory | None, alsace: bool) -> set[dt.date]:
    days = {h.day for h in national_holidays(year)}
    if alsace:
        days |= {h.day for h in alsace_moselle_holidays(year)}
    if territory is not None:
        days |= {h.day for h in abolition_holidays(year, territory)}
    return days


@pytest.mark.parametrize("place", sorted(PLACES))
def test_holidays_match_the_package_but_for_the_rule_books_choices(place):
    subdiv, territory, alsace = PLACES[place]
    for year in range(2024, 2041):
        theirs = holidays.France(subdiv=subdiv, years=year, language="fr")
        ours = _ours(year, territory, alsace)
        missing = {theirs[d] for d in set(theirs) - ours}
        assert missing == NOT_BLOCKED.get(place, set()), (place, year)
        extra = {(d.month, d.day) for d in ours - set(theirs)}
        assert extra == ALSO_BLOCKED.get(place, set()), (place, year)
