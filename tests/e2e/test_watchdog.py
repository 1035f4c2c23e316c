"""The watchdog on the real Asterisk: calls that reach the trunk without astguard (AMI Originate
straight to the trunk, ARI origination, a context that dials the trunk without astguard) are
hung up before anyone answers and recorded; guarded calls (Stasis, FastAGI pre-dial, dialer
through Local) are never touched; a forged or moved token is refused; emergency calls pass."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import asyncpg
import pytest
from panoramisk import Manager

from lab.asterisk import AMI, ARI_PASSWORD, ARI_URL, ARI_USER
from lab.sipp import Carrier, SipEvent, agent_call
from tests.e2e.conftest import decisions_for, fresh_number, run_async, wait_for

pytestmark = pytest.mark.e2e

SECRET = "lab-call-token-secret-0123456789abcdef"
TRUNKS = "carrier,carrier-ringing,carrier-consumer,carrier-decline"
RINGING_PORT = 5088


@pytest.fixture(scope="module")
def ringing_carrier(lab, tmp_path_factory) -> Iterator[Carrier]:
    """The trunk the unguarded calls go to: 100 Trying at once, rings after 1.5 s, answers
    3.5 s later (the watchdog must have cancelled the call long before)."""
    peer = Carrier(tmp_path_factory.mktemp("carrier-ringing"), port=RINGING_PORT)
    peer.start(ring_after_ms=1500, answer_after_ms=3500)
    yield peer
    peer.stop()


def watchdog_settings(**extra: str) -> dict[str, str]:
    return {"ASTGUARD_TRUNK_ENDPOINTS": TRUNKS, "ASTGUARD_CALL_TOKEN_SECRET": SECRET, **extra}


@pytest.fixture
def watched(guard_factory):
    guard = guard_factory(**watchdog_settings())
    guard.start(connections=2)  # the Stasis application and the watchdog
    return guard


def unguarded_rows(url: str, number: str) -> list[dict]:
    async def fetch():
        conn = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await conn.fetch(
                "SELECT * FROM unguarded_calls WHERE dialled = $1 ORDER BY created_at", number)]
        finally:
            await conn.close()

    return run_async(fetch())


def attempts_for(url: str, e164: str) -> int:
    async def fetch():
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval("SELECT count(*) FROM attempts WHERE number_e164 = $1",
                                       e164)
        finally:
            await conn.close()

    return run_async(fetch())


async def ami_originate(channel: str, variables: str = "", *, wait_seconds: int = 0) -> dict:
    """AMI Originate; once answered the call runs lab-dialer-agent (one second), or waits
    `wait_seconds` in the Wait application."""
    host, port, user, secret = AMI
    manager = Manager(host=host, port=port, username=user, secret=secret,
                      loop=asyncio.get_running_loop())
    await manager.connect()
    try:
        action = {"Action": "Originate", "Channel": channel, "Async": "true",
                  "Timeout": "15000"}
        if wait_seconds:
            action |= {"Application": "Wait", "Data": str(wait_seconds)}
        else:
            action |= {"Context": "lab-dialer-agent", "Exten": "s", "Priority": "1"}
        if variables:
            action["Variable"] = variables
        response = await manager.send_action(action)
    finally:
        manager.close()
    # With Async, the action's own response comes first (then OriginateResponse, which says
    # "Failure" when the watchdog hung the call up).
    return dict(response) if not isinstance(response, list) else dict(response[0])


def basic() -> dict[str, str]:
    token = base64.b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def ari_originate(endpoint: str, variables: dict[str, str] | None = None) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{ARI_URL}/channels", headers=basic(),
            json={"endpoint": endpoint, "context": "lab-dialer-agent", "extension": "s",
                  "priority": 1, "variables": variables or {}},
        ) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


def lines(dialog: list[SipEvent]) -> list[str]:
    return [("<- " if e.sent else "-> ") + e.first_line.split(" sip:")[0] for e in dialog]


def assert_cancelled_before_answer(carrier: Carrier, number: str) -> list[SipEvent]:
    """The carrier saw the INVITE, then a CANCEL; it never answered the call."""
    dialog = wait_for(lambda: [e for e in carrier.dialog_to(number)
                               if e.first_line.startswith("ACK")] and carrier.dialog_to(number),
                      timeout=15, what=f"the end of the carrier dialog for {number}")
    seen = lines(dialog)
    assert seen[0] == "-> INVITE", seen
    assert "-> CANCEL" in seen, seen
    assert "<- SIP/2.0 487 Request Terminated" in seen, seen
    assert "<- SIP/2.0 200 OK" in seen[seen.index("-> CANCEL"):], seen  # the CANCEL's 200
    assert seen.count("<- SIP/2.0 200 OK") == 1, seen  # the INVITE itself was never answered
    return dialog


def only_unguarded(url: str, number: str) -> dict:
    rows = wait_for(lambda: unguarded_rows(url, number), what=f"UNGUARDED_CALL for {number}")
    assert len(rows) == 1, rows
    return rows[0]


def test_ami_originate_straight_to_the_trunk_is_hung_up_and_recorded(
        watched, ringing_carrier, seeded):
    national, e164 = fresh_number(consent=False)
    response = run_async(ami_originate(f"PJSIP/{national}@carrier-ringing"))
    assert response.get("Response") == "Success", response
    assert_cancelled_before_answer(ringing_carrier, national)
    row = only_unguarded(seeded, national)
    assert row["action"] == "hung_up" and row["endpoint"] == "carrier-ringing"
    assert row["number_e164"] == e164 and row["problem"] == "aucun jeton astguard"
    assert row["channel"].startswith("PJSIP/carrier-ringing-") and row["lifetime_ms"] > 0
    # Nothing about it counts as an attempt, and no decision was invented.
    assert decisions_for(seeded, e164) == [] and attempts_for(seeded, e164) == 0
    assert "UNGUARDED_CALL" in watched.text()


def test_ari_origination_straight_to_the_trunk_is_hung_up_and_recorded(
        watched, ringing_carrier, seeded):
    national, _ = fresh_number(consent=False)
    run_async(ari_originate(f"PJSIP/{national}@carrier-ringing"))
    assert_cancelled_before_answer(ringing_carrier, national)
    assert only_unguarded(seeded, national)["action"] == "hung_up"


def test_a_context_dialling_the_trunk_without_astguard_is_caught(
        watched, ringing_carrier, seeded):
    national, _ = fresh_number(consent=False)
    run_async(ami_originate(f"Local/{national}@lab-unguarded"))
    assert_cancelled_before_answer(ringing_carrier, national)
    row = only_unguarded(seeded, national)
    assert row["action"] == "hung_up"
    assert row["originator"].startswith(f"Local/{national}@lab-unguarded-")


@pytest.mark.parametrize("agent", ["agent1", "predial-agent1"])  # Stasis, FastAGI pre-dial
def test_guarded_calls_are_never_touched(watched, carrier, seeded, tmp_path, agent):
    national, e164 = fresh_number()
    result = agent_call(tmp_path, national, agent=agent, hold_ms=1000)
    assert result.ok, result.messages[-2000:]
    assert len(carrier.invites_to(e164 if agent == "agent1" else national)) == 1
    row = wait_for(lambda: decisions_for(seeded, e164), what="the decision")[0]
    assert row["decision"] == "allow"
    assert unguarded_rows(seeded, e164) == [] and unguarded_rows(seeded, national) == []


def test_a_dialer_call_through_astguard_is_never_touched(watched, carrier, seeded):
    """The token crosses the Local channel: Local;2 is decided, its Dial inherits the token."""
    national, e164 = fresh_number()
    run_async(ami_originate(f"Local/{national}@astguard-dialer",
                            "ASTGUARD_CAMPAIGN=e2e-dialer,ASTGUARD_DIAL_MODE=predictive"))
    wait_for(lambda: carrier.invites_to(e164), what="the carrier INVITE")
    wait_for(lambda: [e for e in carrier.dialog_to(e164) if e.first_line.startswith("BYE")],
             timeout=15, what="the guarded call's end")
    assert "-> CANCEL" not in lines(carrier.dialog_to(e164))
    assert unguarded_rows(seeded, e164) == []


def test_forged_and_moved_tokens_are_refused(watched, carrier, ringing_carrier, seeded,
                                             tmp_path):
    from astguard.telephony.call_token import CallTokens

    # A real token, from a real allowed call to another number, then tried on this one.
    other, other_e164 = fresh_number()
    assert agent_call(tmp_path, other, agent="agent1").ok
    allowed = wait_for(lambda: decisions_for(seeded, other_e164), what="the decision")[0]
    moved = CallTokens(SECRET, 300).issue(str(allowed["id"]), other_e164)
    forged = CallTokens("x" * 40, 300).issue(str(allowed["id"]), "+33600000000")
    for token, problem in ((moved, "autre numéro"), (forged, "falsifié")):
        national, _ = fresh_number(consent=False)
        run_async(ari_originate(f"PJSIP/{national}@carrier-ringing", {"ASTGUARD_TOKEN": token}))
        assert_cancelled_before_answer(ringing_carrier, national)
        row = only_unguarded(seeded, national)
        assert problem in row["problem"] and str(row["token_decision_id"]) == str(allowed["id"])


def test_emergency_calls_pass_and_are_recorded(watched, ringing_carrier, seeded):
    before = len(unguarded_rows(seeded, "112"))
    run_async(ami_originate("PJSIP/112@carrier-ringing"))
    rows = wait_for(lambda: len(unguarded_rows(seeded, "112")) > before and
                    unguarded_rows(seeded, "112"), what="the emergency call's record")
    row = rows[-1]
    assert row["action"] == "emergency_kept" and row["emergency"] and row["hung_up_at"] is None
    # The carrier answers it (5 s after the INVITE); nobody cancelled it.
    dialog = wait_for(lambda: [e for e in ringing_carrier.dialog_to("112")
                               if e.first_line.startswith("BYE")] and
                      ringing_carrier.dialog_to("112"), timeout=20, what="the answered 112")
    assert "-> CANCEL" not in lines(dialog)


CDR_IN_ROOT = "var/log/asterisk/cdr-custom/astguard-cdr.json"


def audit_calls_cli(lab, seeded, start: dt.datetime) -> tuple[int, dict]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path),
           "ASTGUARD_DATABASE_URL": seeded, "ASTGUARD_SPOOL_DIR": "/nonexistent",
           "ASTGUARD_CDR_FILE": str(lab.root / CDR_IN_ROOT),
           "ASTGUARD_TRUNK_INBOUND_CONTEXTS": "from-carrier astguard-inbound",
           **watchdog_settings()}
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    done = subprocess.run(
        [sys.executable, "-m", "astguard", "audit", "calls", "--from", start.isoformat(),
         "--to", end.isoformat(), "--json"], env=env, text=True, capture_output=True,
        timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def cdr_written(lab, number: str) -> bool:
    path = lab.root / CDR_IN_ROOT
    return path.exists() and number in path.read_text(errors="replace")


def test_audit_calls_lists_the_unguarded_calls_not_the_guarded_ones(
        watched, lab, carrier, ringing_carrier, seeded, tmp_path):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    unguarded, _ = fresh_number(consent=False)
    run_async(ami_originate(f"Local/{unguarded}@lab-unguarded"))
    assert_cancelled_before_answer(ringing_carrier, unguarded)
    guarded, guarded_e164 = fresh_number()
    assert agent_call(tmp_path, guarded, agent="agent1").ok
    wait_for(lambda: cdr_written(lab, guarded_e164) and cdr_written(lab, unguarded),
             what="Asterisk's call records")
    code, report = audit_calls_cli(lab, seeded, start)
    listed = {f["number"]: f for f in report["unguarded"]}
    assert code == 1 and unguarded in listed, report
    assert listed[unguarded]["problem"] == "aucune décision astguard"
    assert guarded_e164 not in listed and report["matched_by_token"] >= 1


def test_with_astguard_stopped_the_reconciliation_still_finds_them(
        lab, ringing_carrier, seeded):
    """Nobody watches: the calls go out and are answered; Asterisk's records tell on them."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    through_context, _ = fresh_number(consent=False)
    straight, _ = fresh_number(consent=False)
    run_async(ami_originate(f"Local/{through_context}@lab-unguarded"))
    run_async(ami_originate(f"PJSIP/{straight}@carrier-ringing"))
    for number in (through_context, straight):
        dialog = wait_for(lambda n=number: [e for e in ringing_carrier.dialog_to(n)
                                            if e.first_line.startswith("BYE")] and
                          ringing_carrier.dialog_to(n), timeout=20, what=f"{number} answered")
        assert "-> CANCEL" not in lines(dialog)  # nothing hung it up: astguard is stopped
    wait_for(lambda: cdr_written(lab, through_context), what="Asterisk's call records")
    code, report = audit_calls_cli(lab, seeded, start)
    assert code == 1
    numbers = [f["number"] for f in report["unguarded"]]
    assert through_context in numbers, report
    # Asterisk does not keep the number of a direct origination; astguard did not see it.
    direct = [f for f in report["unguarded"] if f["via"] == "origination directe"]
    assert any(f["number"] == "" for f in direct), report


def test_a_trunk_call_dialled_before_astguard_started_is_caught_when_it_connects(
        guard_factory, ringing_carrier, seeded):
    """Nobody watched when the call went out (astguard restarting, its websocket down): the
    sweep at connection finds the live trunk channel, reads the number it dialled from the
    channel itself, and hangs it up."""
    national, _ = fresh_number(consent=False)
    # Answered after 5 s, then kept up 40 s: astguard takes a few seconds to start.
    run_async(ami_originate(f"PJSIP/{national}@carrier-ringing", wait_seconds=40))
    wait_for(lambda: ringing_carrier.dialog_to(national), what="the carrier INVITE")
    guard = guard_factory(**watchdog_settings())
    guard.start(connections=2)
    row = only_unguarded(seeded, national)
    assert row["action"] == "hung_up" and row["problem"] == "aucun jeton astguard"
    assert row["dialled"] == national and row["endpoint"] == "carrier-ringing"
    assert "watchdog: trunk channel PJSIP/carrier-ringing-" in guard.text()
    # Hung up by astguard long before the 40 s: a CANCEL if still ringing, else a BYE.
    wait_for(lambda: {"-> CANCEL", "-> BYE"} & set(lines(ringing_carrier.dialog_to(national))),
             timeout=10, what="the call's end")
