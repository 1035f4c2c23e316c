"""PostgreSQL high availability with the real engine (issue 14): a primary and a streaming
standby of the harness's own (lab/pg_cluster.py, never the shared server), astguard given the
multi-host URL that targets the read-write server. The primary stops, the standby is promoted,
and astguard finds the new primary by itself; meanwhile prospecting is refused
GUARD_UNAVAILABLE and spooled, and the spool then lands on the new primary."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import asyncpg
import pytest

from astguard.clock import PinnedClock
from astguard.app.gate import Gate
from astguard.policy import CallRequest, RuleSettings
from astguard.settings import DEFAULT_EMERGENCY, Settings, mask_url
from astguard.store.database import Database
from astguard.store.directory import Directory
from astguard.store.spool import Spool
from lab.pg_cluster import OWNER, PgCluster, postgres_available
from tests.conftest import give_consent, hold_number

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(postgres_available() is not None,
                                 reason=f"no private PostgreSQL: {postgres_available()}")]

RULES = RuleSettings(emergency_numbers=frozenset(DEFAULT_EMERGENCY))
OPEN = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # Friday 11:00 Paris


def free_ports(n: int) -> tuple[int, ...]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return tuple(s.getsockname()[1] for s in socks)
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="module")
def cluster():
    with PgCluster(ports=free_ports(2)) as made:  # type: ignore[arg-type]
        yield made


async def _furnish(owner: Database) -> None:
    directory = Directory(owner)
    await directory.add_principal("ha-acme", "ACME")
    await give_consent(owner, "ha-acme", "+33612345678")
    await hold_number(owner, "ha-acme")
    await directory.set_campaign("ha-prospect", "ha-acme", "prospecting", "manual",
                                 "0162123456", scope="energie")
    await directory.set_endpoint("ha-agent", "ha-prospect", [], "Alice")


async def _decisions_on(cluster: PgCluster, database: str) -> set[str]:
    """Decision ids read straight from the current primary (not through the multi-host URL)."""
    conn = await asyncpg.connect(f"{cluster.server_url()}/{database}", timeout=5)
    try:
        return {str(r["id"]) for r in await conn.fetch("SELECT id FROM decisions")}
    finally:
        await conn.close()


def test_settings_take_a_multi_host_url_and_mask_its_password(cluster):
    url = cluster.url("astguard")
    settings = Settings.from_env({"ASTGUARD_DATABASE_URL": url, "ASTGUARD_LAB": "1"})
    assert settings.database_url == url
    masked = mask_url(url)
    assert "astguard-app" not in masked and masked.endswith("?target_session_attrs=read-write")
    assert f"127.0.0.1:{cluster.ports[0]},127.0.0.1:{cluster.ports[1]}" in masked


async def test_astguard_follows_a_promotion_and_lands_its_spool_on_the_new_primary(
        cluster, tmp_path):
    url = await cluster.create_database("astguard_ha")
    database = url.rsplit("/", 1)[1].split("?")[0]
    owner = Database(cluster.url(database, OWNER), timeout=5.0)
    db = Database(url, timeout=2.0, cooldown=0.3)
    try:
        await _furnish(owner)
        await owner.close()
        spool = Spool(tmp_path / "spool")
        spool.prepare()
        gate = Gate(db=db, directory=Directory(db), spool=spool, clock=PinnedClock(OPEN),
                    rules=RULES, node="ha-test")
        call = CallRequest("0612345678", "ari", endpoint="ha-agent")

        before = await gate.check(call, record=True)
        assert before.verdict.allowed and before.recorded and not before.spooled
        first_primary = cluster.primary

        cluster.stop_primary("immediate")
        during = await gate.check(call, record=True)
        assert not during.verdict.allowed and during.verdict.codes == ["GUARD_UNAVAILABLE"]
        assert during.spooled
        # The standby alone is read-only: still no primary, still refused (not written there).
        await asyncio.sleep(0.4)
        still = await gate.check(call, record=True)
        assert still.verdict.codes == ["GUARD_UNAVAILABLE"] and still.spooled

        promoted = cluster.promote()
        assert promoted is not first_primary
        await asyncio.sleep(0.4)  # the breaker's cooldown
        after = await gate.check(call, record=True)
        assert after.verdict.allowed and after.recorded and not after.spooled
        assert await spool.flush(db) == 2
        assert spool.depth() == 0

        on_new_primary = await _decisions_on(cluster, database)
        assert {before.decision_id, during.decision_id, still.decision_id,
                after.decision_id} <= on_new_primary
    finally:
        await db.close()
        await owner.close()


async def test_restart_read_only_and_exhaustion_fail_closed_then_recover(cluster, tmp_path):
    url = await cluster.create_database("astguard_ha_faults")
    database = url.rsplit("/", 1)[1].split("?")[0]
    owner = Database(cluster.url(database, OWNER), timeout=5.0)
    db = Database(url, timeout=2.0, cooldown=0.3)
    try:
        await _furnish(owner)
        await owner.close()
        spool = Spool(tmp_path / "spool")
        spool.prepare()
        gate = Gate(db=db, directory=Directory(db), spool=spool, clock=PinnedClock(OPEN),
                    rules=RULES, node="ha-test")
        call = CallRequest("0612345678", "ari", endpoint="ha-agent")
        assert (await gate.check(call, record=True)).verdict.allowed

        async def refused_then_recovered() -> None:
            during = await gate.check(call, record=True)
            assert during.verdict.codes == ["GUARD_UNAVAILABLE"] and during.spooled

        # Read-only primary: no server is read-write, the multi-host URL finds none.
        cluster.read_only(True)
        await refused_then_recovered()
        cluster.read_only(False)
        await asyncio.sleep(0.4)
        assert (await gate.check(call, record=True)).verdict.allowed

        # A restart: astguard's pool reconnects by itself (a call in between fails closed).
        cluster.restart()
        spooled = 1  # the read-only step's
        for _ in range(10):
            await asyncio.sleep(0.4)
            after_restart = await gate.check(call, record=True)
            spooled += after_restart.spooled
            if after_restart.verdict.allowed:
                break
        assert after_restart.verdict.allowed and not after_restart.spooled

        # Every slot taken by someone else while astguard needs a new connection (its pool
        # keeps and restores the ones it has, asyncpg >= 0.30): refused (53300), then fine.
        await db.close()
        async with cluster.exhausted() as held:
            assert held > 0
            await refused_then_recovered()
        spooled += 1
        await asyncio.sleep(0.4)
        recovered = await gate.check(call, record=True)
        assert recovered.verdict.allowed and not recovered.spooled
        assert await spool.flush(db) == spooled
    finally:
        await db.close()
        await owner.close()
