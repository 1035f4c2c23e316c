"""R-D6 is one atomic step: many simultaneous decisions for one consumer, from several
processes, let exactly the cap through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import asyncpg
import pytest

from astguard.store.database import Database
from astguard.store.directory import Directory
from tests.conftest import give_consent, hold_number

pytestmark = pytest.mark.db

PROCESSES = 5
PER_PROCESS = 12  # 60 decisions in all


@pytest.fixture
async def campaign(db: Database) -> None:
    d = Directory(db)
    await d.add_principal("conc-acme", "ACME")
    await d.set_campaign("conc-prospect", "conc-acme", "prospecting", "predictive",
                         "0162123456", scope="energie")
    await hold_number(db, "conc-acme")
    await give_consent(db, "conc-acme", "+33699000001")
    await give_consent(db, "conc-acme", "+33699000002")


async def test_simultaneous_decisions_from_several_processes_let_exactly_the_cap_through(
        database_url, campaign, tmp_path):
    start = time.time() + 3.0  # every process fires at this instant
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "tests.concurrency_worker", database_url, "0699000001",
         str(start), str(PER_PROCESS), str(tmp_path / f"spool{i}")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(PROCESSES)]
    decisions = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        decisions += json.loads(out)
    assert len(decisions) == PROCESSES * PER_PROCESS
    assert decisions.count("allow") == 4
    conn = await asyncpg.connect(database_url)
    try:
        attempts = await conn.fetchval(
            "SELECT count(*) FROM attempts WHERE number_e164 = '+33699000001'")
        refused = await conn.fetchval(
            "SELECT count(*) FROM decisions WHERE number_e164 = '+33699000001' "
            "AND 'FREQUENCY_CAP' = ANY(reason_codes)")
    finally:
        await conn.close()
    assert attempts == 4 and refused == PROCESSES * PER_PROCESS - 4


async def test_linked_numbers_share_one_cap(db, database_url, campaign, tmp_path):
    from astguard.app.contacts import ContactService  # noqa: PLC0415
    from astguard.policy import RuleSettings  # noqa: PLC0415
    from tests.conftest import OPEN_CLOCK  # noqa: PLC0415

    service = ContactService(db, OPEN_CLOCK, RuleSettings(emergency_numbers=frozenset()))
    await service.link_numbers(["0699000001", "0699000002"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.concurrency_worker", database_url, "0699000002",
         str(time.time()), "3", str(tmp_path / "spool")],
        capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    # The first test spent the 4 attempts on ...001: its linked twin gets none.
    assert json.loads(done.stdout) == ["deny", "deny", "deny"]
