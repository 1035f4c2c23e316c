"""Plain-text tables and decision summaries for the terminal (CLI, demo)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from astguard.policy import Verdict


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def render_rows(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(columns)]
    lines = ["  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True))]
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
        lines.append(f"  campagne {c.name} ({c.principal}, {c.purpose.value}, {c.dial_mode.value})")
    if verdict.caller_id:
        lines.append(f"  numéro présenté {verdict.caller_id}")
    for reason in verdict.reasons:
        lines.append(f"  [{reason.code.value}] {reason.text}")
    return "\n".join(lines)
