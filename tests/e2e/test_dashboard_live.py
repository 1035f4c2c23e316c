"""The dashboard in a real headless Chromium while a real SIP call goes through Asterisk:
the decision appears in the live table within seconds, and the consumer's page counts it."""

from __future__ import annotations

import asyncio
import functools
import socket

import pytest

from lab.browser import chromium
from lab.sipp import agent_call
from tests.e2e.conftest import decisions_for, fresh_number, wait_for

pytestmark = pytest.mark.e2e
TOKEN = "e2e-dashboard-token-0123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(guard_factory) -> str:
    port = free_port()
    guard_factory(ASTGUARD_HTTP_PORT=str(port), ASTGUARD_API_READ_TOKENS=TOKEN).start()
    return f"http://127.0.0.1:{port}"


async def test_a_real_call_appears_on_the_dashboard_within_seconds(
        dashboard, carrier, seeded, tmp_path):
    national, e164 = await _in_thread(fresh_number)  # these helpers run their own loop
    async with chromium() as page:
        await page.goto(f"{dashboard}/tableau/connexion")
        await page.evaluate(f"document.getElementById('jeton').value = '{TOKEN}'; "
                            "document.querySelector('form').submit(); true")
        await page.wait_for("location.pathname === '/tableau/' && document.getElementById("
                            "'etat').textContent.startsWith('en direct')", what="live page")
        result = await _in_thread(agent_call, tmp_path, national, agent="agent1", hold_ms=500)
        assert result.ok, result.messages[-2000:]
        (row,) = await _in_thread(wait_for, lambda: decisions_for(seeded, e164),
                                  what="the decision row")
        text = await page.wait_for(
            f"(r => r && r.innerText)(document.querySelector("
            f"'#flux tbody tr[data-decision-id=\"{row['id']}\"]'))",
            timeout=5, what="the call's decision on the dashboard")
        assert e164 in text and "autorisé" in text and "agent1" in text
        await page.goto(f"{dashboard}/tableau/consommateur?numero={national}"
                        "&campagne=e2e-prospect")
        count = await page.wait_for(
            "(e => e && e.textContent)(document.querySelector('.tentatives-30j'))")
        assert count == "1"
        assert "maintenant" in await page.evaluate(
            "document.getElementById('prochain').textContent")


async def _in_thread(fn, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(
        None, functools.partial(fn, *args, **kwargs))
