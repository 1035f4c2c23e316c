"""Background tasks never die silently (issue 14): a crash is logged, counted, and the task
started again; shutdown steps are bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from astguard.background import bounded, supervised


async def test_a_crashing_task_is_logged_counted_and_started_again(caplog):
    runs: list[int] = []
    crashes: list[str] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("boom")
        await asyncio.sleep(3600)

    caplog.set_level(logging.ERROR, "astguard.background")
    task = asyncio.create_task(supervised("spool", flaky, on_crash=crashes.append,
                                          first_delay=0.01))
    async with asyncio.timeout(5):
        while len(runs) < 3:
            await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert crashes == ["spool", "spool"]
    assert sum("background task spool crashed" in r.message for r in caplog.records) == 2
    assert all(r.exc_info for r in caplog.records if "crashed" in r.message)


async def test_cancellation_stops_the_supervisor():
    task = asyncio.create_task(supervised("ari", lambda: asyncio.sleep(3600)))
    await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_a_shutdown_step_is_bounded(caplog):
    caplog.set_level(logging.ERROR, "astguard.background")
    assert not await bounded("spool flush", asyncio.sleep(3600), 0.05)
    assert "did not finish within" in caplog.text
    assert await bounded("drain", asyncio.sleep(0), 1)
