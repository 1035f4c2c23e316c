"""The watchdog on the trunks: every channel dialled towards a trunk must carry a valid token.

astguard checks the calls that go through its dialplan contexts; nothing there stops a dialer
originating straight to the trunk (AMI Originate, ARI POST /channels) or a context that dials
the trunk without astguard. The watchdog follows every channel event (its own ARI application,
subscribed to all event sources) and, when a channel on a trunk endpoint is dialled, reads its
ASTGUARD_TOKEN (inherited from the channel astguard allowed, telephony/call_token.py). Without
a valid token for the dialled number it hangs the channel up at once (mode "hangup", the
default) or only raises the alert (mode "alert", for a first deployment), and in both cases
writes an UNGUARDED_CALL row, a log line and a Prometheus counter. Nothing counts as an
attempt. Emergency and public-interest numbers are never hung up, only recorded (R-A).

When: Asterisk publishes ChannelCreated when the trunk channel is allocated and Dial (with the
dial string, so the number) just before it sends the INVITE; inherited and originate-time
variables are set in between. The check runs on that Dial event, so the INVITE is usually out
and the hang-up becomes a CANCEL before the consumer's phone rings (bench/watchdog.py).

Events are not replayed: on every (re)connection of its websocket the watchdog sweeps the live
channels (GET /channels) and checks every outbound trunk channel it has not checked yet, so a
call dialled while astguard was restarting or its websocket was down is still caught. The
dialled number then comes from the channel itself, CHANNEL(pjsip,remote_uri) (its To header;
an empty request_uri tells an outbound leg from a call coming in on the trunk), and
the token's age is taken at the channel's creation, so a guarded call answered minutes ago is
never hung up for a token that has since expired.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from astguard.errors import AriError, StoreUnavailable
from astguard.metrics import Metrics
from astguard.policy.numbers import is_emergency
from astguard.app.ports import Journal, UnguardedCalls
from astguard.telephony.ari import CONNECTED_EVENT, AriClient, event_time
from astguard.telephony.call_token import CallTokens, trunk_number
from astguard.telephony.contract import TOKEN_VARIABLE
from astguard.values import UnguardedCall

log = logging.getLogger(__name__)

HANGUP_CAUSE = 21  # call rejected
_PJSIP_CHANNEL = re.compile(r"PJSIP/(.+)-[0-9a-f]{8}")
_MAX_PENDING = 10_000


def trunk_endpoint(channel_name: str, trunks: frozenset[str]) -> str | None:
    """The trunk endpoint of a channel name (PJSIP/carrier-0000002a → carrier), else None."""
    match = _PJSIP_CHANNEL.fullmatch(channel_name or "")
    if match and match[1] in trunks:
        return match[1]
    return None


# The To header of an outbound leg, "<sip:0612345678@carrier>", fixed for the whole dialog
# (target_uri, the request URI, becomes the consumer's Contact once answered).
REMOTE_URI = "CHANNEL(pjsip,remote_uri)"
_URI_USER = re.compile(r"sips?:([^@;>]+)@|tel:([^;>]+)")


def uri_user(uri: str) -> str:
    """The user part of a SIP URI as PJSIP prints it ('"x" <sip:0612…@host>' → 0612…)."""
    match = _URI_USER.search(uri or "")
    return (match[1] or match[2]) if match else ""


async def _none() -> None:
    return None


def _creation_time(channel: dict[str, Any]) -> dt.datetime:
    try:
        return dt.datetime.strptime(channel["creationtime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    except (KeyError, TypeError, ValueError):
        return dt.datetime.now(dt.UTC)


def dialled_number(dialstring: str) -> str:
    """The number in a dial string: "0612345678@carrier" or "carrier/sip:0612…@host"."""
    text = dialstring.split("/", 1)[-1] if "/" in dialstring else dialstring
    text = text.removeprefix("sip:").removeprefix("sips:")
    return text.split("@", 1)[0].split(";", 1)[0]


@dataclass(slots=True)
class _TrunkChannel:
    endpoint: str
    name: str
    created_at: dt.datetime
    caller: str | None
    linkedid: str | None
    checked: bool = False
    token_age_at: float | None = None  # a sweep: the token's age is judged at creation


class TrunkWatchdog:
    def __init__(self, ari: AriClient, tokens: CallTokens, store: UnguardedCalls,
                 metrics: Metrics, *, trunks: frozenset[str], mode: str,
                 emergency_numbers: frozenset[str], node: str,
                 spool: Journal | None = None) -> None:
        self._ari = ari
        self._tokens = tokens
        self._store = store
        self._metrics = metrics
        self._trunks = trunks
        self._mode = mode
        self._emergency = emergency_numbers
        self._node = node
        self._spool = spool
        self._channels: OrderedDict[str, _TrunkChannel] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "ChannelCreated":
            self._on_created(event)
        elif kind == "Dial":
            peer = event.get("peer") or {}
            tracked = self._channels.get(peer.get("id", ""))
            if tracked is not None and not tracked.checked and not event.get("dialstatus"):
                originator = (event.get("caller") or {}).get("name")
                self._check(peer["id"], tracked, dialled_number(event.get("dialstring") or ""),
                            originator)
        elif kind == "ChannelStateChange":
            # A trunk channel that rings or answers without a Dial event seen (an event lost
            # across a reconnection): check it now, the number read from the channel itself
            # (its connected line is the caller's on an outbound leg, never the dialled one).
            channel = event.get("channel") or {}
            tracked = self._channels.get(channel.get("id", ""))
            if tracked is not None and not tracked.checked:
                self._check(channel["id"], tracked, None, None)
        elif kind == "ChannelDestroyed":
            self._channels.pop((event.get("channel") or {}).get("id", ""), None)
        elif kind == CONNECTED_EVENT:
            self._spawn(self._sweep())

    async def _sweep(self) -> None:
        """Check the live trunk channels dialled while nobody watched (events are lost while
        the websocket is down, and before astguard starts)."""
        try:
            channels = await self._ari.list_channels()
        except AriError as exc:
            log.error("watchdog: live channels unreadable after connecting (%s)", exc)
            return
        for channel in channels:
            channel_id = channel.get("id") or ""
            endpoint = trunk_endpoint(channel.get("name", ""), self._trunks)
            tracked = self._channels.get(channel_id)
            if endpoint is None or (tracked is not None and tracked.checked):
                continue
            try:
                incoming = await self._ari.get_variable(channel_id, "CHANNEL(pjsip,request_uri)")
            except AriError as exc:
                log.warning("watchdog: direction of %s unreadable (%s): checked as outbound",
                            channel.get("name"), exc)
                incoming = ""
            if incoming:
                continue  # a call the carrier sent us: not dialled by anyone here
            created = _creation_time(channel)
            if tracked is None:
                tracked = _TrunkChannel(
                    endpoint=endpoint, name=channel["name"], created_at=created,
                    caller=(channel.get("caller") or {}).get("number") or None,
                    linkedid=channel.get("linkedid"))
                self._channels[channel_id] = tracked
            tracked.token_age_at = created.timestamp()
            log.warning("watchdog: trunk channel %s found live at connection, checked now",
                        tracked.name)
            self._check(channel_id, tracked, None, None)

    def _on_created(self, event: dict[str, Any]) -> None:
        channel = event.get("channel") or {}
        endpoint = trunk_endpoint(channel.get("name", ""), self._trunks)
        # Outbound channels start Down; a call coming in from the carrier starts Ring.
        if endpoint is None or channel.get("state") != "Down":
            return
        self._channels[channel["id"]] = _TrunkChannel(
            endpoint=endpoint, name=channel["name"], created_at=event_time(event),
            caller=(channel.get("caller") or {}).get("number") or None,
            linkedid=channel.get("linkedid"))
        while len(self._channels) > _MAX_PENDING:
            self._channels.popitem(last=False)

    def _check(self, channel_id: str, tracked: _TrunkChannel, number: str | None,
               originator: str | None) -> None:
        tracked.checked = True
        self._spawn(self._verify(channel_id, tracked, number, originator))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _verify(self, channel_id: str, tracked: _TrunkChannel, number: str | None,
                      originator: str | None) -> None:
        """`number` is the dial string's; None when no Dial event was seen: then the number
        is the user part of the channel's own To header."""
        # The linked id (which call this leg belongs to) is read alongside, for the evidence.
        token, linkedid, target = await asyncio.gather(
            self._ari.get_variable(channel_id, TOKEN_VARIABLE),
            self._ari.get_variable(channel_id, "CHANNEL(linkedid)"),
            self._ari.get_variable(channel_id, REMOTE_URI) if number is None else _none(),
            return_exceptions=True)
        if isinstance(token, BaseException):
            log.warning("watchdog: token of %s unreadable (%s): taken as absent",
                        tracked.name, token)
            token = ""
        if isinstance(linkedid, str) and linkedid:
            tracked.linkedid = linkedid
        if number is None:
            if isinstance(target, BaseException):
                log.warning("watchdog: dialled number of %s unreadable (%s)", tracked.name,
                            target)
            number = uri_user(target) if isinstance(target, str) else ""
        check = self._tokens.verify(token, number, now=tracked.token_age_at)
        if check.valid:
            self._metrics.trunk_check("valid")
            return
        self._metrics.trunk_check("invalid")
        emergency = is_emergency(number, self._emergency)
        hung_up_at = None
        if emergency:
            action = "emergency_kept"  # R-A: never blocked, whatever astguard thinks
        elif self._mode == "hangup":
            try:
                await self._ari.hangup(channel_id, HANGUP_CAUSE)
                hung_up_at = dt.datetime.now(dt.UTC)
                action = "hung_up"
            except AriError as exc:
                log.warning("watchdog: hang-up of %s failed: %s", tracked.name, exc)
                action = "gone"
        else:
            action = "alerted"
        call = UnguardedCall(
            channel_id=channel_id, channel=tracked.name, endpoint=tracked.endpoint,
            dialled=number, number_e164=trunk_number(number) if number else None,
            caller=tracked.caller, originator=originator, linkedid=tracked.linkedid,
            token_decision_id=check.decision_id, problem=check.problem, mode=self._mode,
            action=action, emergency=emergency, created_at=tracked.created_at,
            detected_at=dt.datetime.now(dt.UTC), hung_up_at=hung_up_at, node=self._node)
        self._metrics.unguarded_call(tracked.endpoint, action)
        log.critical("UNGUARDED_CALL %s to %r on trunk %s (%s): %s%s", tracked.name, number,
                     tracked.endpoint, check.problem, call.action_label,
                     f" after {call.lifetime_ms:.1f} ms" if call.lifetime_ms is not None
                     else "",
                     extra={"unguarded_call": call.id, "channel": channel_id,
                            "endpoint": tracked.endpoint, "action": action,
                            "originator": originator})
        try:
            await self._store.record(call)
        except StoreUnavailable as exc:
            # The evidence waits in the local spool, as decisions do, and goes in later.
            log.error("watchdog: PostgreSQL away (%s): UNGUARDED_CALL %s spooled", exc, call.id)
            try:
                if self._spool is None:
                    raise OSError("no spool")
                await self._spool.append("unguarded_call", call.as_row())
            except OSError:
                log.critical("watchdog: UNGUARDED_CALL %s lost: %r", call.id, call)

    async def drain(self) -> None:
        # A sweep starts checks of its own: wait until nothing is left.
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
