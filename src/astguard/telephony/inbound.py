"""Inbound calls: the recording-consent announcement, the caller's objection, the recording.

The dialplan sends every inbound call to Stasis(astguard,inbound,${EXTEN}) before the queue or
the agent. astguard answers, plays the DID's announcement while listening for the objection key,
and starts recording (MixMonitor over AMI) only once the announcement has played to its end and
the caller did not object (R-I1). A key pressed later stops the recording and deletes what was
captured; the call goes on (R-I2). Then the channel goes back to the dialplan, which routes it.
If astguard is down, Stasis() returns at once: nothing is announced and nothing is recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astguard.app.recording import RecordingService
from astguard.errors import AriError, StoreUnavailable
from astguard.policy.reasons import ReasonCode
from astguard.policy.recording import POLICY_OFF, RecordingPolicy
from astguard.telephony.ari import AriClient, event_time
from astguard.telephony.contract import (
    INBOUND_AGENT_FEATURES,
    INBOUND_CALL_VARIABLE,
    INHERITED_INBOUND_CALL_VARIABLE,
    OUTBOUND_AGENT_FEATURES,
)
from astguard.telephony.recorder import Recorder, RecorderError

log = logging.getLogger(__name__)


@dataclass
class _Call:
    call_id: str
    channel_id: str
    channel_name: str
    policy: RecordingPolicy
    playback_id: str | None = None
    announcing: bool = False
    objected: bool = False
    recording: bool = False
    file_for_astguard: Path | None = None
    gone: bool = False


@dataclass(frozen=True, slots=True)
class RecordingPaths:
    asterisk_dir: str  # where Asterisk writes (its view)
    astguard_dir: Path  # the same folder as astguard sees it (differs in a chroot or container)
    prompts_dir: Path  # astguard's view of Asterisk's sounds/fr/astguard


class InboundStasisApp:
    def __init__(self, ari: AriClient, recording: RecordingService, recorder: Recorder,
                 paths: RecordingPaths) -> None:
        self._ari = ari
        self.recording = recording
        # Once a call is under way its evidence never raises: it waits in the spool instead.
        self.evidence = recording.evidence
        self._recorder = recorder
        self._paths = paths
        self._calls: dict[str, _Call] = {}
        self._by_call_id: dict[str, _Call] = {}
        self._by_playback: dict[str, _Call] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}  # tasks holding or awaiting each channel's lock

    # -- events (in order, from the ARI client) ----------------------------------------------
    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        channel = event.get("channel") or {}
        at = self.recording.event_at(event_time(event))
        if kind == "StasisStart":
            args = event.get("args") or []
            if args and args[0] == "inbound":
                self._spawn(channel.get("id"), self._on_start(channel, (args[1:] or [""])[0], at))
            return
        if kind == "PlaybackFinished":
            playback = event.get("playback") or {}
            call = self._by_playback.pop(playback.get("id", ""), None)
            if call is not None:
                call.announcing = False
                self._spawn(call.channel_id,
                            self._after_announcement(call, playback.get("state"), at))
            return
        call = self._calls.get(channel.get("id", ""))
        if call is None:
            return
        if kind == "ChannelDtmfReceived":
            self._spawn(call.channel_id, self._on_key(call, str(event.get("digit")), at))
        elif kind in ("ChannelHangupRequest", "ChannelDestroyed") and not call.gone:
            # In Stasis a hang-up shows as ChannelHangupRequest (ChannelDestroyed comes after
            # StasisEnd, to nobody); after the call left Stasis, as ChannelDestroyed.
            call.gone = True
            self._calls.pop(call.channel_id, None)
            self._spawn(call.channel_id, self._on_hangup(call, event, at))

    def _spawn(self, channel_id: str | None, coro: Any) -> None:
        key = channel_id or ""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] = self._lock_users.get(key, 0) + 1

        async def serialised() -> None:  # one call's evidence is written in event order
            try:
                async with lock:
                    await coro
            finally:
                # A channel's lock goes with its last task once the call is over (or never
                # started): a lock kept per channel for ever grows without bound (issue 14).
                self._lock_users[key] -= 1
                if self._lock_users[key] == 0:
                    del self._lock_users[key]
                    if key not in self._calls:
                        self._locks.pop(key, None)

        task = asyncio.get_running_loop().create_task(serialised())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def followed(self) -> int:
        """Channels astguard keeps something for (a call, a lock): 0 once every call ended."""
        return len(set(self._calls) | set(self._locks))

    # -- steps --------------------------------------------------------------------------------
    async def _on_start(self, channel: dict[str, Any], did: str, at: dt.datetime) -> None:
        channel_id = channel["id"]
        released = False
        try:
            released = await self._announce(channel, did, at)
        except Exception:
            log.exception("inbound %s: failed on channel %s", did, channel_id)
        finally:
            if not released:  # whatever failed, the caller goes on to the agent
                await self._release(channel_id)

    async def _announce(self, channel: dict[str, Any], did: str, at: dt.datetime) -> bool:
        """Answer and start the announcement. True when the channel stays in Stasis for it
        (PlaybackFinished releases it), False when it must go back to the dialplan now."""
        channel_id = channel["id"]
        caller = (channel.get("caller") or {}).get("number") or None
        try:
            policy = await self.recording.policy_for(did)
        except StoreUnavailable:
            log.error("inbound %s: no evidence store, so no recording", did)
            return False
        call_id = str(uuid.uuid4())
        announced = self.recording.announces(policy)
        try:
            await self.recording.start_call(
                call_id, channel_id=channel_id, did=did, caller=caller, at=at, policy=policy,
                prompt_sha256=self.prompt_hash(policy.prompt)
                if policy is not None and announced else None)
        except StoreUnavailable:
            return False  # no evidence, no recording (R-I5)
        if policy is None or not announced:  # R-I3
            await self.evidence.event(call_id, "not_recorded", at, {"reason": POLICY_OFF})
            return False
        call = _Call(call_id, channel_id, channel.get("name", ""), policy)
        self._calls[channel_id] = call
        try:
            await self._ari.answer(channel_id)
            call.playback_id = str(uuid.uuid4())
            self._by_playback[call.playback_id] = call
            call.announcing = True
            await self._ari.play(channel_id, f"sound:astguard/{policy.prompt}",
                                 call.playback_id)
        except AriError as exc:
            self._by_playback.pop(call.playback_id or "", None)
            call.announcing = False
            await self.evidence.event(call_id, "not_recorded", self.recording.now(), {
                "reason": ReasonCode.RECORDING_NOT_ANNOUNCED.value, "detail": str(exc)})  # R-I1
            return False
        await self.evidence.event(call_id, "playback_started", self.recording.now(),
                                  {"prompt": policy.prompt})
        return True

    async def _on_key(self, call: _Call, digit: str, at: dt.datetime) -> None:
        during = "announcement" if call.announcing else "call"
        objection = self.recording.is_objection(call.policy, digit, call.objected)  # R-I2
        stopped, result = False, ""
        if objection:
            # R-I2: the objection is carried out first, its evidence written after (spooled
            # if PostgreSQL is away), so that it holds whatever state the store is in.
            call.objected = True
            if call.announcing and call.playback_id:
                try:
                    await self._ari.stop_playback(call.playback_id)
                except AriError:
                    pass  # finished meanwhile
            elif call.recording:
                stopped = True
                result = await self._stop_and_remove(call)
        await self.evidence.event(call.call_id, "key", at, {"digit": digit, "during": during})
        if objection:
            await self.evidence.event(call.call_id, "objection", at, {
                "code": ReasonCode.RECORDING_OBJECTED.value, "during": during})
        if stopped:
            await self._removal_evidence(call, at, "objection de l'appelant", result)

    async def _after_announcement(self, call: _Call, state: str | None,
                                  at: dt.datetime) -> None:
        try:
            await self._record_if_announced(call, state, at)
        except Exception:
            log.exception("inbound %s: failed after the announcement", call.call_id)
        finally:
            await self._release(call.channel_id)  # in every case, the call goes on

    async def _record_if_announced(self, call: _Call, state: str | None,
                                   at: dt.datetime) -> None:
        await self.evidence.event(call.call_id, "playback_finished", at, {"state": state})
        decision = self.recording.after_announcement(call.policy, playback=state,
                                                     objected=call.objected, hung_up=call.gone)
        if call.gone:  # nobody left to follow
            await self.evidence.event(call.call_id, "not_recorded", at,
                                      {"reason": decision.evidence_reason})
            return
        reason = decision.evidence_reason
        if decision.record:
            reason = await self._start_recording(call, at)
        if reason is not None:
            await self.evidence.event(call.call_id, "not_recorded", at, {"reason": reason})
        try:
            await self._ari.subscribe_channel(call.channel_id)  # objection later in the call
        except AriError as exc:
            log.warning("inbound %s: cannot follow the call: %s", call.call_id, exc)

    async def _start_recording(self, call: _Call, at: dt.datetime,
                               agent_channel: str | None = None) -> str | None:
        name = f"{call.call_id}.wav"
        file = self._paths.astguard_dir / name
        started = self.recording.now()
        try:  # the row first: no recording the evidence does not know of (R-I5)
            await self.recording.recording_started(call.call_id, file, started, call.policy)
        except StoreUnavailable as exc:
            return f"preuve impossible à écrire : {exc}"
        try:
            await self._recorder.start(call.channel_name,
                                       f"{self._paths.asterisk_dir.rstrip('/')}/{name}")
        except RecorderError as exc:
            now = self.recording.now()
            await self.evidence.recording_stopped(call.call_id, now, "enregistreur indisponible")
            await self.evidence.recording_deleted(
                call.call_id, now, "enregistrement non démarré",
                self.recording.remove_file(file, self._paths.astguard_dir))
            return f"enregistreur indisponible : {exc}"
        call.recording = True
        call.file_for_astguard = file
        self._by_call_id[call.call_id] = call
        try:
            if agent_channel is None:
                # The agent's channel inherits these: its *85 code names this call (R-I2).
                await self._ari.set_variable(call.channel_id, INHERITED_INBOUND_CALL_VARIABLE,
                                             call.call_id)
                await self._ari.set_variable(call.channel_id, "__DYNAMIC_FEATURES",
                                             INBOUND_AGENT_FEATURES)
            else:  # an outbound call: the agent's channel exists already
                await self._ari.set_variable(agent_channel, INBOUND_CALL_VARIABLE,
                                             call.call_id)
                await self._ari.set_variable(agent_channel, "DYNAMIC_FEATURES",
                                             OUTBOUND_AGENT_FEATURES)
        except AriError as exc:
            log.warning("inbound %s: agent's objection code not armed: %s", call.call_id, exc)
        return None

    async def _stop_and_remove(self, call: _Call) -> str:
        """Stop MixMonitor and remove what it captured, before any evidence is written."""
        try:
            await self._recorder.stop(call.channel_name)
        except RecorderError as exc:
            # The file is removed all the same: what MixMonitor still writes goes to an
            # unlinked file that vanishes when it closes.
            log.error("inbound %s: StopMixMonitor failed: %s", call.call_id, exc)
        call.recording = False
        await asyncio.sleep(0.2)  # let MixMonitor close the file it was writing
        if call.file_for_astguard is None:
            return "already absent"
        return self.recording.remove_file(call.file_for_astguard, self._paths.astguard_dir)

    async def _removal_evidence(self, call: _Call, at: dt.datetime, reason: str,
                                result: str) -> None:
        await self.evidence.recording_stopped(call.call_id, at, reason)
        await self.evidence.recording_deleted(call.call_id, self.recording.now(), reason,
                                              result)

    async def objection_by_agent(self, call_id: str) -> bool:
        """The agent's code: the caller said they object. True when a recording was stopped."""
        call = self._by_call_id.get(call_id)
        if call is None or not call.recording:
            return False
        lock = self._locks.setdefault(call.channel_id, asyncio.Lock())
        async with lock:
            if not call.recording:  # the caller's own key got there first
                return True
            at = self.recording.now()
            call.objected = True
            result = await self._stop_and_remove(call)  # first, whatever the store's state
            await self.evidence.event(call.call_id, "objection", at, {
                "code": ReasonCode.RECORDING_OBJECTED.value, "during": "call", "by": "agent"})
            await self._removal_evidence(call, at, "objection signalée par l'agent", result)
        return True

    def recorded_channel(self, call_id: str) -> str | None:
        """The name of the channel recorded for this call; None when it is not recording."""
        call = self._by_call_id.get(call_id)
        return call.channel_name if call is not None and call.recording else None

    async def _on_hangup(self, call: _Call, event: dict[str, Any], at: dt.datetime) -> None:
        await self.evidence.event(call.call_id, "hangup", at, {
            "cause": event.get("cause"), "during": "announcement" if call.announcing
            else "call"})
        if call.recording:
            await self.evidence.recording_stopped(call.call_id, at, "fin d'appel")
        self._by_call_id.pop(call.call_id, None)

    async def _release(self, channel_id: str) -> None:
        try:
            await self._ari.continue_in_dialplan(channel_id)
        except AriError as exc:
            log.info("inbound channel %s left before continue: %s", channel_id, exc)

    async def record_answered_call(self, call_id: str, channel_id: str, channel_name: str,
                                   policy: RecordingPolicy, agent_channel: str) -> str | None:
        """An announced outbound call (outbound_recording.py): record the consumer's channel
        and follow it as an inbound call from here on. None when recording, else why not."""
        call = _Call(call_id, channel_id, channel_name, policy)
        reason = await self._start_recording(call, self.recording.now(),
                                             agent_channel or None)
        if reason is not None:
            return reason
        self._calls[channel_id] = call
        try:
            await self._ari.subscribe_channel(channel_id)  # the consumer's key, the hang-up
        except AriError as exc:
            log.warning("outbound %s: cannot follow the call: %s", call_id, exc)
        return None

    def prompt_hash(self, prompt: str) -> str | None:
        path = self._paths.prompts_dir / f"{prompt}.wav"
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
