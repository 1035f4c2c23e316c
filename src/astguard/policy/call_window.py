"""Days and hours in the consumer's time zones (R-D1 to R-D4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from astguard.errors import InvalidValue
from astguard.policy.holidays import holidays_on
from astguard.policy.model import LocalTime, RuleSettings
from astguard.policy.numbers import TERRITORY_ZONE, AlsaceMoselle, ConsumerNumber, Territory
from astguard.policy.reasons import Reason, ReasonCode

_ALSACE_MOSELLE_DEPARTMENTS = frozenset({"57", "67", "68"})
_DEPARTMENT_TERRITORY: dict[str, Territory] = {
    "971": Territory.GUADELOUPE,
    "972": Territory.MARTINIQUE,
    "973": Territory.GUYANE,
    "974": Territory.REUNION,
    "975": Territory.SAINT_PIERRE_ET_MIQUELON,
    "976": Territory.MAYOTTE,
    "977": Territory.SAINT_BARTHELEMY,
    "978": Territory.SAINT_MARTIN,
}


class DepartmentError(InvalidValue):
    pass


def department_territory(department: str) -> Territory:
    code = department.strip().upper()
    if code in _DEPARTMENT_TERRITORY:
        return _DEPARTMENT_TERRITORY[code]
    if code in ("2A", "2B") or (code.isdigit() and len(code) == 2 and 1 <= int(code) <= 95
                               and code != "20"):
        return Territory.METRO
    raise DepartmentError(f"département inconnu : {department!r}")


@dataclass(frozen=True, slots=True)
class ConsumerPlace:
    """Where the consumer may be: every candidate zone and territory (R-D4)."""

    zones: tuple[str, ...]
    territories: frozenset[Territory]
    alsace_moselle: bool


def consumer_place(
    number: ConsumerNumber, department: str | None, rules: RuleSettings
) -> ConsumerPlace:
    zones = set(number.zones)
    territories = set(number.territories)
    if department is not None:
        # A known address adds its zone; the number's candidates stay (strict reading of R-D4).
        territory = department_territory(department)
        territories.add(territory)
        zones.add(TERRITORY_ZONE[territory])
        in_am = department.strip() in _ALSACE_MOSELLE_DEPARTMENTS
        alsace_moselle = in_am or number.alsace_moselle is AlsaceMoselle.YES
    else:
        alsace_moselle = number.alsace_moselle is AlsaceMoselle.YES or (
            number.alsace_moselle is AlsaceMoselle.UNKNOWN and rules.alsace_moselle_when_unknown
        )
    return ConsumerPlace(tuple(sorted(zones)), frozenset(territories), alsace_moselle)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_times(now: dt.datetime, zones: tuple[str, ...]) -> tuple[LocalTime, ...]:
    return tuple(LocalTime(zone, now.astimezone(_zone(zone))) for zone in zones)


def _inside_window(t: dt.time, rules: RuleSettings) -> bool:
    for start, end in rules.windows:
        end_dt = dt.datetime.combine(dt.date.min, end) - rules.window_end_margin
        if start <= t < end_dt.time():
            return True
    return False


def check_call_window(
    place: ConsumerPlace, times: tuple[LocalTime, ...], rules: RuleSettings
) -> list[Reason]:
    """Every failing day/hour rule, each with the zones and local times that fail it."""
    if not times:
        return [Reason(ReasonCode.TIMEZONE_UNKNOWN, {})]  # R-D4
    days_off: list[LocalTime] = []
    outside: list[LocalTime] = []
    holidays: dict[str, dict[str, str]] = {}
    for lt in times:
        local_day = lt.local.date()
        if lt.local.weekday() >= 5:  # R-D1: Monday to Friday only
            days_off.append(lt)
        for holiday in holidays_on(  # R-D2
            local_day,
            place.territories,
            alsace_moselle=place.alsace_moselle,
            local_days=rules.local_holidays,
        ):
            holidays.setdefault(holiday.name, {
                "holiday": holiday.name,
                "date": holiday.day.isoformat(),
                "scope": holiday.scope,
                "zone": lt.zone,
                "local": _fmt(lt),
            })
        if not _inside_window(lt.local.time().replace(tzinfo=None), rules):  # R-D3
            outside.append(lt)
    reasons = []
    if days_off:
        reasons.append(Reason(ReasonCode.OUTSIDE_CALL_DAYS, _zone_inputs(days_off)))
    reasons.extend(Reason(ReasonCode.PUBLIC_HOLIDAY, inputs) for inputs in holidays.values())
    if outside:
        reasons.append(Reason(ReasonCode.OUTSIDE_CALL_WINDOW, _zone_inputs(outside)))
    return reasons


_JOURS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _fmt(lt: LocalTime) -> str:
    return f"{_JOURS[lt.local.weekday()]} {lt.local:%d/%m/%Y %H:%M:%S} {lt.zone}"


def _zone_inputs(failing: list[LocalTime]) -> dict[str, object]:
    return {
        "local": ", ".join(_fmt(lt) for lt in failing),
        "zones": [lt.zone for lt in failing],
        "local_times": [lt.local.isoformat() for lt in failing],
    }
