"""List scrubbing throughput with a loaded store (issue 15 item 5).

Loads N consents, Bloctel scrubs and attempts (as bench.decisions does, in its own database
astguard_bench_scrub, kept for the next runs), writes a list of M numbers (half of them
consented, a tenth with attempts, the rest unknown to the store, a few invalid), and times
`astguard scrub` in a child process (its peak memory read from ru_maxrss), output discarded.

    .venv/bin/python -m bench.scrub [--rows 10000000] [--numbers 1000000] [--format csv]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from lab.database import fresh_database, scoped

PG = os.environ.get("ASTGUARD_TEST_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
DB = "astguard_bench_scrub"
RESULTS = Path(__file__).resolve().parent / "results"
AT = "2026-11-27T11:00:00+01:00"  # a Friday, opt-in regime
BASE = 600_000_000  # +336 00000000 + n


async def load(rows: int, log) -> str:
    url = f"{PG}/{scoped(DB)}"
    try:
        conn = await asyncpg.connect(url)
        try:
            have = await conn.fetchval("SELECT count(*) FROM consents")
        finally:
            await conn.close()
        if have == rows:
            log(f"store already loaded: {have} consents")
            return url
    except (OSError, asyncpg.PostgresError):
        pass
    url = await fresh_database(PG, DB)
    conn = await asyncpg.connect(url, command_timeout=7200)
    try:
        t0 = time.monotonic()
        await conn.execute("INSERT INTO principals VALUES ('bench', 'Bench')")
        await conn.execute(
            "INSERT INTO campaigns (name, principal_id, purpose, dial_mode, caller_id, scope) "
            "VALUES ('bench', 'bench', 'prospecting', 'predictive', '+33162123456', 'energie')")
        await conn.execute(
            "INSERT INTO caller_ids (number, principal, kind, mandate_ref, valid_from) "
            "VALUES ('+33162123456', 'bench', 'npv', 'bench', '2025-01-01')")
        await conn.execute(f"""
            INSERT INTO consents (principal, number_e164, scopes, collected_at, channel,
                                  wording, proof_ref, valid_until)
            SELECT 'bench', '+33' || ({BASE} + n)::text, '{{energie}}',
                   '2026-01-05T00:00:00Z'::timestamptz + (n % 1000) * interval '1 minute',
                   'web', 'v3', 'proof-' || n, '2027-06-01T00:00:00Z'
            FROM generate_series(0, {rows - 1}) n""")
        await conn.execute(f"""
            INSERT INTO bloctel_scrubs (principal, number_e164, scrubbed_on, listed)
            SELECT 'bench', '+33' || ({BASE} + n)::text, '2026-07-20', n % 10 = 0
            FROM generate_series(0, {rows - 1}) n""")
        await conn.execute(f"""
            INSERT INTO attempts (principal, number_e164, attempted_at, local_day, source,
                                  reference)
            SELECT 'bench', '+33' || ({BASE} + n * 10)::text,
                   '2026-11-26T10:00:00Z'::timestamptz - (n % 28) * interval '1 day',
                   ('2026-11-26'::date - (n % 28)), 'external', 'bench-' || n
            FROM generate_series(0, {rows // 10 - 1}) n""")
        await conn.execute("ANALYZE")
        log(f"store loaded ({time.monotonic() - t0:.0f} s)")
    finally:
        await conn.close()
    return url


def write_list(path: Path, rows: int, numbers: int) -> None:
    rng = random.Random(15)
    with path.open("w") as fh:
        for i in range(numbers):
            if i % 1000 == 999:
                fh.write("06 12\n")  # invalid: a line of its own, never a failure
            elif i % 2:
                fh.write(f"0{BASE + rng.randrange(rows):09d}\n")  # in the store
            else:
                fh.write(f"07{rng.randrange(56_000_000, 59_999_999):08d}\n")  # unknown
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    args = parser.parse_args()

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    url = asyncio.run(load(args.rows, log))
    with tempfile.TemporaryDirectory(prefix="astguard-bench-scrub-") as work:
        path = Path(work) / "list.txt"
        write_list(path, args.rows, args.numbers)
        env = {**os.environ, "ASTGUARD_DATABASE_URL": url,
               "ASTGUARD_SPOOL_DIR": str(Path(work) / "spool")}
        code = ("import resource, sys, time; from astguard.surfaces.cli import main; "
                "t0 = time.monotonic(); rc = main(sys.argv[1:]); "
                "print('SECONDS', time.monotonic() - t0, 'MAXRSS', "
                "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
                "sys.exit(rc)")
        log(f"scrub {args.numbers:,} numbers")
        with open(os.devnull, "w") as sink:
            done = subprocess.run(
                [sys.executable, "-c", code, "scrub", str(path), "--campaign", "bench",
                 "--at", AT, "--format", args.format],
                env=env, stdout=sink, stderr=subprocess.PIPE, text=True, timeout=7200)
        if done.returncode != 0:
            raise SystemExit(f"scrub failed: {done.stderr[-2000:]}")
        tail = done.stderr.rsplit("SECONDS", 1)[1].split()
        seconds, maxrss = float(tail[0]), int(tail[2])
    result = {
        "benchmark": "list scrubbing with a loaded store",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "store_consents": args.rows, "numbers": args.numbers, "format": args.format,
        "seconds": round(seconds, 2), "numbers_per_s": round(args.numbers / seconds),
        "peak_rss_mb": round(maxrss / 1024, 1),
        "load_average": os.getloadavg(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scrub.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
