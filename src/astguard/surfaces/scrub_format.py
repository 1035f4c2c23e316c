"""List scrubbing's request and output, built one way for `astguard scrub` and
`POST /v1/scrub` (as surfaces/dry_run does for checks): same options, same file reading, same
lines out."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from astguard.app.scrub import Answer, Scrubber, ScrubLine
from astguard.errors import InputError
from astguard.surfaces.dry_run import check_instant

FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
COLUMNS = ("number", "e164", "callable", "reasons", "next_callable_at")
_NUMBER_HEADERS = ("number", "numero", "numéro", "telephone", "téléphone", "tel", "msisdn")


@dataclass(frozen=True, slots=True)
class ScrubRequest:
    campaign: str
    at: dt.datetime | None  # None: now
    format: str


def build(*, campaign: str | None, at: str | None, format: str | None) -> ScrubRequest:
    if not campaign:
        raise InputError("campagne manquante : la liste est vérifiée pour une campagne")
    fmt = format or "csv"
    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r} inconnu : {', '.join(FORMATS)}")
    return ScrubRequest(campaign, check_instant(at, "date"), fmt)


def header(fmt: str) -> str:
    return ",".join(COLUMNS) + "\r\n" if fmt == "csv" else ""


def render(line: ScrubLine, fmt: str) -> str:
    """One line of the output (what csv.writer and json.dumps write)."""
    if fmt == "jsonl":
        return json.dumps(line.as_dict(), ensure_ascii=False) + "\n"
    out = io.StringIO()
    csv.writer(out).writerow([line.number, line.e164 or "", "oui" if line.callable else "non",
                              "|".join(line.reasons),
                              line.next_at.isoformat() if line.next_at else ""])
    return out.getvalue()


class Renderer:
    """render() for a list of millions: numbers in the same situation share one Answer, whose
    text is written once; a number made of digits and "+" needs no quoting or escaping, so
    its line is the number and that text (tests/test_scrub_format.py compares both with
    render() on every kind of line)."""

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt
        self._tails: dict[int, tuple[Answer, str]] = {}  # id(answer) -> (answer, its text)

    def lines(self, lines: list[ScrubLine]) -> str:
        tails = self._tails
        jsonl = self._fmt == "jsonl"
        out = []
        for line in lines:
            number, e164, answer = line.number, line.e164, line.answer
            if not _PLAIN.fullmatch(number):
                out.append(render(line, self._fmt))
                continue
            found = tails.get(id(answer))
            if found is None:
                if len(tails) >= 100_000:
                    tails.clear()
                found = tails[id(answer)] = (answer, _tail(answer, jsonl))
            if jsonl:
                e = f'"{e164}"' if e164 is not None else "null"
                out.append(f'{{"number": "{number}", "e164": {e}{found[1]}')
            else:
                out.append(f"{number},{e164 or ''},{found[1]}")
        return "".join(out)


_PLAIN = re.compile(r"\+?[0-9]+")  # neither CSV nor JSON quote or escape any of it


def _tail(answer: Answer, jsonl: bool) -> str:
    """The text of a line after the number and its E.164 (which are plain: see _PLAIN)."""
    at = answer.next_at.isoformat() if answer.next_at else None
    if jsonl:
        return (f', "callable": {json.dumps(answer.callable)}, '
                f'"reasons": {json.dumps(list(answer.reasons), ensure_ascii=False)}, '
                f'"next_callable_at": {json.dumps(at)}}}\n')
    out = io.StringIO()
    csv.writer(out).writerow(["oui" if answer.callable else "non", "|".join(answer.reasons),
                              at or ""])
    return out.getvalue()


def _column(first: str) -> tuple[int, str | None] | None:
    """The number column and delimiter when the first line is a header, else None."""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    names = [n.strip().lower() for n in first.split(delimiter)]
    for i, name in enumerate(names):
        if name in _NUMBER_HEADERS:
            return i, delimiter if len(names) > 1 else None
    return None


def count_numbers(path: Path) -> int:
    """The file's lines (an upper bound of its numbers), checking that it is UTF-8 on the way,
    in constant memory: a bad file is refused before any answer."""
    count = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
                count += chunk.count(b"\n")
            decoder.decode(b"", final=True)
            if fh.tell() and not _ends_with_newline(fh):
                count += 1
    except OSError as exc:
        raise InputError(f"{path} : fichier illisible ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} : fichier illisible, UTF-8 attendu ({exc.reason})") from None
    return count


def _ends_with_newline(fh: io.BufferedReader) -> bool:
    fh.seek(-1, io.SEEK_END)
    return fh.read(1) == b"\n"


def read_numbers(path: Path) -> Iterator[str]:
    """One number a line, or a CSV (comma or semicolon) with a number column, UTF-8."""
    try:
        fh = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"{path} : fichier illisible ({exc.strerror})") from None
    with fh:
        try:
            first = fh.readline()
            found = _column(first)
            if found is None:
                yield first
                column, delimiter = 0, None
            else:
                column, delimiter = found
            for line in fh:
                if delimiter is None:
                    yield line
                    continue
                fields = line.rstrip("\r\n").split(delimiter)
                yield fields[column] if column < len(fields) else ""
        except UnicodeDecodeError as exc:
            raise InputError(f"{path} : fichier illisible, UTF-8 attendu ({exc.reason})") from None


async def scrubbed(scrubber: Scrubber, request: ScrubRequest, path: Path) -> AsyncIterator[str]:
    """The output's text, header first. Every check that can fail (the file, its size, the
    campaign) runs before the header is given, so that an error is never half an answer."""
    scrubber.check_count(count_numbers(path))
    await scrubber.campaign(request.campaign)
    yield header(request.format)
    renderer = Renderer(request.format)
    async for lines in scrubber.scrub_batches(read_numbers(path), request.campaign, request.at):
        yield renderer.lines(lines)
