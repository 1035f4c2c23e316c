"""Instants given by people and files: ISO-8601 with a UTC offset, never a guessed zone."""

from __future__ import annotations

import datetime as dt

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
