"""Recorded calls when PostgreSQL blips, against the recording fake ARI and the real PostgreSQL
made unreachable mid-call (the store's Database swapped for one pointed at a closed port):
the caller is never left in Stasis, an objection is carried out before its evidence is written
(spooled meanwhile), and MixMonitor never starts on a recording the evidence does not hold."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import aiohttp
import pytest

from astguard.app.recording import RecordingService
from astguard.clock import PinnedClock, SystemClock
from astguard.store.database import Database
from astguard.store.inbound import InboundStore
from astguard.store.spool import Spool
from astguard.telephony.ari import AriClient
from astguard.telephony.inbound import InboundStasisApp, RecordingPaths
from astguard.telephony.recorder import RecorderError
from tests.conftest import UNREACHABLE_DB
from tests.telephony.fake_ari import FakeAri

pytestmark = pytest.mark.db


class FolderRecorder:
    """Stands in for MixMonitor over AMI: a started recording is a file in the folder."""

    def __init__(self, folder: Path, fail: bool = False) -> None:
        self.folder = folder
        self.fail = fail
        self.started: list[str] = []
        self.stopped: list[str] = []

    async def start(self, channel: str, file: str) -> None:
        if self.fail:
            raise RecorderError("AMI unreachable: test")
        self.started.append(channel)
        (self.folder / Path(file).name).write_bytes(b"RIFF....WAVE")

    async def stop(self, channel: str) -> None:
        self.stopped.append(channel)


@pytest.fixture
async def env(db, tmp_path):
    fake = FakeAri()
    await fake.start()
    folder = tmp_path / "recordings"
    folder.mkdir()
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    did = f"01{uuid.uuid4().int % 10**8:08d}"
    store = InboundStore(db)
    recording = RecordingService(store, SystemClock(), spool)
    await recording.set_policy(did, "announce")
    down = Database(UNREACHABLE_DB, timeout=1.0)
    async with aiohttp.ClientSession() as session:
        ari = AriClient(session, fake.url, "astguard", "secret", "astguard")
        recorder = FolderRecorder(folder)
        app = InboundStasisApp(ari, recording, recorder,
                               RecordingPaths(str(folder), folder, tmp_path))
        yield Env(fake, app, store, recorder, folder, spool, did, db, down)
    await down.close()
    await fake.stop()


class Env:
    def __init__(self, fake, app, store, recorder, folder, spool, did, db, down) -> None:
        self.fake, self.app, self.store, self.recorder = fake, app, store, recorder
        self.folder, self.spool, self.did, self.db, self.down = folder, spool, did, db, down

    def store_away(self) -> None:
        self.store._db = self.down  # PostgreSQL unreachable from now on

    def store_back(self) -> None:
        self.store._db = self.db

    async def start_call(self, channel: str) -> str:
        self.app.handle({"type": "StasisStart", "args": ["inbound", self.did],
                         "channel": {"id": channel, "name": f"PJSIP/caller-{channel}",
                                     "caller": {"number": "0612345678"}}})
        await self.app.drain()
        (playback,) = [r.query["playbackId"] for r in self.fake.requests
                       if r.path == f"/channels/{channel}/play"]
        return playback

    async def announced(self, playback: str) -> None:
        self.app.handle({"type": "PlaybackFinished",
                         "playback": {"id": playback, "state": "done"}})
        await self.app.drain()

    def continued(self, channel: str) -> bool:
        return f"/channels/{channel}/continue" in self.fake.paths()

    async def evidence(self, channel: str) -> dict:
        async with self.db.connection() as conn:
            call_id = await conn.fetchval(
                "SELECT id FROM inbound_calls WHERE channel_id = $1", channel)
        return await self.store.call_evidence(str(call_id))


def kinds(evidence: dict) -> list[str]:
    return [e["kind"] for e in evidence["events"]]


async def test_store_lost_during_the_announcement_still_releases_the_caller(env):
    playback = await env.start_call("in1")
    assert not env.continued("in1")  # in Stasis, listening to the announcement
    env.store_away()
    await env.announced(playback)
    assert env.continued("in1")  # back to the dialplan: the call reaches the agent
    # No evidence could say a recording started: MixMonitor never ran (R-I5).
    assert env.recorder.started == [] and list(env.folder.iterdir()) == []
    env.store_back()
    assert await env.spool.flush(env.db) >= 2  # what happened meanwhile is written now
    evidence = await env.evidence("in1")
    assert kinds(evidence)[-2:] == ["playback_finished", "not_recorded"]
    assert evidence["events"][-1]["detail"]["reason"].startswith("preuve impossible")
    assert evidence["recording"] is None


async def test_the_callers_objection_with_the_store_away_stops_and_deletes_first(env):
    playback = await env.start_call("in2")
    await env.announced(playback)
    assert env.recorder.started == ["PJSIP/caller-in2"] and env.continued("in2")
    (file,) = env.folder.iterdir()
    evidence = await env.evidence("in2")
    assert evidence["recording"]["file"] == str(file)  # the row was there before MixMonitor
    env.store_away()
    env.app.handle({"type": "ChannelDtmfReceived", "digit": "1",
                    "channel": {"id": "in2"}})
    await env.app.drain()
    assert env.recorder.stopped == ["PJSIP/caller-in2"] and not file.exists()  # R-I2
    env.store_back()
    await env.spool.flush(env.db)
    evidence = await env.evidence("in2")
    assert kinds(evidence)[-5:] == ["key", "objection", "recording_stopped",
                                    "recording_deleted", "file_removal"]
    assert evidence["recording"]["deleted_at"] is not None
    assert evidence["recording"]["delete_reason"] == "objection de l'appelant"


async def test_the_agents_objection_with_the_store_away_stops_and_deletes_first(env):
    playback = await env.start_call("in3")
    await env.announced(playback)
    (file,) = env.folder.iterdir()
    call_id = str((await env.evidence("in3"))["call"]["id"])
    env.store_away()
    assert await env.app.objection_by_agent(call_id) is True
    assert env.recorder.stopped == ["PJSIP/caller-in3"] and not file.exists()
    env.store_back()
    await env.spool.flush(env.db)
    evidence = await env.evidence("in3")
    assert "objection" in kinds(evidence)
    assert evidence["recording"]["delete_reason"] == "objection signalée par l'agent"


async def test_a_recorder_that_fails_leaves_no_recording_open(env):
    env.recorder.fail = True
    playback = await env.start_call("in4")
    await env.announced(playback)
    assert env.continued("in4")
    evidence = await env.evidence("in4")
    assert evidence["recording"]["deleted_at"] is not None  # nothing for the purge to find
    (not_recorded,) = [e for e in evidence["events"] if e["kind"] == "not_recorded"]
    assert not_recorded["detail"]["reason"].startswith("enregistreur indisponible")


async def test_store_away_from_the_start_releases_at_once(env):
    env.store_away()
    env.app.handle({"type": "StasisStart", "args": ["inbound", env.did],
                    "channel": {"id": "in5", "name": "PJSIP/caller-in5"}})
    await env.app.drain()
    assert env.fake.paths() == ["/channels/in5/continue"]


# --- The clock and the draw come from the recording service (issue 13, item 2) -------------

PINNED = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)


async def pinned_app(env, draw: float) -> tuple[InboundStasisApp, RecordingService]:
    recording = RecordingService(env.store, PinnedClock(PINNED), env.spool, draw=lambda: draw)
    return InboundStasisApp(env.app._ari, recording, env.recorder,
                            RecordingPaths(str(env.folder), env.folder, env.folder)), recording


async def test_a_pinned_clock_dates_the_whole_recorded_call(env):
    env.app, _ = await pinned_app(env, draw=0.0)
    playback = await env.start_call("pin1")
    await env.announced(playback)
    assert env.recorder.started == ["PJSIP/caller-pin1"]
    evidence = await env.evidence("pin1")
    assert evidence["call"]["started_at"] == PINNED and evidence["call"]["clock_mode"] == "pinned"
    assert kinds(evidence) == ["playback_started", "playback_finished", "recording_started"]
    assert {e["at"] for e in evidence["events"]} == {PINNED}
    assert evidence["recording"]["started_at"] == PINNED
    # R-I4: 183 days of quality retention from 4 May 2026 09:30 is 3 November 2026 09:30.
    assert evidence["recording"]["purge_after"] == dt.datetime(2026, 11, 3, 9, 30,
                                                                tzinfo=dt.UTC)
    env.app.handle({"type": "ChannelDtmfReceived", "digit": "1", "channel": {"id": "pin1"}})
    await env.app.drain()
    evidence = await env.evidence("pin1")
    assert evidence["recording"]["deleted_at"] == PINNED
    assert {e["at"] for e in evidence["events"]} == {PINNED}


@pytest.mark.parametrize(("draw", "recorded"), [(29.9, True), (30.0, False)])
async def test_sampling_follows_the_draw(env, draw, recorded):
    await RecordingService(env.store, SystemClock()).set_policy(env.did, "sampled",
                                                                sample_percent=30)
    env.app, _ = await pinned_app(env, draw=draw)
    channel = f"smp{int(draw * 10)}"
    playback = await env.start_call(channel)
    await env.announced(playback)
    assert (env.recorder.started == [f"PJSIP/caller-{channel}"]) is recorded
    evidence = await env.evidence(channel)
    assert (evidence["recording"] is not None) is recorded
    reasons = [e["detail"]["reason"] for e in evidence["events"] if e["kind"] == "not_recorded"]
    assert reasons == ([] if recorded else ["hors échantillon"])
async def test_nothing_is_kept_per_channel_once_calls_end(env):
    # Issue 14's soak: a lock per channel was kept for ever (memory grew with every call).
    for n in range(3):
        channel = f"in-free-{n}"
        playback = await env.start_call(channel)
        await env.announced(playback)
        assert env.app.followed >= 1  # a call under way is followed
        env.app.handle({"type": "ChannelDtmfReceived", "digit": "1",
                        "channel": {"id": channel}})  # the caller objects: recording stops
        env.app.handle({"type": "ChannelHangupRequest", "cause": 16,
                        "channel": {"id": channel}})
        await env.app.drain()
    assert env.app.followed == 0
