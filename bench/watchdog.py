"""How fast the watchdog hangs up a call that reaches the trunk without astguard, and what the
carrier sees.

The lab's Asterisk, astguard serving with the watchdog on the `carrier-ringing` trunk, and a
SIPp carrier that behaves like a real network: 100 Trying at once, 180 Ringing once the
consumer's phone rings (after --ring-ms), 200 OK later. N unguarded calls, one after the
other, alternating an AMI Originate straight to the trunk and an origination into a context
that dials the trunk without astguard ([lab-unguarded]). For each call:
- channel lifetime: the trunk channel's creation (Asterisk's ChannelCreated time) to the end
  of astguard's hang-up request (the UNGUARDED_CALL row);
- at the carrier: INVITE received to CANCEL received (SIPp's message log, microseconds), and
  whether a 180 Ringing or a 200 OK left the carrier before the CANCEL.

    .venv/bin/python -m bench.watchdog [--calls 60] [--ring-ms 1000]   (as root)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from panoramisk import Manager

from lab.asterisk import AMI, ARI_PASSWORD, LabAsterisk, ensure_rootfs
from lab.database import fresh_database
from lab.sipp import Carrier

PG = os.environ.get("ASTGUARD_TEST_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
DB = "astguard_bench_watchdog"
RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "bench-call-token-secret-0123456789abcdef"


async def originate(channels: list[str], carrier: Carrier, pause: float) -> None:
    host, port, user, secret = AMI
    manager = Manager(host=host, port=port, username=user, secret=secret,
                      loop=asyncio.get_running_loop())
    await manager.connect()
    try:
        for channel in channels:
            await manager.send_action({
                "Action": "Originate", "Channel": channel, "Context": "lab-dialer-agent",
                "Exten": "s", "Priority": "1", "Async": "true", "Timeout": "15000"})
            await asyncio.sleep(pause)
    finally:
        manager.close()


async def rows(url: str) -> dict[str, dict]:
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetch("SELECT dialled, action, lifetime_ms, "
                                 "extract(epoch FROM detected_at - created_at) * 1000 AS seen "
                                 "FROM unguarded_calls")
    finally:
        await conn.close()
    return {r["dialled"]: dict(r) for r in found}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 2),
            "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
            "max_ms": round(ordered[-1], 2), "min_ms": round(ordered[0], 2)}


def at_carrier(carrier: Carrier, number: str) -> dict[str, float | bool | None]:
    dialog = carrier.dialog_to(number)
    invite = next((e.at for e in dialog if not e.sent and e.first_line.startswith("INVITE")),
                  None)
    cancel = next((e.at for e in dialog if not e.sent and e.first_line.startswith("CANCEL")),
                  None)
    before = [e for e in dialog if e.sent and (cancel is None or e.at <= cancel)]
    return {
        "invite_to_cancel_ms": (cancel - invite).total_seconds() * 1000
        if invite and cancel else None,
        "rang": any(e.first_line.startswith("SIP/2.0 180") for e in before),
        "answered": any(e.first_line == "SIP/2.0 200 OK" for e in before),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--ring-ms", type=int, default=1000,
                        help="when the carrier's 180 Ringing leaves, after its INVITE")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between calls")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="astguard-bench-watchdog-"))
    url = asyncio.run(fresh_database(PG, DB))
    asterisk = LabAsterisk(ensure_rootfs(), work / "asterisk")
    asterisk.install()
    asterisk.start()
    carrier = Carrier(work / "carrier", port=5088)
    carrier.start(ring_after_ms=args.ring_ms, answer_after_ms=3000)
    env = {"PATH": os.environ["PATH"], "ASTGUARD_DATABASE_URL": url,
           "ASTGUARD_ARI_PASSWORD": ARI_PASSWORD, "ASTGUARD_LOG_LEVEL": "INFO",
           "ASTGUARD_SPOOL_DIR": str(work / "spool"), "ASTGUARD_HTTP_ENABLED": "false",
           "ASTGUARD_AGI_ENABLED": "false",
           "ASTGUARD_TRUNK_ENDPOINTS": "carrier-ringing", "ASTGUARD_CALL_TOKEN_SECRET": SECRET}
    log_path = work / "astguard.log"
    with open(log_path, "wb") as log:
        guard = subprocess.Popen([sys.executable, "-m", "astguard", "serve"], env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
    numbers = [f"0698{n:06d}" for n in range(args.calls)]
    try:
        deadline = time.monotonic() + 30
        while log_path.read_text(errors="replace").count("ARI websocket connected") < 2:
            if time.monotonic() > deadline:
                raise SystemExit("astguard did not connect to ARI")
            time.sleep(0.2)
        channels = [f"PJSIP/{n}@carrier-ringing" if i % 2 == 0 else f"Local/{n}@lab-unguarded"
                    for i, n in enumerate(numbers)]
        asyncio.run(originate(channels, carrier, args.pause))
        time.sleep(args.ring_ms / 1000 + 4)
        found = asyncio.run(rows(url))
    finally:
        guard.terminate()
        guard.wait(10)
        carrier.stop()
        asterisk.stop()
        asterisk.unmount()
    carrier_side = [at_carrier(carrier, n) for n in numbers]
    result = {
        "benchmark": "watchdog: unguarded trunk calls hung up",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "calls": args.calls,
        "carrier_rings_after_ms": args.ring_ms,
        "recorded": len([n for n in numbers if n in found]),
        "hung_up": len([n for n in numbers if found.get(n, {}).get("action") == "hung_up"]),
        "creation_to_evidence_ms": summary([float(found[n]["seen"]) for n in numbers
                                         if n in found]),
        "creation_to_hangup_ms": summary([float(found[n]["lifetime_ms"]) for n in numbers
                                          if found.get(n, {}).get("lifetime_ms") is not None]),
        "carrier_invite_to_cancel_ms": summary([c["invite_to_cancel_ms"] for c in carrier_side
                                                if c["invite_to_cancel_ms"] is not None]),
        "carrier_got_invite_then_cancel": sum(c["invite_to_cancel_ms"] is not None
                                              for c in carrier_side),
        "rang_before_cancel": sum(bool(c["rang"]) for c in carrier_side),
        "answered_before_cancel": sum(bool(c["answered"]) for c in carrier_side),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "watchdog.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
