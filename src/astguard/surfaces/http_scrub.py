"""`POST /v1/scrub`: a list's verdicts now and next callable moments, streamed, recording
nothing (the check at dial time stays the authority).

The body is the list (one number a line, or a CSV with a number column), spooled to a
temporary file as it arrives (constant memory), counted, then read as `astguard scrub` reads a
file. Query: campaign, at, format (csv or jsonl); without format, Accept chooses
(application/x-ndjson or application/jsonl for JSON lines, CSV otherwise)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiohttp import web

from astguard.app.scrub import Scrubber
from astguard.surfaces import scrub_format

_JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")


def negotiated(request: web.Request) -> str:
    fmt = request.query.get("format")
    if fmt:
        return fmt
    accept = request.headers.get("Accept", "")
    return "jsonl" if any(t in accept for t in _JSONL_TYPES) else "csv"


class ScrubHandler:
    def __init__(self, scrubber: Scrubber) -> None:
        self._scrubber = scrubber

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        scrub = scrub_format.build(campaign=query.get("campaign"), at=query.get("at"),
                                   format=negotiated(request))
        with tempfile.TemporaryDirectory(prefix="astguard-scrub-") as work:
            path = Path(work) / "list"
            with open(path, "wb") as fh:
                async for data in request.content.iter_chunked(1 << 16):
                    fh.write(data)
            lines = scrub_format.scrubbed(self._scrubber, scrub, path)
            first = await anext(lines)  # the checks: a French 4xx before any byte out
            response = web.StreamResponse(headers={
                "Content-Type": f"{scrub_format.FORMATS[scrub.format]}; charset=utf-8"})
            await response.prepare(request)
            pending = [first]
            async for text in lines:
                pending.append(text)
                if len(pending) >= 2000:
                    await response.write("".join(pending).encode())
                    pending.clear()
            await response.write("".join(pending).encode())
            await response.write_eof()
        return response


def register(router: web.UrlDispatcher, guard, scrubber: Scrubber) -> None:
    router.add_post("/v1/scrub", guard(ScrubHandler(scrubber)))
