"""How fast `astguard audit verify` checks the evidence chain, and what chaining costs in bulk.

Writes N decision rows straight into a fresh database (the chain trigger links each one, as in
production), then times a full verification and a one-day period.

    .venv/bin/python -m bench.audit_verify [--rows 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

from astguard.store import audit
from astguard.store.database import Database
from lab.database import fresh_database

PG = os.environ.get("ASTGUARD_TEST_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
DB = "astguard_bench_audit"
RESULTS = Path(__file__).resolve().parent / "results"

_ROWS = """
INSERT INTO decisions (id, decided_at, clock_mode, node, source, dialled, number_e164,
                       emergency, territories, local_times, principal, campaign, purpose,
                       dial_mode, classification, caller_id, decision, reason_codes, reasons,
                       counts_as_attempt, rulebook_version)
SELECT gen_random_uuid(), '2026-11-02T09:00:00Z'::timestamptz + n * interval '10 seconds',
       'system', 'bench', 'ari', '06' || lpad(n::text, 8, '0'), '+336' || lpad(n::text, 8, '0'),
       false, '{metropole}',
       '[{"zone": "Europe/Paris", "local": "2026-11-02T10:00:00+01:00"}]'::jsonb,
       'bench', 'bench', 'prospecting', 'manual', 'campagne par défaut du poste agent1',
       '+33162123456', CASE WHEN n % 3 = 0 THEN 'deny' ELSE 'allow' END,
       CASE WHEN n % 3 = 0 THEN '{NO_CONSENT}'::text[] ELSE '{}'::text[] END,
       CASE WHEN n % 3 = 0 THEN '[{"code": "NO_CONSENT", "effect": "deny", "text": "x",
                                   "inputs": {}}]'::jsonb ELSE '[]'::jsonb END,
       n % 3 <> 0, '2026-11-25'
FROM generate_series($1::int, $2::int) n
"""


async def run(rows: int) -> dict:
    url = await fresh_database(PG, DB)
    db = Database(url, timeout=600.0)
    batch = 10_000
    t0 = time.perf_counter()
    async with db.connection() as conn:
        for first in range(0, rows, batch):
            await conn.execute(_ROWS, first, min(first + batch, rows) - 1)
    written = time.perf_counter() - t0
    t1 = time.perf_counter()
    full = await audit.verify(db)
    t2 = time.perf_counter()
    day = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    one_day = await audit.verify(db, day, day + dt.timedelta(days=1))
    t3 = time.perf_counter()
    await db.close()
    if not full.ok or full.checked != rows:
        raise SystemExit(f"unexpected audit result: {full.as_dict()}")
    return {
        "rows": rows,
        "insert_with_chain_rows_per_s": round(rows / written),
        "verify_all_seconds": round(t2 - t1, 2),
        "verify_links_per_s": round(rows / (t2 - t1)),
        "verify_one_day": {"links": one_day.checked, "seconds": round(t3 - t2, 2)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    result = {"benchmark": "audit verify", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                         f"{platform.python_version()}", **asyncio.run(run(args.rows))}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "audit_verify.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
