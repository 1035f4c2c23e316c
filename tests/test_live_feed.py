"""The dashboard's live feed (issue 15 item 6): one LISTEN connection per process, fanned out
to every subscriber, that comes back by itself when its connection or PostgreSQL goes away and
streams what was committed meanwhile."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
from collections.abc import AsyncIterator

import asyncpg
import pytest

from astguard.app.gate import Gate
from astguard.clock import PinnedClock
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.live import DecisionFeed, FeedEvent, Subscription
from astguard.store.reports import Reports
from astguard.store.spool import Spool
from lab.database import fresh_database
from tests.conftest import PG_SERVER, hold_number

pytestmark = pytest.mark.db

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
FRIDAY = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def env(tmp_path) -> AsyncIterator[tuple[str, Gate, DecisionFeed]]:
    url = await fresh_database(PG_SERVER, "astguard_test_live_feed")
    db = Database(url, timeout=5.0)
    d = Directory(db)
    await d.add_principal("lf-acme", "ACME")
    await hold_number(db, "lf-acme")
    await d.set_campaign("lf-prospect", "lf-acme", "prospecting", "manual", "0162123456",
                         scope="energie")
    await d.set_endpoint("lf-alice", "lf-prospect", [], "Alice")
    gate = Gate(db=db, directory=d, spool=Spool(tmp_path / "spool"), clock=PinnedClock(FRIDAY),
                rules=RULES, node="test")
    readers = Database(url, timeout=2.0, cooldown=0.1)
    feed = DecisionFeed(readers, Reports(readers, RULES.opt_in_from), retry=0.2, ping=0.5)
    yield url, gate, feed
    await feed.close()
    await readers.close()
    await db.close()


async def decide(gate: Gate, number: str) -> str:
    return (await gate.check(CallRequest(number, "ari", endpoint="lf-alice"),
                             record=True)).decision_id


async def next_decision(sub: Subscription, states: list[bool] | None = None) -> FeedEvent:
    async with asyncio.timeout(15):
        while True:
            event = await sub.queue.get()
            if event.healthy is None:
                return event
            if states is not None:
                states.append(event.healthy)


async def test_one_connection_fans_every_decision_out_in_chain_order(env):
    _, gate, feed = env
    async with feed.subscribe() as a, feed.subscribe() as b:
        ids = [await decide(gate, f"061200010{i}") for i in range(3)]
        for sub in (a, b):
            got = [(await next_decision(sub)).row["id"] for _ in ids]
            assert got == ids
        assert feed.connections == 1 and feed.subscribers == 2
    assert not feed.running and feed.subscribers == 0


async def test_the_listening_connection_killed_comes_back_and_catches_up(env):
    url, gate, feed = env
    async with feed.subscribe() as sub:
        first = await decide(gate, "0612000201")
        assert (await next_decision(sub)).row["id"] == first
        admin = await asyncpg.connect(url)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'")
            assert killed == 1
            # Committed while nobody listens: the feed reads it when it is back.
            missed = await decide(gate, "0612000202")
        finally:
            await admin.close()
        assert (await next_decision(sub)).row["id"] == missed
        assert feed.connections == 2
        later = await decide(gate, "0612000203")
        assert (await next_decision(sub)).row["id"] == later


def _pg_ctl(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action,
                    *(["-m", "fast"] if action == "stop" else [])], check=True, timeout=60)


@pytest.mark.disruptive
async def test_postgres_restarted_the_feed_says_so_and_comes_back(env):
    """Run under `flock -x /tmp/astguard-pg.lock`: it restarts the shared PostgreSQL."""
    _, gate, feed = env
    async with feed.subscribe() as sub:
        first = await decide(gate, "0612000301")
        assert (await next_decision(sub)).row["id"] == first
        try:
            await asyncio.to_thread(_pg_ctl, "stop")
            async with asyncio.timeout(15):
                event = await sub.queue.get()
            assert event.healthy is False
        finally:
            await asyncio.to_thread(_pg_ctl, "start")
        states: list[bool] = []
        async with asyncio.timeout(30):
            while True:  # the gate's own pool comes back too (meanwhile it spools)
                decided = await gate.check(CallRequest("0612000302", "ari",
                                                       endpoint="lf-alice"), record=True)
                if not decided.spooled:
                    after = decided.decision_id
                    break
                await asyncio.sleep(0.5)
        event = await next_decision(sub, states)
        assert event.row["id"] == after and states == [True]
        assert feed.connections == 2
