"""The scrub output's fast writer (surfaces/scrub_format.Renderer) against the plain one
(render: csv.writer and json.dumps line by line), on every kind of line."""

from __future__ import annotations

import datetime as dt

import pytest

from astguard.app.scrub import Answer, ScrubLine
from astguard.surfaces.scrub_format import Renderer, render

AT = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
ANSWERS = [
    Answer(True, (), AT),
    Answer(True, ("ALLOWED_SCHEDULED_CALLBACK",), AT),
    Answer(False, ("NO_CONSENT",), dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)),
    Answer(False, ("FREQUENCY_CAP", "BLOCTEL_LISTED"), None),
    Answer(False, ("INVALID_NUMBER",), None),
]
NUMBERS = [
    ("0677100001", "+33677100001"), ("+33677100001", "+33677100001"),
    ("0262100007", "+262262100007"), ("12345", None), ("112", None),
    # Numbers the fast path must leave to csv.writer and json.dumps:
    ("06 77 10 00 02", "+33677100002"), ("06,77", None), ('06"77', None), ("06\\77", None),
    ("numéro", None), ("0677\x7f", None), ("\u0660\u0666", None), ("+", None),
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_fast_writer_writes_what_render_writes(fmt):
    lines = [ScrubLine(n, e, a) for n, e in NUMBERS for a in ANSWERS]
    renderer = Renderer(fmt)
    assert renderer.lines(lines) == "".join(render(line, fmt) for line in lines)
    assert renderer.lines(lines[::-1]) == "".join(render(line, fmt) for line in lines[::-1])
