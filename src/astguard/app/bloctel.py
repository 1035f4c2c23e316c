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
    BATCH,
    ImportFailed,
    ImportReport,
    Progress,
    file_size,
    number_field,
    open_text,
)
from astguard.store.database import Database
from astguard.store.directory import valid_identifier

_NUMBER_HEADERS = ("number", "numero", "numéro", "telephone", "téléphone", "tel", "msisdn")


def _number_column(header: list[str]) -> int | None:
    for i, name in enumerate(header):
        if name.strip().lower() in _NUMBER_HEADERS:
            return i
    return None


def _bloctel_numbers(text: TextIO, report: ImportReport) -> Iterator[str]:
    """One number per line, or a CSV (comma or semicolon) with a number column."""
    first = text.readline()
    if not first:
        return
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delimiter))
    column = _number_column(header)
    line = 1
    if column is None:  # no header: the first line is data
        column = 0
        text_lines: Iterator[str] = _chain_first(first, text)
        line = 0
    else:
        text_lines = iter(text)
    for raw in text_lines:
        line += 1
        if not raw.strip():
            continue
        report.lines += 1
        fields = next(csv.reader([raw], delimiter=delimiter)) if delimiter in raw else [raw]
        if column >= len(fields):
            report.reject(line, "colonne du numéro absente")
            continue
        try:
            number = number_field(fields[column])
        except ValueError as exc:
            report.reject(line, str(exc))
            continue
        report.valid += 1
        yield number


def _chain_first(first: str, rest: TextIO) -> Iterator[str]:
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
        await conn.execute("CREATE TEMP TABLE bloctel_submitted (n text) ON COMMIT DROP")
        await conn.execute("CREATE TEMP TABLE bloctel_returned (n text) ON COMMIT DROP")
        done = 0
        for path, table in ((submitted, "bloctel_submitted"), (returned, "bloctel_returned")):
            text, position = open_text(path)
            try:
                batch: list[tuple[str]] = []
                for number in _bloctel_numbers(text, report):
                    batch.append((number,))
                    if len(batch) >= BATCH:
                        if not report.bad_count:
                            await conn.copy_records_to_table(table, records=batch)
                        batch.clear()
                        bar.update(done + position(), report.lines)
                if batch and not report.bad_count:
                    await conn.copy_records_to_table(table, records=batch)
                done += position()
            except UnicodeDecodeError as exc:
                report.reject(report.lines + 1, f"{path} : encodage illisible ({exc})")
            finally:
                text.close()
        if report.bad_count:
            raise ImportFailed(report)
        await conn.execute("CREATE INDEX ON bloctel_returned (n)")
        status = await conn.execute(
            """INSERT INTO bloctel_scrubs (principal, number_e164, scrubbed_on, listed)
               SELECT DISTINCT ON (s.n) $1, s.n, $2::date,
                      NOT EXISTS (SELECT 1 FROM bloctel_returned r WHERE r.n = s.n)
               FROM bloctel_submitted s
               ON CONFLICT (principal, number_e164, scrubbed_on) DO NOTHING""",
            principal, scrubbed_on)
        report.inserted = int(status.split()[-1])
        report.valid = await conn.fetchval("SELECT count(DISTINCT n) FROM bloctel_submitted")
    bar.update(total, report.lines, final=True)
    report.seconds = time.monotonic() - t0
    return report
