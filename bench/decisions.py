"""Decision latency and rate with a loaded store, and import rates (issue "Contact pressure").

With 10 million consents, 10 million Bloctel scrubs and 1 million attempts in PostgreSQL, the
same `Gate.check` a live call uses (classification, per-consumer lock, history, policy, decision
and attempt written in one transaction) is timed:

* latency at a paced 200 decisions/s, against a bare PostgreSQL round trip (SELECT 1) and a bare
  durable write (one-row INSERT, committed) timed in the same run, interleaved;
* the highest sustained rate with concurrent callers;
* import rates through the real import path (consents CSV and Bloctel files), each import in
  its own process so its peak memory can be read.

    .venv/bin/python -m bench.decisions [--rows 10000000] [--attempts 1000000]
                                        [--import-lines 1000000]

The loaded database (astguard_bench_store) is kept and reused when its row counts match.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from astguard.clock import PinnedClock
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store import schema
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from lab.database import fresh_database, scoped

PG = os.environ.get("ASTGUARD_TEST_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
DB = "astguard_bench_store"
RESULTS = Path(__file__).resolve().parent / "results"
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris, opt-in regime
BASE = 600_000_000  # numbers +336 00000000 + n (metropolitan mobiles)


# The number the bench campaign presents, held by the principal (R-F2).
_INVENTORY = ("INSERT INTO caller_ids (number, principal, kind, mandate_ref, valid_from) "
              "VALUES ('+33162123456', 'bench', 'npv', 'bench', '2025-01-01') "
              "ON CONFLICT DO NOTHING")


def number(n: int) -> str:
    return f"+33{BASE + n:09d}"


async def counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                for t in ("consents", "bloctel_scrubs", "attempts")}
    finally:
        await conn.close()


async def load(rows: int, attempts: int, log) -> str:
    url = f"{PG}/{scoped(DB)}"
    try:
        have = await counts(url)
        # Runs add rows (attempts, imports): a store at least this big is reused.
        if have["consents"] >= rows and have["bloctel_scrubs"] >= rows \
                and have["attempts"] >= attempts and have["consents"] < rows + 2 * 10**7:
            log(f"store already loaded: {have}")
            conn = await asyncpg.connect(url)
            try:
                await schema.migrate(conn)  # a store kept from an older version
                await conn.execute(_INVENTORY)
            finally:
                await conn.close()
            return url
    except (OSError, asyncpg.PostgresError):
        pass
    url = await fresh_database(PG, DB)
    conn = await asyncpg.connect(url, command_timeout=3600)
    try:
        t0 = time.monotonic()
        await conn.execute("INSERT INTO principals VALUES ('bench', 'Bench')")
        await conn.execute(
            "INSERT INTO campaigns (name, principal_id, purpose, dial_mode, caller_id, scope) "
            "VALUES ('bench', 'bench', 'prospecting', 'predictive', '+33162123456', 'energie')")
        await conn.execute(f"""
            INSERT INTO consents (principal, number_e164, scopes, collected_at, channel,
                                  wording, proof_ref, valid_until)
            SELECT 'bench', '+33' || ({BASE} + n)::text, '{{energie}}',
                   '2026-01-05T00:00:00Z'::timestamptz + (n % 1000) * interval '1 minute',
                   'web', 'v3', 'proof-' || n, '2027-06-01T00:00:00Z'
            FROM generate_series(0, {rows - 1}) n""")
        await conn.execute(_INVENTORY)
        log(f"consents loaded ({time.monotonic() - t0:.0f} s)")
        await conn.execute(f"""
            INSERT INTO bloctel_scrubs (principal, number_e164, scrubbed_on, listed)
            SELECT 'bench', '+33' || ({BASE} + n)::text, '2026-07-20', n % 10 = 0
            FROM generate_series(0, {rows - 1}) n""")
        log(f"Bloctel scrubs loaded ({time.monotonic() - t0:.0f} s)")
        # Attempts spread over the last 30 days on the first numbers (two per number).
        await conn.execute(f"""
            INSERT INTO attempts (principal, number_e164, attempted_at, local_day, source,
                                  reference)
            SELECT 'bench', '+33' || ({BASE} + n / 2)::text,
                   '2026-11-26T10:00:00Z'::timestamptz - (n % 28) * interval '1 day',
                   ('2026-11-26'::date - (n % 28)), 'external', 'bench-' || n
            FROM generate_series(0, {attempts - 1}) n""")
        await conn.execute("ANALYZE")
        log(f"attempts loaded, analysed ({time.monotonic() - t0:.0f} s)")
    finally:
        await conn.close()
    return url


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def latency(url: str, rows: int, n: int, rate: float) -> dict:
    db = Database(url, timeout=5.0, max_size=20)
    gate = Gate(db=db, directory=Directory(db), spool=Spool(Path(tempfile.mkdtemp())), clock=PinnedClock(NOW),
                rules=RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY)), node="b")
    probe = await asyncpg.connect(url)
    # A real (WAL-logged) table: each INSERT is a durable commit, like a decision's.
    await probe.execute("CREATE TABLE IF NOT EXISTS bench_probe (x int)")
    rng = random.Random()  # fresh numbers each run: earlier runs left attempts behind
    decisions: list[float] = []
    selects: list[float] = []
    writes: list[float] = []
    allowed = 0
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(n + 50):
        target = start + i * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        national = "0" + number(rng.randrange(rows))[3:]
        t0 = time.perf_counter()
        decided = await gate.check(CallRequest(national, "api", campaign_name="bench"),
                                   record=True)
        t1 = time.perf_counter()
        await probe.fetchval("SELECT 1")
        t2 = time.perf_counter()
        await probe.execute("INSERT INTO bench_probe VALUES (1)")
        t3 = time.perf_counter()
        if i >= 50:  # the first 50 warm the pools and caches
            decisions.append((t1 - t0) * 1000)
            selects.append((t2 - t1) * 1000)
            writes.append((t3 - t2) * 1000)
            allowed += decided.verdict.allowed
    elapsed = time.perf_counter() - start
    if allowed < n * 0.9:
        raise SystemExit(f"only {allowed} of {n} decisions allowed: the store is not set up "
                         "for the allowed path this benchmark measures")
    await probe.close()
    await db.close()
    return {
        "decisions": n, "allowed": allowed, "achieved_rate_per_s": round((n + 50) / elapsed, 1),
        "decision_ms": {"p50": pct(decisions, 0.5), "p90": pct(decisions, 0.9),
                        "p99": pct(decisions, 0.99), "mean": round(statistics.fmean(decisions), 3)},
        "bare_select_ms": {"p50": pct(selects, 0.5), "p99": pct(selects, 0.99)},
        "bare_write_ms": {"p50": pct(writes, 0.5), "p99": pct(writes, 0.99)},
        "p50_ratio_to_select": round(pct(decisions, 0.5) / pct(selects, 0.5), 2),
        "p50_ratio_to_write": round(pct(decisions, 0.5) / pct(writes, 0.5), 2),
    }


async def chain_cost(url: str, rows: int, n: int, rate: float, workers: int = 16,
                     seconds: float = 8.0) -> dict:
    """What the evidence hash chain (migration 0006) costs, in one run: paced decisions in
    alternating blocks with the chain trigger on and off, then the sustained rate likewise.
    (Decisions made with the trigger off are left unchained in this benchmark database.)"""
    admin = await asyncpg.connect(url)

    async def chain(on: bool) -> None:
        await admin.execute(f"ALTER TABLE decisions {'ENABLE' if on else 'DISABLE'} "
                            "TRIGGER decisions_chain")

    db = Database(url, timeout=5.0, max_size=20)
    gate = Gate(db=db, directory=Directory(db), spool=Spool(Path(tempfile.mkdtemp())),
                clock=PinnedClock(NOW),
                rules=RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY)), node="b")
    rng = random.Random()
    timed: dict[bool, list[float]] = {True: [], False: []}
    block = 100
    try:
        for b in range(2 * n // block + 1):
            on = b % 2 == 0
            await chain(on)
            start = time.perf_counter()
            for i in range(block):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                national = "0" + number(rng.randrange(rows))[3:]
                t0 = time.perf_counter()
                await gate.check(CallRequest(national, "api", campaign_name="bench"),
                                 record=True)
                if b > 0 and i >= 5:  # first block and each block's first calls warm up
                    timed[on].append((time.perf_counter() - t0) * 1000)
        await db.close()
        sustained: dict[bool, list[float]] = {True: [], False: []}
        for on in (True, False, True, False):
            await chain(on)
            sustained[on].append((await throughput(url, rows, seconds, workers))["rate_per_s"])
    finally:
        await chain(True)
        await admin.close()
    return {
        "paced_rate_per_s": rate,
        "with_chain_ms": {"p50": pct(timed[True], 0.5), "p99": pct(timed[True], 0.99),
                          "n": len(timed[True])},
        "without_chain_ms": {"p50": pct(timed[False], 0.5), "p99": pct(timed[False], 0.99),
                             "n": len(timed[False])},
        "p50_added_ms": round(pct(timed[True], 0.5) - pct(timed[False], 0.5), 3),
        "sustained_workers": workers,
        "sustained_with_chain_per_s": sustained[True],
        "sustained_without_chain_per_s": sustained[False],
    }


async def throughput(url: str, rows: int, seconds: float, workers: int) -> dict:
    db = Database(url, timeout=5.0, max_size=workers)
    gate = Gate(db=db, directory=Directory(db), spool=Spool(Path(tempfile.mkdtemp())), clock=PinnedClock(NOW),
                rules=RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY)), node="b")
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        nonlocal done
        rng = random.Random(seed ^ random.getrandbits(32))
        while time.perf_counter() < stop:
            national = "0" + number(rng.randrange(rows))[3:]
            await gate.check(CallRequest(national, "api", campaign_name="bench"), record=True)
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    elapsed = time.perf_counter() - t0
    await db.close()
    return {"workers": workers, "seconds": round(elapsed, 1), "decisions": done,
            "rate_per_s": round(done / elapsed, 1)}


def import_run(kind: str, lines: int, work: Path) -> dict:
    """Write a file of `lines` lines and import it in a child process (peak memory)."""
    if kind == "consents":
        path = work / f"consents-{lines}.csv"
        with path.open("w") as fh:
            fh.write("number,principal,scopes,collected_at,channel,wording,proof_ref\n")
            for n in range(lines):
                # 06 10 to 06 19: allotted mobile blocks (07 00 is not, rules-fr R-D4 data)
                fh.write(f"+33{610_000_000 + n},bench,energie,2026-10-01T10:00:00+02:00,"
                         f"web,v3,imp-{n}\n")
        argv = ["import", "consents", str(path), "--json"]
    else:
        submitted, returned = work / f"sub-{lines}.txt", work / f"ret-{lines}.txt"
        with submitted.open("w") as s, returned.open("w") as r:
            for n in range(lines):
                s.write(f"06{10_000_000 + n:08d}\n")
                if n % 10:
                    r.write(f"+336{10_000_000 + n:08d}\n")
        argv = ["import", "bloctel", "--principal", "bench", "--submitted", str(submitted),
                "--returned", str(returned), "--date", "2026-07-21", "--json"]
    env = {**os.environ, "ASTGUARD_DATABASE_URL": f"{PG}/{scoped(DB)}",
           "ASTGUARD_SPOOL_DIR": str(work / "spool")}
    code = ("import resource, sys; from astguard.surfaces.cli import main; rc = main(sys.argv[1:]);"
            "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "file=sys.stderr); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True,
                          text=True, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"import {kind} failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    maxrss = int(done.stderr.rsplit("MAXRSS", 1)[1].split()[0])
    return {"kind": kind, "lines": report["lines"], "seconds": report["seconds"],
            "rows_per_s": round(report["lines"] / report["seconds"]),
            "peak_rss_mb": round(maxrss / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--import-lines", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--skip-imports", action="store_true")
    args = parser.parse_args()

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    url = asyncio.run(load(args.rows, args.attempts, log))
    log("latency at a paced rate")
    lat = asyncio.run(latency(url, args.rows, args.decisions, args.rate))
    log("sustained rate")
    rates = [asyncio.run(throughput(url, args.rows, 10.0, w)) for w in (1, 4, 16)]
    log("the evidence chain's cost (trigger on and off, alternating)")
    chain = asyncio.run(chain_cost(url, args.rows, args.decisions, args.rate))
    work = Path(tempfile.mkdtemp(prefix="astguard-bench-imports-"))
    imports = []
    try:
        for lines in [] if args.skip_imports else args.import_lines:
            for kind in ("consents", "bloctel"):
                log(f"import {kind} {lines:,} lines")
                imports.append(import_run(kind, lines, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the generated files run to gigabytes
    result = {
        "benchmark": "decisions with a loaded store; imports",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "store": asyncio.run(counts(url)) | {"loaded_for": args.rows},
        "latency_at_rate": lat,
        "sustained": rates,
        "evidence_chain": chain,
        "imports": imports,
        "bench_process_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "decisions.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
