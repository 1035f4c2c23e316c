"""The Bloctel import (R-C2): the file a professional submitted and the file Bloctel returned.

A submitted number missing from the returned file is on the opposition list. Both files are
streamed to PostgreSQL, which does the set difference: memory stays flat whatever their size.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from astguard.app.imports import (
    ImportFailed,
    ImportReport,
    Progress,
    file_size,
    number_field,
    open_text,
)
from astguard.app.number_batches import chunks, e164_text, lines_of
from astguard.store import imports as import_sql
from astguard.store.bulk import copy_text
from astguard.store.database import Database
from astguard.store.directory import valid_identifier

_NUMBER_HEADERS = ("number", "numero", "numéro", "telephone", "téléphone", "tel", "msisdn")


def _number_column(header: list[str]) -> int | None:
    for i, name in enumerate(header):
        if name.strip().lower() in _NUMBER_HEADERS:
            return i
    return None


def _bloctel_numbers(text: TextIO, report: ImportReport) -> Iterator[str]:
    """One number per line, or a CSV (comma or semicolon) with a number column; in batches of
    E.164 numbers, one a line (COPY's text format).

    Chunks of plain numbers (the usual file) go through number_batches.e164_text; any other
    chunk line by line, which names each bad line (the same answer either way)."""
    first = text.readline()
    if not first:
        return
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delimiter))
    column = _number_column(header)
    line = 1
    rest: Iterator[str] = chunks(text)
    if column is None:  # no header: the first line is data
        column = 0
        rest = _chain_first(first if first.endswith(("\n", "\r")) else first + "\n", rest)
        line = 0
    for chunk in rest:
        fast = e164_text(chunk) if column == 0 else None
        if fast is not None:
            count = chunk.count("\n")
            line += count
            report.lines += count
            report.valid += count
            yield fast
            continue
        batch: list[str] = []
        for raw in lines_of(chunk):
            line += 1
            number = _bloctel_line(raw, line, column, delimiter, report)
            if number is not None:
                batch.append(number + "\n")
        yield "".join(batch)


def _bloctel_line(raw: str, line: int, column: int, delimiter: str,
                  report: ImportReport) -> str | None:
    if not raw.strip():
        return None
    report.lines += 1
    fields = next(csv.reader([raw], delimiter=delimiter)) if delimiter in raw else [raw]
    if column >= len(fields):
        report.reject(line, "colonne du numéro absente")
        return None
    try:
        number = number_field(fields[column])
    except ValueError as exc:
        report.reject(line, str(exc))
        return None
    report.valid += 1
    return number


def _chain_first(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


async def import_bloctel(db: Database, principal: str, submitted: Path, returned: Path,
                         scrubbed_on: dt.date, *, progress: bool = True) -> ImportReport:
    """R-C2: the file the professional submitted and the one Bloctel returned; a submitted
    number missing from the returned file is on the opposition list."""
    valid_identifier(principal, "donneur d'ordre")
    report = ImportReport("bloctel", f"{submitted} + {returned}")
    t0 = time.monotonic()
    total = file_size(submitted) + file_size(returned)
    bar = Progress(total, "import bloctel", enabled=progress)
    async with db.bulk_transaction() as conn:
        tables = await import_sql.open_bloctel_staging(conn)
        done = 0
        for path, table in zip((submitted, returned), tables, strict=True):
            text, position = open_text(path)
            try:
                for numbers in _bloctel_numbers(text, report):
                    if numbers and not report.bad_count:  # after a bad line: validation only
                        await copy_text(conn, table, numbers)
                    bar.update(done + position(), report.lines)
                done += position()
            except UnicodeDecodeError as exc:
                report.reject(report.lines + 1, f"{path} : encodage illisible ({exc})")
            finally:
                text.close()
        if report.bad_count:
            raise ImportFailed(report)
        report.valid, report.inserted = await import_sql.merge_bloctel(conn, principal,
                                                                       scrubbed_on)
    bar.update(total, report.lines, final=True)
    report.seconds = time.monotonic() - t0
    return report
