"""The inspection report at scale (issue 15 item 6): one principal-month of a million decisions,
as CSV and as printable HTML, through the real code path (`astguard report`, the store's cursor,
the streaming renderers), each in its own process so that its time and peak memory (RSS) are
its own. A smaller month (100,000 decisions) is measured the same way: with streaming, peak
memory does not grow with the month.

    .venv/bin/python -m bench.reports [--decisions 1000000] [--small 100000]

The decisions are generated in their own database (astguard_bench_reports, kept and reused
when its counts match) with set-based SQL in one statement per principal; the hash chain's
trigger is switched off while generating (the report reads the chain's head only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from lab.database import fresh_database, scoped

PG = os.environ.get("ASTGUARD_TEST_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
DB = "astguard_bench_reports"
ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
MONTH = ("2026-10-01", "2026-10-31")  # October 2026 (Paris), the opt-in regime
TARGET_S = 10.0

# One decision in three refused (no consent, or outside the call window); allowed calls get an
# outcome (answered or not). Every text column is filled as the gate fills it.
_GENERATE = """
INSERT INTO decisions (
    id, decided_at, clock_mode, node, source, endpoint, agent, dialled, number_e164, emergency,
    territories, local_times, principal, campaign, purpose, dial_mode, classification,
    caller_id_requested, caller_id, decision, reason_codes, reasons, counts_as_attempt,
    rulebook_version, outcome_at, answered, dial_status, hangup_cause, hangup_cause_text,
    duration_s)
SELECT gen_random_uuid(), t, 'system', 'bench', 'ari', 'poste-' || (g % 40),
       'Agent ' || (g % 40), '06' || lpad((g % 9000000)::text, 8, '0'),
       '+336' || lpad((g % 9000000)::text, 8, '0'), false, ARRAY['FR'],
       jsonb_build_array(jsonb_build_object(
           'zone', 'Europe/Paris',
           'local', to_char(t, 'YYYY-MM-DD"T"HH24:MI:SSOF') || ':00')),
       $1, 'bench-campagne-' || (g % 5), 'prospecting', 'predictive',
       'campagne par défaut du poste', NULL, '+33162123456',
       CASE WHEN g % 3 = 0 THEN 'deny' ELSE 'allow' END,
       CASE WHEN g % 6 = 0 THEN ARRAY['NO_CONSENT'] WHEN g % 3 = 0
            THEN ARRAY['OUTSIDE_CALL_WINDOW'] ELSE ARRAY[]::text[] END,
       CASE WHEN g % 6 = 0 THEN '[{"code": "NO_CONSENT", "text": "Aucun consentement préalable du consommateur.", "effect": "deny", "inputs": {}}]'::jsonb
            WHEN g % 3 = 0 THEN '[{"code": "OUTSIDE_CALL_WINDOW", "text": "Hors des plages horaires autorisées.", "effect": "deny", "inputs": {}}]'::jsonb
            ELSE '[]'::jsonb END,
       g % 3 <> 0, 'rules-fr 2026-11-26',
       CASE WHEN g % 3 <> 0 THEN t + interval '40 seconds' END,
       CASE WHEN g % 3 <> 0 THEN g % 2 = 0 END,
       CASE WHEN g % 3 <> 0 THEN CASE WHEN g % 2 = 0 THEN 'ANSWER' ELSE 'NOANSWER' END END,
       CASE WHEN g % 3 <> 0 THEN 16 END, NULL,
       CASE WHEN g % 3 <> 0 AND g % 2 = 0 THEN 35.5 END
FROM generate_series(1, $2::int) g,
     LATERAL (SELECT timestamptz '2026-09-30 22:00:00+00'
                     + (g::float8 / $2 * 2678400) * interval '1 second' AS t) tt
"""


async def _count(url: str, principal: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM decisions WHERE principal = $1",
                                   principal)
    finally:
        await conn.close()


async def load(sizes: dict[str, int], log) -> str:
    url = f"{PG}/{scoped(DB)}"
    try:
        if all([await _count(url, p) == n for p, n in sizes.items()]):
            log(f"reusing {scoped(DB)}")
            return url
    except (OSError, asyncpg.PostgresError):
        pass
    url = await fresh_database(PG, DB)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ALTER TABLE decisions DISABLE TRIGGER decisions_chain")
        await conn.execute("SET TIME ZONE 'Europe/Paris'")  # the local times' offsets
        # Indexes built once after the rows, not maintained row by row.
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'decisions' "
            "AND indexname <> 'decisions_pkey'")
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        for principal, n in sizes.items():
            await conn.execute("INSERT INTO principals (id, name) VALUES ($1, $2)",
                               principal, f"Banc d'essai {n} décisions")
            t0 = time.perf_counter()
            await conn.execute(_GENERATE, principal, n, timeout=None)
            log(f"{principal}: {n} decisions generated in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        for index in indexes:
            await conn.execute(index["indexdef"], timeout=None)
        log(f"indexes built in {time.perf_counter() - t0:.1f} s")
        await conn.execute("ALTER TABLE decisions ENABLE TRIGGER decisions_chain")
        await conn.execute("ANALYZE decisions")
    finally:
        await conn.close()
    return url


def measure(url: str, principal: str, fmt: str, out: Path) -> dict[str, float]:
    """`astguard report` in a process of its own: wall time and its peak RSS (wait4)."""
    env = {**os.environ, "ASTGUARD_DATABASE_URL": url, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "astguard", "report", "--principal", principal,
           "--from", MONTH[0], "--to", MONTH[1], "--format", fmt, "-o", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"astguard report failed ({proc.returncode}): {stderr}")
    return {"seconds": round(elapsed, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "bytes": out.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    args = parser.parse_args()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    sizes = {"bench-mois": args.decisions, "bench-petit": args.small}
    url = asyncio.run(load(sizes, log))
    results: dict[str, object] = {"machine": {"cpus": os.cpu_count(),
                                              "python": platform.python_version()},
                                  "month": MONTH, "target_seconds": TARGET_S, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for principal, n in sizes.items():
            for fmt in ("csv", "html"):
                figures = measure(url, principal, fmt, Path(tmp) / f"{principal}.{fmt}")
                run = {"decisions": n, "format": fmt, **figures}
                log(json.dumps(run))
                results["runs"].append(run)  # type: ignore[union-attr]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
