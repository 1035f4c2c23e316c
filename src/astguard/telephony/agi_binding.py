"""A FastAGI request acts only on the call it comes from.

The peer allow-list (ASTGUARD_AGI_ALLOWED_PEERS) keeps strangers out; this keeps an allowed
peer's request to its own call: a decision id, an endpoint or a recording named by a request
must belong to the channel the request runs on, as the dialplan (data/asterisk/astguard.conf) and
features.conf wire them:

- /outcome and /feature run on the agent's channel, the one the decision was made on;
- /code runs on a new channel of the agent's endpoint: the endpoint named is the channel's;
- /outbound-recording runs on the consumer's channel; its arguments name the decision and the
  agent's channel, which must be the decision's, and a call is announced once;
- /objection runs on the agent's channel, bridged to the recorded channel (BRIDGEPEER).

When the evidence store cannot say (PostgreSQL away, a decision still in the spool), the request
goes on: refusals, oppositions, objections and outcomes only ever restrict or describe calls,
and losing one that was genuine is worse than honouring one that cannot be checked.
"""

from __future__ import annotations


from astguard.app.ports import DecisionLookups
from astguard.errors import StoreUnavailable, TelephonyError
from astguard.telephony.contract import NOT_NAME

class AgiRefused(TelephonyError):
    """The request names something that is not its own call: nothing is done or recorded."""


def endpoint_of(channel_name: str) -> str:
    """`PJSIP/agent1-0000002a` -> `agent1` (filtered as the dialplan filters it)."""
    tech, _, rest = channel_name.partition("/")
    if tech != "PJSIP" or "-" not in rest:
        return ""
    return NOT_NAME.sub("", rest.rsplit("-", 1)[0])  # as [astguard-code] FILTERs it


def check_endpoint(endpoint: str, channel_name: str) -> None:
    if endpoint and endpoint != endpoint_of(channel_name):
        raise AgiRefused(f"endpoint {endpoint!r} is not the one of channel {channel_name!r}")


def check_bridged_to(recorded_channel: str | None, bridge_peers: str) -> None:
    """The agent's channel must be bridged to the recorded one. A Local channel in between
    (queues with Local members) hides the far end: accepted, as the objection is the safe way."""
    peers = [p.strip() for p in bridge_peers.split(",") if p.strip()]
    if recorded_channel is None or recorded_channel in peers:
        return
    if any(p.startswith("Local/") for p in peers):
        return
    raise AgiRefused(f"channel bridged to {peers or 'nothing'}, not to the recorded "
                     f"{recorded_channel!r}")


class ChannelBinding:
    def __init__(self, lookups: DecisionLookups) -> None:
        self._lookups = lookups

    async def decision_on_channel(self, decision_id: str, channel_id: str) -> None:
        try:
            found = await self._lookups.decision_channel(decision_id)
        except StoreUnavailable:
            return  # cannot tell: see the module's docstring
        if found is not None and found.channel_id != channel_id:
            raise AgiRefused(f"decision {decision_id} was made on channel "
                             f"{found.channel_id!r}, not on {channel_id!r}")

    async def recording_for(self, decision_id: str, agent_channel: str,
                            channel_id: str) -> None:
        """/outbound-recording: the allowed decision of the agent's channel, announced once,
        on a channel that is not the agent's own. Unverifiable means refused here: the
        request would start a recording, and no evidence means no recording (R-I5)."""
        if not channel_id or channel_id == agent_channel:
            raise AgiRefused("the consumer's channel is missing or is the agent's own")
        try:
            found = await self._lookups.decision_channel(decision_id)
            if found is None or not found.allowed or found.channel_id != agent_channel:
                raise AgiRefused(f"decision {decision_id} is no allowed call of channel "
                                 f"{agent_channel!r}")
            if await self._lookups.recording_announced(decision_id):
                raise AgiRefused(f"decision {decision_id}: recording already announced")
        except StoreUnavailable as exc:
            raise AgiRefused(f"evidence store unavailable: {exc}") from None
