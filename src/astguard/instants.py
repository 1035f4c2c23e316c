"""Instants given by people and files: ISO-8601 with a UTC offset, never a guessed zone."""

from __future__ import annotations

import datetime as dt


def parse_instant(text: str, what: str) -> dt.datetime:
    """Raise ValueError, in French, naming `what`, unless `text` is ISO-8601 with an offset."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} : date ISO-8601 attendue, pas {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{what} : préciser le fuseau, par exemple +01:00 ({text!r})")
    return value
