"""End-to-end fixtures: the real Asterisk 22 (debootstrap root filesystem), SIPp peers, the real
PostgreSQL, and `astguard serve` as a separate process, as an administrator would run it."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from astguard.app.recording import RecordingService
from astguard.clock import SystemClock
from astguard.install.kit import PROMPTS, data_path
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.inbound import InboundStore
from lab.asterisk import (
    AMI_ASTGUARD_SECRET,
    ARI_PASSWORD,
    RECORDINGS_IN_ROOT,
    LabAsterisk,
    ensure_rootfs,
)
from lab.database import as_service
from lab.sipp import Carrier
from tests.conftest import give_consent, hold_number

# Friday 27 November 2026, 11:00 in Paris: an open hour on an ordinary working day.
OPEN = "2026-11-27T11:00:00+01:00"
SATURDAY = "2026-11-28T11:00:00+01:00"
CHRISTMAS = "2026-12-25T11:00:00+01:00"

_numbers = itertools.count(1)
_SEEDED: dict[str, str] = {}


def fresh_number(consent: bool = True, prefix: str = "0612") -> tuple[str, str]:
    """A metropolitan mobile number no other test dials: (national, E.164). The lab's calls
    fall under the opt-in regime, so by default the consumer has consented to e2e-acme."""
    n = next(_numbers) + (os.getpid() % 50) * 1000
    national = f"{prefix}{n:06d}"
    e164 = "+33" + national[1:]
    if consent and "url" in _SEEDED:
        async def give() -> None:
            db = Database(_SEEDED["url"])
            await give_consent(db, "e2e-acme", e164)
            await db.close()

        run_async(give())
    return national, e164


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: run scripts/setup (the README's test command does)")


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Iterator[LabAsterisk]:
    if os.geteuid() != 0:
        pytest.fail("the end-to-end tests run Asterisk with chroot: run them as root")
    for tool in ("sipp", "debootstrap", "chroot"):
        _require(tool)
    asterisk = LabAsterisk(ensure_rootfs(), tmp_path_factory.mktemp("asterisk"))
    asterisk.install()
    asterisk.start()
    yield asterisk
    asterisk.stop()
    asterisk.unmount()


@pytest.fixture(scope="session")
def carrier(lab, tmp_path_factory) -> Iterator[Carrier]:
    peer = Carrier(tmp_path_factory.mktemp("carrier"))
    peer.start()
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def declining_carrier(lab, tmp_path_factory) -> Iterator[Carrier]:
    """Where the lab trunk sends +33 75… numbers: it answers 603 Decline to every INVITE."""
    peer = Carrier(tmp_path_factory.mktemp("carrier-decline"), port=5082)
    peer.start(decline=True)
    yield peer
    peer.stop()


def run_async(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def seeded(database_url: str) -> str:
    async def seed() -> None:
        db = Database(database_url)
        d = Directory(db)
        await d.add_principal("e2e-acme", "ACME Énergie")
        await d.set_campaign("e2e-prospect", "e2e-acme", "prospecting", "manual", "0162123456",
                             scope="energie")
        await d.set_campaign("e2e-service", "e2e-acme", "service", "manual", "0145678901")
        await d.set_campaign("e2e-other", "e2e-acme", "prospecting", "manual", "0162123457",
                             scope="energie")
        await d.set_campaign("e2e-dialer", "e2e-acme", "prospecting", "predictive",
                             "0162123458", scope="energie")
        # Its presented number has a recording policy (outbound recording tests).
        await d.set_campaign("e2e-recorded", "e2e-acme", "prospecting", "manual",
                             "0162123459", scope="energie")
        for number in ("+33162123456", "+33162123457", "+33162123458", "+33162123459",
                       "+33145678901"):  # the last: the service campaign's (R-F2)
            await hold_number(db, "e2e-acme", number)
        # An automated service campaign showing a geographic (non-NPV) number it holds: R-F4
        # refuses it, whatever the purpose (rules-fr 2026-11-26).
        await d.set_campaign("e2e-service-auto", "e2e-acme", "service", "predictive",
                             "0145678901")
        for agent in ("agent1", "agent2", "agent3", "agi-agent1", "predial-agent1",
                      "freepbx-agent1"):
            await d.set_endpoint(agent, "e2e-prospect",
                                 ["e2e-service", "e2e-recorded", "e2e-service-auto"], agent)
        await d.set_endpoint("agent-nocampaign", None, [], None)
        # A campaign that refuses a wrong presented number instead of rewriting it (R-F2).
        await d.set_campaign("e2e-strict", "e2e-acme", "prospecting", "manual", "0162123456",
                             scope="energie", cli_policy="refuse")
        await d.set_endpoint("agent4", "e2e-strict", [], "agent4")
        await db.close()

    run_async(seed())
    _SEEDED["url"] = database_url
    return database_url


def decisions_for(database_url: str, e164: str) -> list[dict[str, Any]]:
    async def fetch():
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT * FROM decisions WHERE number_e164 = $1 OR dialled = $1 "
                "ORDER BY recorded_at", e164)
        finally:
            await conn.close()
        return [dict(r) for r in rows]

    return run_async(fetch())


def denials(row: dict[str, Any]) -> list[str]:
    """The codes that refused the call (the evidence also keeps informational ones, such as a
    rewritten caller ID)."""
    reasons = json.loads(row["reasons"]) if isinstance(row["reasons"], str) else row["reasons"]
    return [r["code"] for r in reasons if r["effect"] == "deny"]


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Guard:
    """`astguard serve` in its own process."""

    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def start(self, connections: int = 1) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "astguard", "serve"], env=self.env,
                stdout=out, stderr=subprocess.STDOUT)
        self.wait_connected(connections)

    def wait_connected(self, n: int, timeout: float = 20.0) -> None:
        wait_for(lambda: self.text().count("ARI websocket connected") >= n, timeout,
                 what=f"astguard's ARI connection #{n}\n{self.text()[-2000:]}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture
def guard_factory(lab, seeded, tmp_path) -> Iterator:
    started: list[Guard] = []

    def make(clock: str | None = OPEN, **overrides: str) -> Guard:
        env = {
            "PATH": os.environ.get("PATH", ""),
            # Settings from this environment only, never from a configuration file that an
            # installation on the same machine would have in /etc/astguard.
            "ASTGUARD_CONFIG": os.devnull,
            "ASTGUARD_DATABASE_URL": as_service(seeded),  # least privilege (0008)
            "ASTGUARD_ARI_PASSWORD": ARI_PASSWORD,
            # AMI: MixMonitor, and the agents' codes the dialplan kept while astguard was away
            "ASTGUARD_AMI_SECRET": AMI_ASTGUARD_SECRET,
            "ASTGUARD_SPOOL_DIR": str(tmp_path / f"spool{len(started)}"),
            "ASTGUARD_SPOOL_FLUSH_INTERVAL": "0.5",
            "ASTGUARD_LOG_LEVEL": "INFO",
            "PYTHONPATH": os.pathsep.join(sys.path),
            "ASTGUARD_LAB": "1",  # serve refuses a test clock or a forced regime without it
        }
        if clock:
            env["ASTGUARD_CLOCK_PIN"] = clock
        env.update(overrides)
        guard = Guard(env, tmp_path / f"astguard{len(started)}.log")
        started.append(guard)
        return guard

    yield make
    for guard in started:
        guard.stop()


@pytest.fixture
def guard(guard_factory) -> Guard:
    g = guard_factory()
    g.start()
    return g


def set_recording_policy(url: str, did: str, mode: str = "announce") -> None:
    """The recording policy of an inbound number or of a presented number (R-I3)."""
    async def run() -> None:
        db = Database(url)
        try:
            await RecordingService(InboundStore(db), SystemClock()).set_policy(did, mode)
        finally:
            await db.close()

    run_async(run())


def recording_settings(lab) -> dict[str, str]:
    """What astguard needs to record in the lab: AMI, and the recordings and prompts folders
    as astguard sees them (Asterisk runs in a chroot)."""
    return {
        "ASTGUARD_AMI_SECRET": AMI_ASTGUARD_SECRET,
        "ASTGUARD_RECORDING_DIR": str(lab.root / RECORDINGS_IN_ROOT),
        "ASTGUARD_ASTERISK_RECORDING_DIR": "/" + RECORDINGS_IN_ROOT,
        "ASTGUARD_PROMPTS_DIR": str(data_path(PROMPTS)),
    }
