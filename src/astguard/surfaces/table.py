"""Plain-text tables and decision summaries for the terminal (CLI, demo)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping
from typing import Any

from astguard.policy import Verdict
from astguard import labels


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def print_json(value: Any) -> None:
    """A read command's --json output: the values as stored (codes, ISO-8601 instants); a
    typed result through its one `as_dict`."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def render_rows(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    """A table with French headings and French words for coded values (labels.py)."""
    cells = [[_cell(labels.value(col, row.get(col))) for col in columns] for row in rows]
    heads = [labels.heading(col) for col in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def render_decision(verdict: Verdict) -> str:
    word = "AUTORISÉ" if verdict.allowed else "REFUSÉ"
    lines = [f"{word}: {verdict.dialled} -> {verdict.destination}"]
    for lt in verdict.local_times:
        lines.append(f"  heure locale {lt.zone}: {lt.local:%Y-%m-%d %H:%M:%S}")
    if verdict.campaign:
        c = verdict.campaign
        lines.append(f"  campagne {c.name} ({c.principal}, {labels.PURPOSE[c.purpose.value]}, "
                     f"{labels.DIAL_MODE[c.dial_mode.value]})")
    if verdict.caller_id:
        lines.append(f"  numéro présenté {verdict.caller_id}")
    for reason in verdict.reasons:
        lines.append(f"  [{reason.code.value}] {reason.text}")
    return "\n".join(lines)


def json_option(parser: argparse.ArgumentParser) -> None:
    """Every read command takes --json (issue 13, item 11)."""
    parser.add_argument("--json", action="store_true",
                        help="sortie JSON, pour les scripts (codes et instants ISO-8601)")
