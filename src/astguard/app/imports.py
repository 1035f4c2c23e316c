"""File imports that hold up: consents, oppositions, outside attempts, caller IDs, Bloctel.

* Constant memory: the file is read line by line and sent to PostgreSQL in batches (COPY into a
  temporary table); nothing grows with the file but the count of bad lines.
* All or nothing: everything happens in one transaction; one bad line and nothing is changed.
* Every bad line is reported with its number and reason (the first 1,000 in full).
* Re-importing the same file is harmless: each kind has a natural key (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from astguard.errors import InputError
from astguard.instants import parse_instant
from astguard.policy.call_window import local_times
from astguard.policy.caller_id import canonical, national_form, shipped_tables
from astguard.policy.numbers import NumberError, fast_e164, parse_number
from astguard.store import imports as import_sql
from astguard.store.database import Database
from astguard.store.caller_ids import KINDS as CALLER_ID_KINDS
from astguard.store.caller_ids import kind_of
from astguard.store.directory import valid_identifier

BATCH = 10_000
MAX_REPORTED = 1_000


class ImportFailed(InputError):
    def __init__(self, report: ImportReport) -> None:
        super().__init__(report.summary())
        self.report = report


@dataclass
class ImportReport:
    kind: str
    path: str
    lines: int = 0
    valid: int = 0
    inserted: int = 0
    bad_count: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0

    def reject(self, line: int, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED:
            self.bad.append((line, reason))

    def summary(self) -> str:
        if self.bad_count:
            shown = "\n".join(f"  ligne {n} : {why}" for n, why in self.bad)
            more = (f"\n  … et {self.bad_count - len(self.bad)} autres"
                    if self.bad_count > len(self.bad) else "")
            return (f"import {self.kind} de {self.path} refusé, rien n'a été modifié : "
                    f"{self.bad_count} ligne(s) invalide(s) sur {self.lines}\n{shown}{more}")
        return (f"import {self.kind} de {self.path} : {self.lines} lignes, {self.inserted} "
                f"ajoutées, {self.valid - self.inserted} déjà présentes, "
                f"{self.seconds:.1f} s ({self.rate:,.0f} lignes/s)")

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "lines": self.lines, "valid": self.valid,
                "inserted": self.inserted, "already_present": self.valid - self.inserted,
                "bad_count": self.bad_count,
                "bad": [{"line": n, "reason": r} for n, r in self.bad],
                "seconds": round(self.seconds, 3)}


class Progress:
    """A progress bar on stderr (a line every 10 % when stderr is not a terminal)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self._last = 0.0
        self._decile = -1

    def update(self, done: int, lines: int, final: bool = False) -> None:
        if not self.enabled:
            return
        share = min(done / self.total, 1.0)
        now = time.monotonic()
        if self.tty:
            if final or now - self._last > 0.2:
                bar = "#" * int(share * 30)
                self.stream.write(f"\r{self.label} [{bar:<30}] {share:4.0%} {lines:,} lignes")
                self._last = now
                if final:
                    self.stream.write("\n")
        elif int(share * 10) > self._decile or final:
            self._decile = int(share * 10)
            self.stream.write(f"{self.label}: {share:.0%} ({lines:,} lignes)\n")
        self.stream.flush()


def number_field(text: str) -> str:
    try:
        return fast_e164(text)
    except NumberError as exc:
        raise ValueError(f"numéro {text!r} : {exc}") from None


def _principal(text: str) -> str:
    text = text.strip()
    try:
        return valid_identifier(text, "donneur d'ordre")
    except InputError as exc:
        raise ValueError(str(exc)) from None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


# Each kind: CSV columns, a row parser (raises ValueError with a French reason), the temporary
# table's columns, and the statement that merges it into the real table.
@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[str, ...]  # required CSV header names
    parse: Callable[[dict[str, str]], tuple[Any, ...]]  # its staging row (store/imports.py)


def _consent_row(r: dict[str, str]) -> tuple[Any, ...]:
    collected = parse_instant(r["collected_at"], "collected_at")
    until = parse_instant(r["valid_until"], "valid_until") if r.get("valid_until") else \
        collected + dt.timedelta(days=365)
    if until <= collected:
        raise ValueError("valid_until antérieure à collected_at")
    scopes = [s.strip() for s in r["scopes"].split("|") if s.strip()]
    for col in ("channel", "wording", "proof_ref"):
        if not r[col].strip():
            raise ValueError(f"{col} vide (preuve du consentement, R-B2)")
    if not scopes:
        raise ValueError("scopes vide")
    return (_principal(r["principal"]), number_field(r["number"]), scopes, collected,
            r["channel"].strip(), r["wording"].strip(), r["proof_ref"].strip(), until)


def _opposition_row(r: dict[str, str]) -> tuple[Any, ...]:
    principal, number = _principal(r["principal"]), number_field(r["number"])
    at = parse_instant(r["recorded_at"], "recorded_at")
    reference = (r.get("reference") or "").strip() or \
        "import:" + _digest("opposition", principal, number, at.isoformat())
    return principal, number, at, at.date(), reference


def _attempt_row(r: dict[str, str]) -> tuple[Any, ...]:
    principal, number = _principal(r["principal"]), number_field(r["number"])
    at = parse_instant(r["attempted_at"], "attempted_at")
    zones = _zones(number)
    day = local_times(at, zones)[0].local.date() if zones else at.date()
    reference = (r.get("reference") or "").strip() or \
        "import:" + _digest("attempt", principal, number, at.isoformat())
    return principal, number, at, day, reference


_ZONE_CACHE: dict[str, tuple[str, ...]] = {}


def _zones(e164: str) -> tuple[str, ...]:
    # Zones depend on the country code and the first digits only: cache by prefix.
    prefix = e164[:7]
    if prefix not in _ZONE_CACHE:
        try:
            _ZONE_CACHE[prefix] = parse_number(e164).zones
        except NumberError as exc:
            raise ValueError(f"numéro {e164!r} : {exc}") from None
    return _ZONE_CACHE[prefix]


def _caller_id_row(r: dict[str, str]) -> tuple[Any, ...]:
    number = r["number"].strip()
    if national_form(number) is None:
        raise ValueError(f"numéro présenté {number!r} illisible")
    mandate = r["mandate_ref"].strip()
    if not mandate:
        raise ValueError("mandate_ref vide (R-F2)")
    try:
        start = dt.date.fromisoformat(r["valid_from"].strip())
        end = dt.date.fromisoformat(r["valid_to"].strip()) if (r.get("valid_to") or "").strip() \
            else None
    except ValueError:
        raise ValueError("valid_from/valid_to : date AAAA-MM-JJ attendue") from None
    kind = (r.get("kind") or "").strip() or kind_of(number, shipped_tables().npv_roots)
    if kind not in CALLER_ID_KINDS:
        raise ValueError(f"kind {kind!r} inconnu")
    return (canonical(number), _principal(r["principal"]), kind,
            (r.get("trunk") or "").strip() or None, (r.get("operator") or "").strip() or None,
            mandate, start, end)


KINDS: dict[str, Kind] = {
    "consents": Kind(
        "consents",
        ("number", "principal", "scopes", "collected_at", "channel", "wording", "proof_ref"),
        _consent_row),
    "oppositions": Kind("oppositions", ("number", "principal", "recorded_at"), _opposition_row),
    "attempts": Kind("attempts", ("number", "principal", "attempted_at"), _attempt_row),
    "caller-ids": Kind("caller-ids", ("number", "principal", "mandate_ref", "valid_from"),
                       _caller_id_row),
}
assert tuple(KINDS) == import_sql.KINDS  # every kind has its staging table and merge


def open_text(path: Path) -> tuple[TextIO, Callable[[], int]]:
    raw = open(path, "rb")  # noqa: SIM115 (closed by the caller through the text wrapper)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
    return text, raw.tell


def _csv_rows(text: TextIO, kind: Kind, report: ImportReport) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(text)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InputError(f"{report.path} est vide") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(f"{report.path} : en-tête illisible ({exc})") from None
    missing = [c for c in kind.columns if c not in header]
    if missing:
        raise InputError(f"{report.path} : colonnes manquantes {', '.join(missing)} "
                         f"(attendues : {', '.join(kind.columns)})")
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            line += 1
            report.lines += 1
            report.reject(line, f"ligne illisible ({exc})")
            continue
        line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        report.lines += 1
        if len(values) != len(header):
            report.reject(line, f"{len(values)} champs au lieu de {len(header)}")
            continue
        yield line, dict(zip(header, values, strict=True))


async def import_file(db: Database, kind_name: str, path: Path, *,
                      progress: bool = True) -> ImportReport:
    kind = KINDS.get(kind_name)
    if kind is None:
        raise InputError(f"type d'import inconnu {kind_name!r} : {', '.join(KINDS)} ou bloctel")
    report = ImportReport(kind.name, str(path))
    t0 = time.monotonic()
    size = file_size(path)
    bar = Progress(size, f"import {kind.name}", enabled=progress)
    text, position = open_text(path)
    try:
        async with db.bulk_transaction() as conn:
            await import_sql.open_staging(conn, kind.name)
            batch: list[tuple[Any, ...]] = []
            for line, row in _csv_rows(text, kind, report):
                try:
                    batch.append(kind.parse(row))
                    report.valid += 1
                except (ValueError, KeyError) as exc:
                    report.reject(line, str(exc))
                if len(batch) >= BATCH:
                    await _flush(conn, batch, report)
                    bar.update(position(), report.lines)
            await _flush(conn, batch, report)
            if report.bad_count:
                raise ImportFailed(report)  # rolls the transaction back: nothing changes
            report.inserted = await import_sql.merge(conn, kind.name)
    finally:
        text.close()
    bar.update(size, report.lines, final=True)
    report.seconds = time.monotonic() - t0
    return report


async def _flush(conn: asyncpg.Connection, batch: list[tuple[Any, ...]],
                 report: ImportReport) -> None:
    if batch and not report.bad_count:  # once a line is bad, only validation goes on
        await import_sql.stage(conn, batch)
    batch.clear()


def file_size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError as exc:
        raise InputError(f"{path} : {exc.strerror}") from None
