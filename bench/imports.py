"""Import rates (issue 15 item 4), and PostgreSQL's own floor for them, in one run.

For each checkout given (default: this one), in a fresh database (astguard_bench_imports +
suffix): `astguard import consents` of N lines and `astguard import bloctel` of N submitted +
0.9 N returned lines (the files of bench.decisions), each in a child process (its peak RSS).
`--before DIR` runs another checkout's code first and after (PYTHONPATH=DIR/src), so that
before and after are measured in one run, alternated. Then, without Python: COPY of N ready
consent rows into the staging table, the merge into `consents`, and a COPY into a copy of
`consents` without indexes or constraints.

    .venv/bin/python -m bench.imports [--lines 1000000] [--before /path/to/main-export]
                                      [--floor-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from astguard.app.imports import CONSENT_VALIDITY
from astguard.store import imports as import_sql
from astguard.store.imports import _TABLES
from bench.decisions import PG
from lab.database import fresh_database

DB = "astguard_bench_imports"
RESULTS = Path(__file__).resolve().parent / "results"
_CODE = ("import resource, sys; from astguard.surfaces.cli import main; rc = main(sys.argv[1:]);"
         "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr);"
         "sys.exit(rc)")


def write_files(work: Path, lines: int) -> dict[str, list[str]]:
    consents, submitted, returned = work / "consents.csv", work / "sub.txt", work / "ret.txt"
    with consents.open("w") as fh:
        fh.write("number,principal,scopes,collected_at,channel,wording,proof_ref\n")
        for n in range(lines):
            fh.write(f"+33{610_000_000 + n},bench,energie,2026-10-01T10:00:00+02:00,"
                     f"web,v3,imp-{n}\n")
    with submitted.open("w") as s, returned.open("w") as r:
        for n in range(lines):
            s.write(f"06{10_000_000 + n:08d}\n")
            if n % 10:
                r.write(f"+336{10_000_000 + n:08d}\n")
    return {"consents": ["import", "consents", str(consents), "--json"],
            "bloctel": ["import", "bloctel", "--principal", "bench", "--submitted",
                        str(submitted), "--returned", str(returned), "--date", "2026-07-21",
                        "--json"]}


def import_run(argv: list[str], url: str, src: str | None, work: Path) -> dict:
    env = {**os.environ, "ASTGUARD_DATABASE_URL": url, "ASTGUARD_SPOOL_DIR": str(work / "spool")}
    if src:
        env["PYTHONPATH"] = src
    done = subprocess.run([sys.executable, "-c", _CODE, *argv], env=env, capture_output=True,
                          text=True, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"{argv[:2]} failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout[done.stdout.index("{"):])
    return {"lines": report["lines"], "seconds": report["seconds"],
            "rows_per_s": round(report["lines"] / report["seconds"]),
            "peak_rss_mb": round(int(done.stderr.rsplit("MAXRSS", 1)[1].split()[0]) / 1024, 1),
            "load_average": round(os.getloadavg()[0], 2)}


async def floor(lines: int) -> dict[str, float]:
    """PostgreSQL alone: COPY of ready rows, the consents merge, COPY without indexes."""
    url = await fresh_database(PG, DB)
    conn = await asyncpg.connect(url, command_timeout=7200)
    text = "".join(f"bench\t+33{610_000_000 + n}\t{{energie}}\t2026-10-01T10:00:00+02:00\tweb"
                   f"\tv3\timp-{n}\t\\N\n" for n in range(lines)).encode()
    columns = _TABLES["consents"][0]

    async def source():
        for i in range(0, len(text), 1 << 20):
            yield text[i:i + (1 << 20)]

    try:
        async with conn.transaction():
            await conn.execute(f"CREATE TEMP TABLE import_rows ({columns}) ON COMMIT DROP")
            t0 = time.perf_counter()
            await conn.copy_to_table("import_rows", source=source(), format="text")
            t1 = time.perf_counter()
            await import_sql.merge(conn, "consents", CONSENT_VALIDITY.total_seconds())
            t2 = time.perf_counter()
        await conn.execute("CREATE TABLE bare AS SELECT * FROM consents WITH NO DATA")
        t3 = time.perf_counter()
        await conn.copy_to_table("bare", source=source(), format="text", columns=[
            "principal", "number_e164", "scopes", "collected_at", "channel", "wording",
            "proof_ref", "valid_until"])
        t4 = time.perf_counter()
    finally:
        await conn.close()
    return {"copy_to_staging_s": round(t1 - t0, 2), "merge_into_consents_s": round(t2 - t1, 2),
            "copy_into_unindexed_copy_s": round(t4 - t3, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--before", help="another checkout (its src/ is put first)")
    parser.add_argument("--floor-only", action="store_true", help="PostgreSQL alone")
    args = parser.parse_args()
    versions = [] if args.floor_only else [("after", None)]
    if args.before and versions:
        before = ("before", str(Path(args.before) / "src"))
        versions = [before, versions[0], versions[0], before]
    runs = []
    with tempfile.TemporaryDirectory(prefix="astguard-bench-imports-") as tmp:
        work = Path(tmp)
        files = write_files(work, args.lines)
        for label, src in versions:
            url = asyncio.run(fresh_database(PG, DB))
            for kind, argv in files.items():
                run = {"code": label, "kind": kind} | import_run(argv, url, src, work)
                print(json.dumps(run), file=sys.stderr, flush=True)
                runs.append(run)
    result = {"benchmark": "imports", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "imports": runs, "postgresql_alone": asyncio.run(floor(args.lines)),
              "load_average": os.getloadavg()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "imports.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
