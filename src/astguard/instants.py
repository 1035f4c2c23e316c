"""Instants given by people and files: ISO-8601 with a UTC offset, never a guessed zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from astguard.errors import InputError


def parse_day(text: str, what: str) -> dt.date:
    """Raise ValueError, in French, naming `what`, unless `text` is a YYYY-MM-DD date."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} : date AAAA-MM-JJ attendue, pas {text!r}") from None


def parse_instant(text: str, what: str) -> dt.datetime:
    """Raise ValueError, in French, naming `what`, unless `text` is ISO-8601 with an offset."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} : date ISO-8601 attendue, pas {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{what} : préciser le fuseau, par exemple +01:00 ({text!r})")
    return value


def input_day(text: str | None, what: str) -> dt.date | None:
    """parse_day for what a person typed: None passes, a bad date is an InputError."""
    if text is None:
        return None
    try:
        return parse_day(text, what)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def input_instant(text: str, what: str) -> dt.datetime:
    """parse_instant for what a person typed: a bad instant is an InputError."""
    try:
        return parse_instant(text, what)
    except ValueError as exc:
        raise InputError(str(exc)) from None


PARIS = ZoneInfo("Europe/Paris")


def period(first: str | None, last: str | None, today: dt.date,
           default_days: int = 7) -> tuple[dt.datetime, dt.datetime]:
    """[first 00:00, day after last 00:00) in Paris time, from two YYYY-MM-DD days, both
    included; missing: the `default_days` days up to today. A bad day is an InputError."""
    end_day = input_day(last, "fin de période") or today
    start_day = input_day(first, "début de période") or end_day - dt.timedelta(
        days=default_days - 1)
    if end_day < start_day:
        raise InputError(f"période vide : {start_day} est après {end_day}")
    start = dt.datetime.combine(start_day, dt.time(0), PARIS)
    end = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time(0), PARIS)
    return start, end


def local_time_text(local_times: list[dict[str, str]]) -> str:
    """The consumer's local time(s) as recorded: '2026-11-27 11:00 (Europe/Paris)'."""
    parts = []
    for t in local_times:
        local = dt.datetime.fromisoformat(t["local"])
        parts.append(f"{local:%Y-%m-%d %H:%M} ({t['zone']})")
    return " ; ".join(parts)
