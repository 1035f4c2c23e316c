"""`POST /v1/scrub`: a list's verdicts now and next callable moments, streamed, recording
nothing (the check at dial time stays the authority).

The route is an operation of openapi.py's table (`scrub_list`, served by `Api.scrub`, its query
validated by api_models.ScrubQuery); this module streams its answer. The body is the list (one
number a line, or a CSV with a number column), spooled to a temporary file as it arrives
(constant memory), counted, then read as `astguard scrub` reads a file. Without `format`, Accept
chooses (application/x-ndjson or application/jsonl for JSON lines, CSV otherwise)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiohttp import web

from astguard.app.scrub import Scrubber
from astguard.surfaces import scrub_format

_JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")


def negotiated(request: web.Request, fmt: str | None) -> str:
    if fmt:
        return fmt
    accept = request.headers.get("Accept", "")
    return "jsonl" if any(t in accept for t in _JSONL_TYPES) else "csv"


async def stream(request: web.Request, scrubber: Scrubber,
                 scrub: scrub_format.ScrubRequest) -> web.StreamResponse:
    with tempfile.TemporaryDirectory(prefix="astguard-scrub-") as work:
        path = Path(work) / "list"
        with open(path, "wb") as fh:
            async for data in request.content.iter_chunked(1 << 16):
                fh.write(data)
        lines = scrub_format.scrubbed(scrubber, scrub, path)
        first = await anext(lines)  # the checks: a French 4xx before any byte out
        response = web.StreamResponse(headers={
            "Content-Type": f"{scrub_format.FORMATS[scrub.format]}; charset=utf-8"})
        await response.prepare(request)
        await response.write(first.encode())
        async for text in lines:  # a batch of thousands of lines at a time
            await response.write(text.encode())
        await response.write_eof()
    return response
