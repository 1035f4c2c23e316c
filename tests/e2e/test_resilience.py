"""What happens when the parts go away: PostgreSQL stopped, the ARI websocket dropped, Asterisk
restarted. The gate fails closed, loses nothing, and decides the next call once things are back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.sipp import agent_call
from tests.e2e.conftest import decisions_for, fresh_number, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.disruptive]


def _pg_cluster() -> tuple[str, str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    return versions[-1], "main"


def pg_ctl(action: str) -> None:
    version, name = _pg_cluster()
    running = subprocess.run(["pg_ctlcluster", version, name, "status"],
                             capture_output=True, check=False).returncode == 0
    if running == (action == "start"):
        return  # already in the wanted state
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action,
                    *(["-m", "fast"] if action == "stop" else [])], check=True, timeout=60)


@pytest.fixture
def postgres_stopper() -> Iterator:
    stopped = []

    def stop() -> None:
        pg_ctl("stop")
        stopped.append(True)

    yield stop
    if stopped:
        pg_ctl("start")


def test_postgres_stopped_refuses_with_guard_unavailable_then_spool_is_written(
        guard, carrier, seeded, tmp_path, postgres_stopper):
    national, e164 = fresh_number()
    postgres_stopper()
    result = agent_call(tmp_path, national, agent="agent1", expect=503)
    assert result.ok, result.messages[-1500:]
    assert carrier.invites_to(e164) == []
    assert "GUARD_UNAVAILABLE" in guard.text() or "deny" in guard.text()
    # Emergency numbers still pass with the database down.
    before = len(carrier.invites_to("112"))
    assert agent_call(tmp_path, "112", agent="agent1").ok
    assert len(carrier.invites_to("112")) == before + 1

    pg_ctl("start")
    rows = wait_for(lambda: decisions_for(seeded, e164), timeout=30,
                    what="the spooled decision in PostgreSQL")
    (row,) = rows
    assert row["reason_codes"] == ["GUARD_UNAVAILABLE"] and row["spooled"] is True
    assert row["decision"] == "deny" and row["endpoint"] == "agent1"
    # And the next call is decided normally.
    national2, e164_2 = fresh_number()
    assert agent_call(tmp_path, national2, agent="agent1").ok
    assert len(carrier.invites_to(e164_2)) == 1


class TcpProxy:
    """A loopback TCP proxy whose connections the test can cut (a dropped websocket)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.writers: list[asyncio.StreamWriter] = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        server = asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(5)
        self.server = server
        self.port = server.sockets[0].getsockname()[1]

    async def _serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._client, "127.0.0.1", 0)

    async def _client(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers += [writer, up_writer]

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        async def _cut():
            for w in self.writers:
                w.transport.abort()
            self.writers.clear()

        asyncio.run_coroutine_threadsafe(_cut(), self.loop).result(5)

    def stop(self) -> None:
        self.cut()

        async def _shutdown():
            self.server.close()
            await self.server.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(_shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def test_dropped_websocket_and_asterisk_restart_then_next_call_is_decided(
        guard_factory, lab, carrier, seeded, tmp_path: Path):
    proxy = TcpProxy(8088)
    proxy.start()
    try:
        guard = guard_factory(ASTGUARD_ARI_URL=f"http://127.0.0.1:{proxy.port}/ari")
        guard.start()
        national, e164 = fresh_number()
        assert agent_call(tmp_path, national, agent="agent1").ok

        proxy.cut()  # the websocket drops under astguard's feet
        guard.wait_connected(2)
        national, e164 = fresh_number()
        assert agent_call(tmp_path, national, agent="agent1").ok
        assert len(carrier.invites_to(e164)) == 1

        lab.restart()  # Asterisk itself goes away and comes back
        guard.wait_connected(3, timeout=30)
        national, e164 = fresh_number()
        assert agent_call(tmp_path, national, agent="agent1").ok
        assert len(carrier.invites_to(e164)) == 1
        assert decisions_for(seeded, e164)[0]["decision"] == "allow"
    finally:
        proxy.stop()
