"""`astguard scrub FILE --campaign C [--at T] [--format csv|jsonl]`: a list's verdicts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from astguard.app.scrub import Scrubber
from astguard.surfaces import scrub_format

COMMANDS = ("scrub",)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sc = sub.add_parser(
        "scrub", help="a list's verdicts now and next callable moments, recording nothing "
                      "(the check at dial time stays the authority)")
    sc.add_argument("file", help="one number a line, or a CSV with a number column")
    sc.add_argument("--campaign", required=True)
    sc.add_argument("--at", help="ISO-8601 instant (default: now; Paris time without offset)")
    sc.add_argument("--format", choices=tuple(scrub_format.FORMATS), default="csv")


async def run(c: Any, args: argparse.Namespace, out: Any = None) -> int:
    out = out or sys.stdout
    request = scrub_format.build(campaign=args.campaign, at=args.at, format=args.format)
    scrubber = Scrubber(c.read_db, c.directory, c.clock, c.settings.rules)
    async for text in scrub_format.scrubbed(scrubber, request, Path(args.file)):
        out.write(text)
    out.flush()
    return 0
