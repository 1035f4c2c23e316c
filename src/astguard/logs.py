"""Logging set-up: human-readable text, or one JSON object per line for journald, Loki or any
collector (ASTGUARD_LOG_FORMAT=json). Extra fields passed with `extra={...}` are kept.

Telephone numbers are masked in every line at INFO and above (`+336******78`: the country code
and the first digit, then the last two): logs travel to collectors and support tickets, while
the full number belongs in the evidence (PostgreSQL) only. DEBUG lines are left whole, for a
developer's machine.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import TextIO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

# An international number (+ or 00, then 6 to 15 digits), a French one in national form (0 and
# nine digits) or without its + (33 and nine digits, as some trunks write it), not part of a
# longer word or number (identifiers, timestamps, uniqueids stay as they are).
_NUMBER = re.compile(r"(?<![\w+])(?:\+\d{6,15}|00\d{8,15}|0\d{9}|33\d{9})(?![\w])")
# ITU-T E.164 country codes: 1 and 7 are one digit, these are two, all others three.
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split())


def mask_number(number: str) -> str:
    """`+33612345678` -> `+336******78`, `0612345678` -> `06******78`."""
    prefix = next((p for p in ("+", "00") if number.startswith(p)), "")
    if prefix or number.startswith("33"):
        digits = number[len(prefix):]
        code = 1 if digits[0] in "17" else 2 if digits[:2] in _TWO_DIGIT_CODES else 3
        keep = len(prefix) + code + 1
    else:
        keep = 2  # national: the trunk prefix 0 and the first digit
    if len(number) - keep <= 2:
        return number[:keep] + "*" * (len(number) - keep)
    return number[:keep] + "*" * (len(number) - keep - 2) + number[-2:]


def mask_numbers(text: str) -> str:
    return _NUMBER.sub(lambda m: mask_number(m.group(0)), text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        line = json.dumps(out, ensure_ascii=False, default=str)
        return mask_numbers(line) if record.levelno >= logging.INFO else line


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return mask_numbers(line) if record.levelno >= logging.INFO else line


def configure(level: str, fmt: str, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
