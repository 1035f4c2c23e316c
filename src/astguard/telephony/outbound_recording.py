"""Optional recording of outbound calls, under the same policy as inbound ones (R-I1 to R-I5),
keyed by the number the call presents.

The administrator adds ${ASTGUARD_DIAL_OPTIONS} to the trunk's Dial(); [astguard-present] sets
it to U(astguard-outbound-record^<decision id>^<agent channel id>), so that once the consumer
answers, and before the two are bridged, Asterisk runs FastAGI /outbound-recording on the
consumer's channel. astguard plays the announcement there with STREAM FILE, listening for the
objection key, and starts MixMonitor (over AMI, as for inbound calls) only once it played to its
end without an objection. From then on the call is followed like an inbound one: the consumer's
key mid-call or the agent's *85 stops the recording and deletes the file; the call goes on.

Every failure means no recording, never a lost call: the subroutine returns whatever happens.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from astguard.app.recording import RecordingService
from astguard.errors import StoreUnavailable
from astguard.policy.reasons import ReasonCode
from astguard.policy.recording import RecordingPolicy
from astguard.telephony.agi_binding import ChannelBinding
from astguard.telephony.contract import ROUTE_OUTBOUND_RECORDING
from astguard.telephony.fastagi import AgiProtocolError, HardenedFastAGI, TimedRequest
from astguard.telephony.inbound import InboundStasisApp

log = logging.getLogger(__name__)
ANNOUNCEMENT_TIMEOUT = 180.0  # seconds an announcement may play (STREAM FILE blocks meanwhile)


def _valid_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class OutboundRecordingAgi:
    def __init__(self, recording: RecordingService, inbound: InboundStasisApp,
                 binding: ChannelBinding) -> None:
        self._recording = recording
        self._binding = binding
        self._inbound = inbound

    def install(self, app: HardenedFastAGI) -> None:
        app.add_route(ROUTE_OUTBOUND_RECORDING, self.answered)

    async def answered(self, request: TimedRequest) -> None:
        args = request.args + ["", ""]
        decision_id, agent_channel = args[0], args[1]
        channel_id = request.headers.get("agi_uniqueid", "")
        channel_name = request.headers.get("agi_channel", "")
        if not _valid_uuid(decision_id) or not channel_id:
            log.warning("outbound recording: bad request (decision %r, channel %r)",
                        decision_id, channel_id)
            return
        # The agent's allowed call, announced once: never a recording of a channel named at will.
        await self._binding.recording_for(decision_id, agent_channel, channel_id)
        try:
            policy, consumer, presented = await self._recording.outbound_policy(decision_id)
        except StoreUnavailable:
            log.error("outbound %s: no evidence store, so no recording", decision_id)
            return
        if policy is None or not self._recording.announces(policy):
            return  # this presented number is not recorded: nothing to announce (R-I3)
        call_id = str(uuid.uuid4())
        try:
            await self._recording.start_call(
                call_id, channel_id=channel_id, did=presented or "", caller=consumer,
                at=self._recording.now(), policy=policy,
                prompt_sha256=self._inbound.prompt_hash(policy.prompt),
                direction="outbound", decision_id=decision_id)
        except StoreUnavailable as exc:
            log.error("outbound %s: no evidence store (%s): no recording", call_id, exc)
            return
        # From here the call's evidence never raises (it is spooled if the store goes away).
        await self._announce_then_record(request, call_id, policy, channel_id,
                                         channel_name, agent_channel)

    async def _announce_then_record(self, request: TimedRequest, call_id: str,
                                    policy: RecordingPolicy, channel_id: str,
                                    channel_name: str, agent_channel: str) -> None:
        store = self._recording.evidence
        await store.event(call_id, "playback_started", self._recording.now(),
                          {"prompt": policy.prompt})
        reply = await self._stream(request, f"astguard/{policy.prompt}", policy.objection_key)
        at = self._recording.now()
        state, digit = _playback_state(reply)
        if state == "hangup" and await self._channel_up(request):
            state = "failed"  # result=-1 also means the file could not be played
        await store.event(call_id, "playback_finished", at, {"state": state})
        # STREAM FILE stops on the policy's key only: any digit it reports is the objection.
        decision = self._recording.after_announcement(
            policy, playback=state, objected=digit is not None, hung_up=state == "hangup")
        if state == "hangup":
            await store.event(call_id, "not_recorded", at,
                              {"reason": decision.evidence_reason})
            return
        if digit is not None:  # R-I2
            await store.event(call_id, "key", at, {"digit": digit, "during": "announcement"})
            await store.event(call_id, "objection", at, {
                "code": ReasonCode.RECORDING_OBJECTED.value, "during": "announcement"})
        reason = decision.evidence_reason
        if decision.record:
            reason = await self._inbound.record_answered_call(
                call_id, channel_id, channel_name, policy, agent_channel)
        if reason is not None:
            await store.event(call_id, "not_recorded", at, {"reason": reason})

    @staticmethod
    async def _channel_up(request: TimedRequest) -> bool:
        try:
            reply = await request.send_command("CHANNEL STATUS")
        except AgiProtocolError:
            return False
        return reply.get("status_code") == 200 and "error" not in reply

    @staticmethod
    async def _stream(request: TimedRequest, sound: str, key: str) -> dict[str, Any]:
        saved = request.timeout
        request.timeout = ANNOUNCEMENT_TIMEOUT
        try:
            return await request.send_command(f'STREAM FILE {sound} "{key}"')
        except AgiProtocolError as exc:
            return {"error": str(exc)}
        finally:
            request.timeout = saved


def _playback_state(reply: dict[str, Any]) -> tuple[str, str | None]:
    """(state, objection digit) from STREAM FILE's reply: result=0 played to its end (endpos >
    0) or could not be played (endpos 0), result=<ASCII> a key stopped it, -1 a hang-up."""
    if "error" in reply:
        msg = str(reply.get("msg", "")).lower()
        gone = "hangup" in msg or "dead channel" in msg or reply.get("error") == "AGIAppError"
        return ("hangup" if gone else "failed"), None
    result = (reply.get("result") or ("", ""))[0]
    endpos = (reply.get("endpos") or ("0", ""))[0]
    if result == "0":
        return ("done" if endpos not in ("", "0") else "failed"), None
    if result.isdigit():
        return "objected", chr(int(result))
    return "failed", None
