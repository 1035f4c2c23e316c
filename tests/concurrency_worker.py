"""One of several processes firing decisions for the same consumer at the same instant.

    python -m tests.concurrency_worker DATABASE_URL NUMBER START_EPOCH COUNT SPOOL_DIR
prints one JSON line: the decisions this process got.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from pathlib import Path

from astguard.clock import PinnedClock
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool

OPEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


async def main(url: str, number: str, start: float, count: int, spool: str) -> None:
    db = Database(url, timeout=10.0, max_size=count)
    gate = Gate(db=db, directory=Directory(db), spool=Spool(Path(spool)), clock=PinnedClock(OPEN),
                rules=RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY)), node="w")
    async with db.connection():
        pass  # warm the pool before the start line
    await asyncio.sleep(max(0.0, start - time.time()))
    results = await asyncio.gather(*(
        gate.check(CallRequest(number, "api", campaign_name="conc-prospect"), record=True)
        for _ in range(count)))
    print(json.dumps([r.verdict.decision.value for r in results]))
    await db.close()


if __name__ == "__main__":
    url, number, start, count, spool = sys.argv[1:6]
    asyncio.run(main(url, number, float(start), int(count), spool))
