"""What one recorded decision costs, on bench.decisions' loaded store: its statements (round
trips), and the CPU it takes in this process and in its PostgreSQL backend, one caller, one
pooled connection, decisions one after the other.

    .venv/bin/python -m bench.decision_cost [--decisions 2000]

CPU times are read from getrusage (this process) and /proc/PID/stat (the backend, same
machine), so they are less hurt by other work on a shared machine than wall times are. To
compare two versions of the code, run it alternately with each tree first on PYTHONPATH, e.g.
`PYTHONPATH=/path/to/other/src:. .venv/bin/python -m bench.decision_cost`; the store must
have been loaded by `python -m bench.decisions`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from astguard.app.gate import Gate
from astguard.clock import PinnedClock
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from bench.decisions import DB, NOW, PG, number
from lab.database import scoped


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str, rows: int, n: int) -> dict:
    db = Database(url, timeout=5.0, max_size=1)
    gate = Gate(db=db, directory=Directory(db), spool=Spool(Path(tempfile.mkdtemp())),
                clock=PinnedClock(NOW),
                rules=RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY)), node="b")
    rng = random.Random()

    def call() -> CallRequest:
        return CallRequest("0" + number(rng.randrange(rows))[3:], "api", campaign_name="bench")

    async with db.connection() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
    for _ in range(100):  # warm the connection's prepared statements and caches
        await gate.check(call(), record=True)
    statements: list[str] = []

    def seen(record) -> None:
        statements.append(" ".join(record.query.split())[:60])

    async with db.connection() as conn:  # the pool's one connection: the gate's next one
        conn.add_query_logger(seen)
    await gate.check(call(), record=True)
    async with db.connection() as conn:
        conn.remove_query_logger(seen)
    backend0, own0 = _backend_cpu(pid), resource.getrusage(resource.RUSAGE_SELF)
    wall: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        await gate.check(call(), record=True)
        wall.append((time.perf_counter() - t0) * 1000)
    own1, backend1 = resource.getrusage(resource.RUSAGE_SELF), _backend_cpu(pid)
    await db.close()
    own = (own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime) / n * 1000
    backend = (backend1 - backend0) / n * 1000
    return {"decisions": n, "statements": statements,
            "client_cpu_ms": round(own, 3), "backend_cpu_ms": round(backend, 3),
            "cpu_ms": round(own + backend, 3),
            "wall_ms": {"p50": round(statistics.median(wall), 3),
                        "mean": round(statistics.fmean(wall), 3)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="numbers to draw from (at most the store's)")
    parser.add_argument("--decisions", type=int, default=2000)
    args = parser.parse_args()
    result = asyncio.run(measure(f"{PG}/{scoped(DB)}", args.rows, args.decisions))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
