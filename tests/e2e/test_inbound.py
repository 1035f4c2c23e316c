"""Inbound calls on the real Asterisk: the recording-consent announcement, the caller's
objection by RFC 2833 DTMF (SIPp playing Debian's sip-tester pcaps), the recording."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from astguard.store.database import Database
from astguard.store.inbound import InboundStore
from lab.sipp import inbound_call
from tests.e2e.conftest import recording_settings, set_recording_policy, wait_for

pytestmark = pytest.mark.e2e

DID = "0170000001"
ANNOUNCEMENT_MS = 7700  # sounds/fr/astguard/annonce-enregistrement.wav


@pytest.fixture
def inbound_guard(guard_factory, lab, carrier, seeded):
    set_recording_policy(seeded, DID)
    g = guard_factory(clock=None, **recording_settings(lab))
    g.start()
    return g


def last_call(url: str) -> dict:
    async def fetch():
        db = Database(url)
        store = InboundStore(db)
        async with db.connection() as conn:
            call_id = await conn.fetchval(
                # Inbound only: announced outbound calls are dated by their guard's clock,
                # which a test may start in the future (test_outbound_recording.py).
                "SELECT id FROM inbound_calls WHERE direction = 'inbound' "
                "ORDER BY started_at DESC LIMIT 1")
        evidence = await store.call_evidence(str(call_id))
        await db.close()
        return evidence

    return asyncio.run(fetch())


def kinds(evidence: dict) -> list[str]:
    return [e["kind"] for e in evidence["events"]]


def settled(url: str, kind: str):
    return wait_for(lambda: kind in kinds(last_call(url)) and last_call(url),
                    what=f"the {kind} event")


def test_no_key_records_after_the_full_announcement(inbound_guard, seeded, tmp_path):
    result = inbound_call(tmp_path, DID, hangup_at_ms=ANNOUNCEMENT_MS + 2500)
    assert result.ok, result.messages[-1500:]
    evidence = settled(seeded, "hangup")
    assert evidence["call"]["prompt"] == "annonce-enregistrement"
    assert len(evidence["call"]["prompt_sha256"]) == 64
    events = {e["kind"]: e for e in evidence["events"]}
    assert events["playback_finished"]["detail"]["state"] == "done"
    recording = evidence["recording"]
    assert recording is not None and recording["deleted_at"] is None
    assert recording["started_at"] >= events["playback_finished"]["at"]
    assert (recording["purge_after"] - recording["started_at"]).days == 183
    file = Path(recording["file"])
    wait_for(lambda: file.exists() and file.stat().st_size > 44, what="the recording file")


def test_key_during_the_announcement_means_no_recording_at_all(inbound_guard, seeded,
                                                               tmp_path):
    result = inbound_call(tmp_path, DID, dtmf_at_ms=2000, hangup_at_ms=ANNOUNCEMENT_MS + 1000)
    assert result.ok, result.messages[-1500:]
    evidence = settled(seeded, "hangup")
    assert evidence["recording"] is None
    found = kinds(evidence)
    assert "objection" in found and "recording_started" not in found
    keys = [e["detail"] for e in evidence["events"] if e["kind"] == "key"]
    assert keys and keys[0]["digit"] == "1" and keys[0]["during"] == "announcement"
    reasons = [e["detail"]["reason"] for e in evidence["events"] if e["kind"] == "not_recorded"]
    assert reasons == ["RECORDING_OBJECTED"]


def test_key_mid_call_stops_and_deletes_the_recording_and_the_call_goes_on(
        inbound_guard, seeded, tmp_path):
    result = inbound_call(tmp_path, DID, dtmf_at_ms=ANNOUNCEMENT_MS + 1500,
                          hangup_at_ms=ANNOUNCEMENT_MS + 4500)
    assert result.ok, result.messages[-1500:]  # the caller hung up normally, 3 s later
    evidence = settled(seeded, "file_removal")
    found = kinds(evidence)
    assert found.index("recording_started") < found.index("objection") \
        < found.index("recording_deleted")
    recording = evidence["recording"]
    assert recording["deleted_at"] is not None and recording["stopped_at"] is not None
    assert not Path(recording["file"]).exists()
    removal = [e for e in evidence["events"] if e["kind"] == "file_removal"][0]
    assert removal["detail"]["result"] == "deleted"


def test_caller_hanging_up_during_the_announcement(inbound_guard, seeded, tmp_path):
    result = inbound_call(tmp_path, DID, hangup_at_ms=2000)
    assert result.ok, result.messages[-1500:]
    evidence = settled(seeded, "hangup")
    assert evidence["recording"] is None
    assert "recording_started" not in kinds(evidence)


def test_no_policy_no_announcement_no_recording(inbound_guard, seeded, tmp_path):
    assert inbound_call(tmp_path, "0170000099", hangup_at_ms=1500).ok
    evidence = wait_for(lambda: last_call(seeded)["call"]["did"] == "0170000099"
                        and last_call(seeded), what="the call")
    assert evidence["call"]["mode"] == "off" and evidence["recording"] is None
    assert os.environ.get("PATH")  # the guard ran with the test's environment


@pytest.fixture
def objecting_desk(lab, tmp_path_factory):
    from lab.sipp import Carrier

    desk = Carrier(tmp_path_factory.mktemp("desk"), port=5084)
    desk.start(desk_objection=True)
    yield desk
    desk.stop()


def test_agents_code_stops_and_deletes_the_recording(inbound_guard, objecting_desk, seeded,
                                                      lab, tmp_path):
    set_recording_policy(seeded, "0170000005")
    result = inbound_call(tmp_path, "0170000005", hangup_at_ms=ANNOUNCEMENT_MS + 6000)
    assert result.ok, result.messages[-1500:]  # the call went on after the agent's code
    evidence = settled(seeded, "file_removal")
    objection = [e for e in evidence["events"] if e["kind"] == "objection"][0]
    assert objection["detail"] == {"code": "RECORDING_OBJECTED", "during": "call",
                                   "by": "agent"}
    assert evidence["recording"]["deleted_at"] is not None
    assert not Path(evidence["recording"]["file"]).exists()
    log = (lab.logdir / "asterisk.log").read_text(errors="replace")
    assert "Playing 'astguard/enregistrement-arrete" in log
