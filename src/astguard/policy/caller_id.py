"""The number presented on a prospecting call (R-F1 to R-F5, R-H1).

Pure: the numbering tables and the principal's inventory come in as values.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from astguard.policy.model import DialMode
from astguard.policy.numbers import NumberError, parse_number
from astguard.policy.reasons import Effect, Reason, ReasonCode


@dataclass(frozen=True, slots=True)
class NumberingTables:
    last_checked: dt.date
    npv_roots: tuple[str, ...]  # national-format prefixes
    forbidden_prefixes: tuple[str, ...]
    short_3bpq_except: tuple[str, ...]


def load_tables(path: Path | None = None) -> NumberingTables:
    """The numbering tables from a TOML file (default: the one shipped, data/numbering.toml)."""
    if path is None:
        text = (resources.files("astguard") / "data" / "numbering.toml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    data = tomllib.loads(text)
    return NumberingTables(
        last_checked=data["last_checked"],
        npv_roots=tuple(data["npv"]["metropolitan"]) + tuple(data["npv"]["overseas"]),
        forbidden_prefixes=tuple(data["forbidden"]["prefixes"]),
        short_3bpq_except=tuple(data["forbidden"]["short_3bpq_except"]),
    )


@lru_cache(maxsize=1)
def shipped_tables() -> NumberingTables:
    return load_tables()


class CliPolicy(enum.StrEnum):
    REWRITE = "rewrite"  # a wrong number is replaced by the campaign's authorised one
    REFUSE = "refuse"  # a wrong number refuses the call


@dataclass(frozen=True, slots=True)
class CallerIdRecord:
    """One entry of the inventory: a number the principal may present (R-F2)."""

    number: str  # E.164, or a short number as dialled
    principal: str
    valid_from: dt.date
    valid_to: dt.date | None
    trunk: str | None = None
    mandate_ref: str | None = None


_SHORT = re.compile(r"\d{4}|118\d{3}")  # 3BPQ-style short numbers, 118 XYZ
_SEPARATORS = re.compile(r"[\s.\-/()]")


def _short(text: str) -> str | None:
    """A short number however it is written ("118 218", "39 00"), or None."""
    compact = _SEPARATORS.sub("", text.strip())
    return compact if _SHORT.fullmatch(compact) else None
_WITHHELD = {"", "anonymous", "restricted", "unknown", "unavailable", "private"}


def national_form(presented: str) -> str | None:
    """The national format of a presented number (what the tables speak), or None."""
    text = presented.strip()
    short = _short(text)
    if short is not None:
        return short
    try:
        return parse_number(text).national  # None for a foreign number
    except NumberError:
        return None


def canonical(presented: str) -> str:
    """E.164 when it parses, otherwise the text itself (short numbers)."""
    text = presented.strip()
    short = _short(text)
    if short is not None:
        return short
    try:
        return parse_number(text).e164
    except NumberError:
        return text


def check_presented(presented: str | None, *, principal: str, mode: DialMode, today: dt.date,
                    inventory: tuple[CallerIdRecord, ...],
                    tables: NumberingTables) -> list[Reason]:
    """Every rule the presented number breaks; empty when it may be shown."""
    if presented is None or presented.strip().lower() in _WITHHELD:
        return [Reason(ReasonCode.CLI_WITHHELD, {})]  # R-F1
    national = national_form(presented)
    shown = canonical(presented)
    inputs = {"caller_id": shown, "mode": mode.value}
    held = [r for r in inventory if r.number == shown and r.principal == principal
            and r.valid_from <= today and (r.valid_to is None or today <= r.valid_to)]
    if national is None:
        if not shown.startswith("+"):
            return [Reason(ReasonCode.CALLER_ID_NOT_AUTHORISED, {**inputs, "detail": "illisible"})]
        # A foreign number: R-F3 to R-F5 speak of French ranges; R-F2 still applies.
        return [] if held else [Reason(ReasonCode.CALLER_ID_NOT_AUTHORISED, {**inputs})]
    reasons: list[Reason] = []
    if _forbidden(national, tables):  # R-F3
        reasons.append(Reason(ReasonCode.CALLER_ID_FORBIDDEN_RANGE, {**inputs,
                                                                    "national": national}))
    if not held:  # R-F2
        reasons.append(Reason(ReasonCode.CALLER_ID_NOT_AUTHORISED, {**inputs}))
    # R-F5: the plan's mobiles (06/07, and Saint-Pierre-et-Miquelon's, 2026-11-26).
    mobile = national[:2] in ("06", "07") or _plan_mobile(presented)
    if mode.automated:
        if mobile:  # R-F5, the specific rule for the mobiles R-F4 also names
            reasons.append(Reason(ReasonCode.MOBILE_CLI_NOT_ALLOWED, inputs))
        elif _needs_npv(national) and not national.startswith(tables.npv_roots):  # R-F4
            reasons.append(Reason(ReasonCode.NPV_REQUIRED, {
                **inputs, "npv_tables_checked": tables.last_checked.isoformat()}))
    elif mobile and not held:  # R-F5: manual calls may show a mobile of the inventory
        reasons.append(Reason(ReasonCode.MOBILE_CLI_NOT_ALLOWED, inputs, effect=Effect.WARN))
    return reasons


def _plan_mobile(presented: str) -> bool:
    try:
        return parse_number(presented.strip()).is_mobile
    except NumberError:
        return False


def _forbidden(national: str, tables: NumberingTables) -> bool:
    if national.startswith(tables.forbidden_prefixes):
        return True
    return bool(_SHORT.fullmatch(national)) and national.startswith("3") \
        and not national.startswith(tables.short_3bpq_except)


def _needs_npv(national: str) -> bool:
    # R-F4: 01-05 geographic (overseas ones included) and 09: only NPV for automated dialling
    # (06-07 mobiles are refused by R-F5 above).
    return len(national) == 10 and national[:2] in ("01", "02", "03", "04", "05", "09")
