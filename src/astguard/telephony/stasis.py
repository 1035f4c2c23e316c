"""The Stasis application: every outbound call enters here, is decided, and goes back to dialplan.

The dialplan (src/astguard/data/asterisk/astguard.conf) calls
    Stasis(astguard,outbound,${EXTEN},${ASTGUARD_ENDPOINT},${ASTGUARD_CAMPAIGN},
           ${ASTGUARD_DIAL_MODE},${ASTGUARD_DEPARTMENT})
and after Stasis() returns it reads ASTGUARD_RESULT (see verdict.result_variable): "allow" goes to
astguard-allowed (caller ID set, then the trunk), anything else (deny, or nothing because astguard
failed) to astguard-refused (a French prompt, then a hangup with ASTGUARD_CAUSE). Everything the decision
needs travels in the Stasis arguments, so a call costs no ARI round trip before the decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from astguard.errors import AriError, StoreUnavailable
from astguard.app.gate import Decided, Gate
from astguard.values import Outcome
from astguard.telephony.ari import CONNECTED_EVENT, AriClient, event_time
from astguard.telephony.call_token import CallTokens
from astguard.telephony.contract import (
    DIALPLAN_CONTRACT,
    ENTRIES,
    ENTRY_OUTBOUND,
    INHERITED_TOKEN_VARIABLE,
    RESULT_VARIABLE,
    dialplan_contract,
)
from astguard.telephony.verdict import call_from_args, call_token, result_variable

log = logging.getLogger(__name__)


LOST_END = "fin d'appel non observée (liaison ARI coupée pendant l'appel)"
LOST_BY_RESTART = "fin d'appel non observée (astguard arrêté pendant l'appel)"
LOST_HAND_OFF = "fin d'appel non observée (ARI n'a pas confirmé la remise du verdict)"
LOST_UNFOLLOWED = "fin d'appel non observée (appel suivi par personne)"
NOT_HANDED_OFF = "appel non composé : le verdict n'a pas pu être remis au canal"
HUNG_UP_DURING_DECISION = "appel non composé : l'appelant a raccroché pendant la décision"
EARLIER_CALLS_INTERVAL = 10.0  # seconds between two looks for calls a previous run lost
UNCONFIRMED_INTERVAL = 2.0  # seconds between two looks at channels followed unconfirmed
# A call of this run is looked for in the store once this old: by then its channel is followed
# or its outcome handed to the gate (Stasis), or its hangup handler has reported (FastAGI).
UNFOLLOWED_MARGIN = dt.timedelta(seconds=30)


@dataclass(slots=True)
class _Tracked:
    decision_id: str
    answered_at: dt.datetime | None = None
    dial_status: str | None = None
    gap: bool = False  # events were lost while the websocket was down
    answered_unseen: bool = False  # found Up after the gap: answered, moment unknown
    # Why the channel's end may go unseen (its subscription is not confirmed), and the text
    # of its outcome if it is found ended; None once subscribed.
    unconfirmed: str | None = None

    @property
    def answered(self) -> bool | None:
        """True when seen (or found Up), False when followed throughout, None when unknown."""
        if self.answered_at is not None or self.answered_unseen:
            return True
        return None if self.gap else False


class OutboundStasisApp:
    def __init__(self, ari: AriClient, gate: Gate, tokens: CallTokens | None = None) -> None:
        self._ari = ari
        self._gate = gate
        self._tokens = tokens
        self._tracked: dict[str, _Tracked] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, event: dict[str, Any]) -> None:
        """Called in event order by the ARI client; long work runs in tasks."""
        kind = event.get("type")
        channel = event.get("channel") or {}
        channel_id = channel.get("id")
        if kind == CONNECTED_EVENT and event.get("connection", 1) > 1:
            self._spawn(self._reconcile())
        elif kind == "StasisStart":
            args = event.get("args") or []
            if args and args[0] == ENTRY_OUTBOUND:
                self._spawn(self._on_outbound(channel, args[1:]))
            elif not args or args[0] not in ENTRIES:
                log.warning("StasisStart with unknown arguments %r: back to dialplan", args)
                self._spawn(self._release(channel_id))
        elif kind == "ChannelStateChange" and channel_id in self._tracked:
            if channel.get("state") == "Up" and self._tracked[channel_id].answered_at is None:
                self._tracked[channel_id].answered_at = event_time(event)
        elif kind == "Dial":
            caller = (event.get("caller") or {}).get("id")
            status = event.get("dialstatus")
            if caller in self._tracked and status:
                self._tracked[caller].dial_status = status
        elif kind == "ChannelDestroyed" and channel_id in self._tracked:
            tracked = self._tracked.pop(channel_id)
            ended = event_time(event)
            duration = None
            if tracked.answered_at is not None:
                duration = round((ended - tracked.answered_at).total_seconds(), 3)
            outcome = Outcome(
                answered=tracked.answered,
                dial_status=tracked.dial_status,
                hangup_cause=event.get("cause"),
                hangup_cause_text=event.get("cause_txt"),
                duration_s=duration,
                ended_at=ended,
            )
            self._spawn(self._gate.outcome(tracked.decision_id, outcome))

    async def _reconcile(self) -> None:
        """After the websocket came back: events of the outage are lost. Every followed channel
        is looked at again (confirm_channels): one that still exists is followed again
        (answered meanwhile if Asterisk says it is Up); one that ended meanwhile gets its
        outcome now, saying honestly what was not seen (no hang-up cause or duration; answered
        unknown unless seen). One ARI did not answer for stays unconfirmed and is looked at
        again by follow_unconfirmed_forever, never forgotten."""
        for tracked in self._tracked.values():
            tracked.gap = True
            tracked.unconfirmed = tracked.unconfirmed or LOST_END
        await self.confirm_channels()

    async def confirm_channels(self, *, follow: bool = True) -> int:
        """The followed channels whose end may go unseen (not subscribed to, or subscribed
        before events were lost): one that ended gets its outcome now, with what was seen of it
        and the rest unknown; a live one is subscribed to again (unless `follow` is False: at
        shutdown, the next run follows it). An ARI error leaves the channel for the next look.
        Returns how many outcomes were settled."""
        settled = 0
        for channel_id, tracked in list(self._tracked.items()):
            reason = tracked.unconfirmed
            if reason is None:
                continue
            try:
                info = await self._ari.channel_info(channel_id)
                if info is not None:
                    if info.get("state") == "Up" and tracked.answered_at is None:
                        tracked.answered_unseen = True
                    if follow:
                        await self._ari.subscribe_channel(channel_id)
                        tracked.unconfirmed = None
                    continue
            except AriError as exc:
                log.warning("channel %s (decision %s) not confirmed yet: %s", channel_id,
                            tracked.decision_id, exc)
                continue
            if self._tracked.get(channel_id) is not tracked:
                continue  # its ChannelDestroyed arrived meanwhile
            del self._tracked[channel_id]
            log.warning("channel %s (decision %s) ended unobserved: %s", channel_id,
                        tracked.decision_id, reason)
            tracked.gap = True
            await self._gate.outcome(tracked.decision_id, Outcome(
                answered=tracked.answered,
                dial_status=tracked.dial_status,
                hangup_cause=None,
                hangup_cause_text=reason,
                duration_s=None,
                ended_at=dt.datetime.now(dt.UTC),
            ), observed=False)
            settled += 1
        return settled

    async def follow_unconfirmed_forever(self, interval: float = UNCONFIRMED_INTERVAL) -> None:
        """confirm_channels every `interval` seconds while ARI is connected (a hand-off or a
        reconciliation that ARI did not answer in time): costs nothing when all is confirmed."""
        while True:
            await self._ari.connected.wait()
            await self.confirm_channels()
            await asyncio.sleep(interval)

    async def settle_ended(self) -> int:
        """At shutdown: the outcomes kept in memory are tried once more (PostgreSQL or the
        spool: memory ends with the process), and the unconfirmed channels that already ended
        get their outcome; live ones are left to the next run (reconcile_earlier)."""
        with contextlib.suppress(StoreUnavailable):
            await self._gate.retry_unsaved_outcomes()
        return await self.confirm_channels(follow=False)

    async def reconcile_earlier(self, started: dt.datetime) -> int:
        """Outcomes nothing else will write: this node's allowed calls without an outcome,
        decided before this run `started` (a previous run was killed or stopped during the
        call) or by this run at least UNFOLLOWED_MARGIN ago and not followed here (a FastAGI
        hangup handler that never reached astguard, an outcome lost by a bug). Outcomes kept
        in memory are written first. An ended channel gets an honest outcome now (nothing
        observed; one that waits in the spool or is being written wins); a live Stasis one
        is followed from here; a live FastAGI one is left to its hangup handler (following it
        too would write its outcome twice). Returns how many were settled."""
        await self._gate.retry_unsaved_outcomes()
        calls = [c for c in await self._gate.open_outcomes(started, UNFOLLOWED_MARGIN)
                 if c.channel_id not in self._tracked]
        if not calls:
            return 0
        try:
            # One request for all of them (a node's FastAGI calls in progress are listed at
            # every look), rather than one per call.
            live = {c.get("id"): c for c in await self._ari.list_channels()}
        except AriError as exc:
            log.warning("%d calls without their outcome not reconciled yet: %s", len(calls), exc)
            return 0
        settled = 0
        for call in calls:
            channel_id = call.channel_id
            why = LOST_BY_RESTART if call.decided_at < started else LOST_UNFOLLOWED
            if channel_id in self._tracked:
                continue  # followed meanwhile
            if channel_id in live:
                if call.source == "ari":
                    await self._follow(call.decision_id, channel_id, live[channel_id], why)
                continue
            log.warning("decision %s: its call ended while astguard was not following it (%s)",
                        call.decision_id, why)
            await self._gate.outcome(call.decision_id, Outcome(
                answered=None, dial_status=None, hangup_cause=None, hangup_cause_text=why,
                duration_s=None, ended_at=dt.datetime.now(dt.UTC)), observed=False)
            settled += 1
        return settled

    async def _follow(self, decision_id: str, channel_id: str, info: dict[str, Any],
                      why: str) -> None:
        """Follow a live channel from now on, what came before unseen. If the subscription
        fails, follow_unconfirmed_forever makes it again (or settles the call if it ended)."""
        tracked = _Tracked(decision_id, gap=True, answered_unseen=info.get("state") == "Up",
                           unconfirmed=why)
        self._tracked[channel_id] = tracked
        try:
            await self._ari.subscribe_channel(channel_id)
        except AriError as exc:
            log.warning("channel %s (decision %s) not subscribed to yet: %s", channel_id,
                        decision_id, exc)
            return
        tracked.unconfirmed = None

    async def reconcile_earlier_forever(self, started: dt.datetime,
                                        interval: float = EARLIER_CALLS_INTERVAL) -> None:
        """reconcile_earlier whenever ARI is connected, every `interval` seconds (a spooled
        decision reaches PostgreSQL only when the spool is flushed); while it is not, the
        outcomes kept in memory are still written."""
        while True:
            with contextlib.suppress(TimeoutError):  # at once when connected
                await asyncio.wait_for(self._ari.connected.wait(), interval)
            try:
                if self._ari.connected.is_set():
                    await self.reconcile_earlier(started)
                else:  # the outcomes kept in memory need PostgreSQL only, not ARI
                    await self._gate.retry_unsaved_outcomes()
            except StoreUnavailable:
                pass  # next time
            await asyncio.sleep(interval)

    @property
    def followed(self) -> int:
        """How many channels are followed for their outcome (bounded: each ends or is
        reconciled)."""
        return len(self._tracked)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        """A spawned task's failure is logged with its traceback, never lost with the task."""
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("ARI task %s failed", task.get_coro(), exc_info=exc)

    async def _on_outbound(self, channel: dict[str, Any], args: list[str]) -> None:
        t0 = time.perf_counter()
        channel_id = channel["id"]
        caller = (channel.get("caller") or {}).get("number")
        call = call_from_args(args, source="ari", caller_id=caller, channel_id=channel_id,
                              fallback_exten=(channel.get("dialplan") or {}).get("exten"),
                              channel_name=channel.get("name"))
        try:
            decided = await self._gate.check(call, record=True)
        except Exception:
            # Without a verdict the dialplan refuses the call (astguard-refused): fail closed.
            log.exception("decision failed for channel %s", channel_id)
            await self._release(channel_id)
            return
        if decided.verdict.allowed:
            self._tracked[channel_id] = _Tracked(decided.decision_id)
        await self._hand_off(channel_id, decided, dialplan_contract(args))
        t_decided = time.perf_counter()
        await self._release(channel_id)
        log.debug("channel %s: decided in %.2f ms, released after %.2f ms", channel_id,
                  (t_decided - t0) * 1000, (time.perf_counter() - t0) * 1000)
        log.info("%s %s -> %s %s", decided.verdict.decision.value, call.dialled,
                 decided.verdict.destination, ",".join(decided.verdict.codes) or "-",
                 extra={"decision_id": decided.decision_id,
                        "decision": decided.verdict.decision.value,
                        "reason_codes": decided.verdict.codes, "endpoint": call.endpoint,
                        "channel": channel_id, "spooled": decided.spooled,
                        "recorded": decided.recorded})

    async def _hand_off(self, channel_id: str, decided: Decided, contract_version: int) -> None:
        """The verdict with its token in one request (a dialplan of DIALPLAN_CONTRACT takes
        the token from it; an older one gets the token first, on its own), and for an allowed
        call the subscription to its channel (to see its end). An allowed call is never
        forgotten because ARI failed here: an ARI request that timed out may still have been
        applied by Asterisk, and the call may be leaving for the trunk (issue 14's soak)."""
        channel = self._tracked.get(channel_id)  # None: refused, nothing to follow
        token = call_token(self._tokens, decided)
        if token and contract_version < DIALPLAN_CONTRACT:
            try:
                # The token first, as over FastAGI: an allow verdict never reaches the channel
                # without it (the trunk watchdog would hang the call up, and the evidence
                # would say both "allowed" and "unguarded").
                await self._ari.set_variable(channel_id, INHERITED_TOKEN_VARIABLE, token)
            except AriError as exc:
                # No verdict then: the dialplan refuses the call, which certainly never left.
                log.error("could not hand the token to channel %s: %s", channel_id, exc)
                await self._not_dialled(channel_id, HUNG_UP_DURING_DECISION
                                        if exc.status == 404 else NOT_HANDED_OFF)
                return
        result, *subscribed = await asyncio.gather(
            self._ari.set_variable(channel_id, RESULT_VARIABLE,
                                   result_variable(decided, token)),
            *([self._ari.subscribe_channel(channel_id)] if channel else []),
            return_exceptions=True)
        for failure in (result, *subscribed):
            if isinstance(failure, BaseException) and not isinstance(failure, AriError):
                raise failure
        if isinstance(result, AriError):
            log.error("could not hand the verdict to channel %s: %s", channel_id, result)
            if result.status == 404:  # the channel is gone: it never reached the dialplan
                await self._not_dialled(channel_id, HUNG_UP_DURING_DECISION)
                return
            # Whether Asterisk applied it is unknown: its channel tells (followed below).
        if channel is not None and subscribed and isinstance(subscribed[0], AriError):
            log.error("channel %s (decision %s) not subscribed to: %s; looked at again",
                      channel_id, channel.decision_id, subscribed[0])
            channel.gap = True
            channel.unconfirmed = LOST_HAND_OFF

    async def _not_dialled(self, channel_id: str, why: str) -> None:
        """An allowed call that certainly never reached the trunk: its outcome now."""
        channel = self._tracked.pop(channel_id, None)
        if channel is not None:
            await self._gate.outcome(channel.decision_id,
                                     Outcome.not_dialled(why, dt.datetime.now(dt.UTC)))

    async def _release(self, channel_id: str | None) -> None:
        if channel_id is None:
            return
        try:
            await self._ari.continue_in_dialplan(channel_id)
        except AriError as exc:
            # The caller hung up meanwhile (404), or Asterisk is gone: nothing left to do.
            log.warning("continue failed for %s: %s", channel_id, exc)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
