"""Post-dial delay through astguard against a plain Dial(), measured in one run.

Each call: SIPp (agent softphone) -> Asterisk -> SIPp (carrier). The delay is the time from the
agent's INVITE leaving SIPp to the carrier's SIPp receiving its INVITE, read from both message
logs (microseconds, one clock). The only difference between the two paths is what happens
before Dial(): the guarded
endpoint goes through Stasis (astguard decides and writes the evidence to PostgreSQL), the plain
one dials straight away. Rounds alternate between the two paths so that machine noise hits both.

    .venv/bin/python -m bench.post_dial_delay [--calls 250] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from astguard.store.database import Database
from astguard.store.directory import Directory
from lab.asterisk import ARI_PASSWORD, LabAsterisk, ensure_rootfs
from lab.database import fresh_database
from lab.sipp import ASTERISK, Carrier, _uac_scenario

PG = os.environ.get("ASTGUARD_TEST_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
DB = "astguard_bench"
RESULTS = Path(__file__).resolve().parent / "results"


async def prepare() -> str:
    url = await fresh_database(PG, DB)
    db = Database(url)
    d = Directory(db)
    await d.add_principal("bench", "Bench")
    await d.set_campaign("bench", "bench", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("agent1", "bench", [], None)
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO caller_ids (number, principal, kind, mandate_ref, valid_from) "
            "VALUES ('+33162123456', 'bench', 'npv', 'bench', '2025-01-01')")
    async with db.connection() as conn:  # the calls fall under the opt-in regime: consents
        await conn.execute(
            """INSERT INTO consents (principal, number_e164, scopes, collected_at, channel,
                                     wording, proof_ref, valid_until)
               SELECT 'bench', '+336' || lpad(n::text, 8, '0'), '{energie}',
                      '2026-01-05T00:00:00Z', 'web', 'v1', 'bench-' || n, '2028-01-01T00:00:00Z'
               FROM (SELECT generate_series(10000000, 10000010)
                     UNION ALL SELECT generate_series(20000000, 20100000)) AS g(n)""")
    await db.close()
    return url


async def set_chain(url: str, on: bool) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"ALTER TABLE decisions {'ENABLE' if on else 'DISABLE'} "
                           "TRIGGER decisions_chain")
    finally:
        await conn.close()


_BLOCK = re.compile(
    r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n[^\n]*message (sent|received)[^\n]*\n\n"
    r"INVITE sip:([^@]+)@", re.M)


def invite_times(log: Path, direction: str) -> dict[str, float]:
    """First INVITE per request-URI user in a SIPp message log: {number: epoch seconds}."""
    found: dict[str, float] = {}
    for stamp, way, user in _BLOCK.findall(log.read_text(errors="replace")):
        if way == direction:
            when = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
            found.setdefault(user.removeprefix("+33").lstrip("0"), when)
    return found


def run_batch(work: Path, carrier: Carrier, agent: str, calls: int, first: int,
              tag: str) -> list[float]:
    """Place `calls` calls one after another; return each agent-INVITE -> carrier-INVITE delay
    in milliseconds, from the microsecond timestamps of both SIPp message logs."""
    scenario = work / f"{tag}.xml"
    scenario.write_text(_uac_scenario(agent, {}, None, 50).replace(
        "INVITE sip:[service]@", "INVITE sip:[field0]@").replace(
        "To: <sip:[service]@", "To: <sip:[field0]@"))
    numbers = work / f"{tag}.csv"
    numbers.write_text("SEQUENTIAL\n" + "".join(f"06{first + i:08d}\n" for i in range(calls)))
    log = work / f"{tag}-messages.log"
    log.unlink(missing_ok=True)
    subprocess.run(
        ["sipp", "-sf", str(scenario), "-inf", str(numbers), "-i", "127.0.0.1", "-p", "5090",
         "-mp", "24000", "-m", str(calls), "-l", "1", "-nostdin", "-timeout", "120s",
         "-trace_msg", "-message_file", str(log), ASTERISK],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=180)
    sent = invite_times(log, "sent")
    received = invite_times(carrier.log, "received")
    delays = [(received[n] - t) * 1000 for n, t in sent.items() if n in received]
    if len(delays) != calls:
        raise SystemExit(f"{tag}: {len(delays)} of {calls} calls reached the carrier")
    return delays


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 3),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=250, help="calls per path")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    per_round = max(1, args.calls // args.rounds)
    work = Path(tempfile.mkdtemp(prefix="astguard-bench-"))
    url = asyncio.run(prepare())
    asterisk = LabAsterisk(ensure_rootfs(), work / "asterisk")
    asterisk.install()
    asterisk.start()
    carrier = Carrier(work / "carrier")
    carrier.start()
    env = {"PATH": os.environ["PATH"], "ASTGUARD_DATABASE_URL": url,
           "ASTGUARD_ARI_PASSWORD": ARI_PASSWORD,
           "ASTGUARD_LOG_LEVEL": os.environ.get("ASTGUARD_LOG_LEVEL", "WARNING"),
           "ASTGUARD_CLOCK_PIN": "2026-11-27T11:00:00+01:00", "ASTGUARD_LAB": "1",
           "ASTGUARD_SPOOL_DIR": str(work / "spool")}
    log = open(work / "astguard.log", "wb")  # noqa: SIM115
    guard = subprocess.Popen([sys.executable, "-m", "astguard", "serve"], env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    time.sleep(2)
    guarded: list[float] = []
    unchained: list[float] = []
    plain: list[float] = []
    try:
        run_batch(work, carrier, "agent1", 5, 10_000_000, "warm-guarded")  # warm both paths
        run_batch(work, carrier, "plain-agent", 5, 10_000_100, "warm-plain")
        for r in range(args.rounds):
            base = 20_000_000 + r * 1000
            guarded += run_batch(work, carrier, "agent1", per_round, base, "guarded")
            plain += run_batch(work, carrier, "plain-agent", per_round, base + 500, "plain")
            # The same path with the evidence chain's trigger off: what the chain adds.
            asyncio.run(set_chain(url, False))
            try:
                unchained += run_batch(work, carrier, "agent1", per_round, base + 250,
                                       "unchained")
            finally:
                asyncio.run(set_chain(url, True))
    finally:
        guard.terminate()
        guard.wait(10)
        carrier.stop()
        asterisk.stop()
        asterisk.unmount()
    g, p, u = summary(guarded), summary(plain), summary(unchained)
    result = {
        "benchmark": "post-dial delay, agent INVITE sent -> carrier INVITE received",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "through_astguard": g,
        "plain_dial": p,
        "added_median_ms": round(g["median_ms"] - p["median_ms"], 3),
        "added_p90_ms": round(g["p90_ms"] - p["p90_ms"], 3),
        "through_astguard_without_evidence_chain": u,
        "evidence_chain_added_median_ms": round(g["median_ms"] - u["median_ms"], 3),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "post_dial_delay.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
