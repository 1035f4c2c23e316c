"""File imports that hold up: consents, oppositions, outside attempts, caller IDs, Bloctel.

* Constant memory: the file is read line by line and sent to PostgreSQL in batches (COPY into a
  temporary table); nothing grows with the file but the count of bad lines.
* All or nothing: everything happens in one transaction; one bad line and nothing is changed.
* Every bad line is reported with its number and reason (the first 1,000 in full).
* Re-importing the same file is harmless: each kind has a natural key (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from astguard.app.number_batches import e164_of
from astguard.errors import InputError
from astguard.instants import parse_instant
from astguard.policy.call_window import local_times
from astguard.policy.caller_id import canonical, national_form, shipped_tables
from astguard.policy.numbers import NumberError, parse_number
from astguard.store import imports as import_sql
from astguard.store.database import Database
from astguard.store.caller_ids import KINDS as CALLER_ID_KINDS
from astguard.store.caller_ids import kind_of
from astguard.store.directory import valid_identifier

BATCH = 10_000
MAX_REPORTED = 1_000
CONSENT_VALIDITY = dt.timedelta(days=365)  # a consent without valid_until (R-B2)


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
        return e164_of(text)
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


# Each kind: CSV columns and a row parser (raises ValueError with a French reason) giving its
# staging row (store/imports.py): a tuple, or for consents (millions of lines) a line of
# COPY's text format, written without any per-value encoding by asyncpg.
@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[str, ...]  # required CSV header names
    parse: Callable[[dict[str, str]], tuple[Any, ...]] | None = None
    line: Callable[[list[str], _Positions], str] | None = None  # a COPY text line


@dataclass(frozen=True)
class _Positions:
    """Where each column is in a file's rows (its header), -1 when absent."""

    number: int
    principal: int
    scopes: int
    collected_at: int
    channel: int
    wording: int
    proof_ref: int
    valid_until: int

    @classmethod
    def of(cls, header: list[str]) -> _Positions:
        return cls(*(header.index(f.name) if f.name in header else -1
                     for f in dataclasses.fields(cls)))


def _consent_line(v: list[str], at: _Positions) -> str:
    """A consent's staging row in COPY's text format; the checks and their French reasons
    are those of a consent row, in the same order (the first one failing names the line).
    Without valid_until, the staging row has none: the merge adds CONSENT_VALIDITY."""
    collected_text = v[at.collected_at]
    collected = parse_instant(collected_text, "collected_at")
    until_text = v[at.valid_until] if at.valid_until >= 0 else ""
    until = parse_instant(until_text, "valid_until") if until_text else None
    if until is not None and until <= collected:
        raise ValueError("valid_until antérieure à collected_at")
    scopes = _scopes_literal(v[at.scopes])
    channel, wording, proof = v[at.channel].strip(), v[at.wording].strip(), \
        v[at.proof_ref].strip()
    for col, value in (("channel", channel), ("wording", wording), ("proof_ref", proof)):
        if not value:
            raise ValueError(f"{col} vide (preuve du consentement, R-B2)")
    if scopes is None:
        raise ValueError("scopes vide")
    principal = _PRINCIPALS.get(v[at.principal])
    if principal is None:
        principal = _principal(v[at.principal])
        if len(_PRINCIPALS) < 10_000:
            _PRINCIPALS[v[at.principal]] = principal
    return (f"{principal}\t{number_field(v[at.number])}\t{scopes}\t"
            f"{_copy_instant(collected_text, collected)}\t{_copy_text(channel)}\t"
            f"{_copy_text(wording)}\t{_copy_text(proof)}\t"
            f"{_copy_instant(until_text, until) if until is not None else NULL}\n")


_PRINCIPALS: dict[str, str] = {}  # a principal column's value -> the checked identifier
_SCOPES: dict[str, str | None] = {}  # a scopes column's value -> its array literal (or None)
_BARE = re.compile(r"[A-Za-z0-9_.:+/-]+")  # an array element PostgreSQL reads unquoted


def _scopes_literal(text: str) -> str | None:
    """`a|b` as the text[] literal `{a,b}` in COPY's text format; None when empty."""
    found = _SCOPES.get(text, False)
    if found is not False:
        return found
    scopes = [s.strip() for s in text.split("|") if s.strip()]
    literal = None
    if scopes:
        literal = _copy_text("{" + ",".join(
            s if _BARE.fullmatch(s) and s.lower() != "null"
            else '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for s in scopes) + "}")
    if len(_SCOPES) < 10_000:
        _SCOPES[text] = literal
    return literal


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return value


# ISO-8601 that PostgreSQL reads as the same instant as datetime.fromisoformat: what
# parse_instant accepted, in this shape, is sent as written (no formatting per row).
_PLAIN_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])")
NULL = "\\N"  # COPY's text format


def _copy_instant(text: str, value: dt.datetime) -> str:
    """`value` (parse_instant's answer for `text`) in COPY's text format: `text` itself when
    plain, else ISO-8601 in UTC (PostgreSQL refuses offsets of 15 hours or more, or with
    seconds, which Python takes)."""
    text = text.strip()
    if _PLAIN_INSTANT.fullmatch(text):
        return text
    return value.astimezone(dt.UTC).isoformat()


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
        line=_consent_line),
    "oppositions": Kind("oppositions", ("number", "principal", "recorded_at"),
                        parse=_opposition_row),
    "attempts": Kind("attempts", ("number", "principal", "attempted_at"), parse=_attempt_row),
    "caller-ids": Kind("caller-ids", ("number", "principal", "mandate_ref", "valid_from"),
                       parse=_caller_id_row),
}
assert tuple(KINDS) == import_sql.KINDS  # every kind has its staging table and merge


def open_text(path: Path) -> tuple[TextIO, Callable[[], int]]:
    raw = open(path, "rb")  # noqa: SIM115 (closed by the caller through the text wrapper)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
    return text, raw.tell


def _header(reader: Any, kind: Kind, report: ImportReport) -> list[str]:
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
    return header


def _csv_rows(reader: Any, width: int, report: ImportReport
              ) -> Iterator[tuple[int, list[str]]]:
    """(line number, values) of each non-blank row with `width` values; the others named."""
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
        if not values or (not values[0].strip() and all(not v.strip() for v in values)):
            continue
        report.lines += 1
        if len(values) != width:
            report.reject(line, f"{len(values)} champs au lieu de {width}")
            continue
        yield line, values


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
        reader = csv.reader(text)
        header = _header(reader, kind, report)
        rows = _csv_rows(reader, len(header), report)
        async with db.bulk_transaction() as conn:
            await import_sql.open_staging(conn, kind.name)
            if kind.line is not None:
                await _stage_lines(conn, kind.line, _Positions.of(header), rows, report,
                                   lambda: bar.update(position(), report.lines))
            else:
                await _stage_rows(conn, kind, header, rows, report,
                                  lambda: bar.update(position(), report.lines))
            if report.bad_count:
                raise ImportFailed(report)  # rolls the transaction back: nothing changes
            report.inserted = await import_sql.merge(
                conn, kind.name, CONSENT_VALIDITY.total_seconds())
    finally:
        text.close()
    bar.update(size, report.lines, final=True)
    report.seconds = time.monotonic() - t0
    return report


async def _stage_lines(conn: asyncpg.Connection, parse: Callable[[list[str], _Positions], str],
                       at: _Positions, rows: Iterator[tuple[int, list[str]]],
                       report: ImportReport, progress: Callable[[], None]) -> None:
    """Rows parsed into COPY text lines, sent BATCH at a time; once a line is bad, only
    validation goes on (nothing will be kept)."""
    batch: list[str] = []
    for line, values in rows:
        try:
            batch.append(parse(values, at))
        except (ValueError, KeyError) as exc:
            report.reject(line, str(exc))
            continue
        if len(batch) >= BATCH:
            if not report.bad_count:
                await import_sql.stage_text(conn, "".join(batch))
            report.valid += len(batch)
            batch.clear()
            progress()
    if batch and not report.bad_count:
        await import_sql.stage_text(conn, "".join(batch))
    report.valid += len(batch)


async def _stage_rows(conn: asyncpg.Connection, kind: Kind, header: list[str],
                      rows: Iterator[tuple[int, list[str]]], report: ImportReport,
                      progress: Callable[[], None]) -> None:
    batch: list[tuple[Any, ...]] = []
    assert kind.parse is not None
    for line, values in rows:
        try:
            batch.append(kind.parse(dict(zip(header, values, strict=True))))
            report.valid += 1
        except (ValueError, KeyError) as exc:
            report.reject(line, str(exc))
        if len(batch) >= BATCH:
            await _flush(conn, batch, report)
            progress()
    await _flush(conn, batch, report)


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
