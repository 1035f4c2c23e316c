"""Recording consent, the use case (R-I1 to R-I5): the clock, the store, the random draw.

The inbound Stasis application, the outbound announcement over FastAGI, the retention purge
and the CLI call this service; it asks policy/recording.py what to do and the store to keep
it. The adapters therefore never read the wall clock nor the store for a recording decision:
with a pinned or started clock (tests, demos) the evidence carries the clock's times.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from astguard.clock import Clock
from astguard.errors import InputError
from astguard.policy import recording as rules
from astguard.policy.recording import RecordingDecision, RecordingPolicy
from astguard.store.inbound import InboundStore
from astguard.app.recording_evidence import RecordingEvidence
from astguard.app.recording_files import purge_expired, remove_recording
from astguard.store.spool import Spool

DEFAULT_PROMPT = "annonce-enregistrement"


def uniform_draw() -> float:
    """The sampling draw of a live call: uniform in [0, 100)."""
    return random.uniform(0, 100)


class RecordingService:
    def __init__(self, store: InboundStore, clock: Clock, spool: Spool | None = None,
                 draw: Callable[[], float] = uniform_draw) -> None:
        self._store = store
        self._clock = clock
        self._draw = draw
        # Once a call is under way its evidence never raises: it waits in the spool instead.
        self.evidence = RecordingEvidence(store, spool)

    # -- time ---------------------------------------------------------------------------------
    @property
    def clock_mode(self) -> str:
        return self._clock.mode

    def now(self) -> dt.datetime:
        return self._clock.now()

    def event_at(self, asterisk_time: dt.datetime) -> dt.datetime:
        """The time of an event Asterisk stamped: its own stamp under the real clock (the
        truest time of a PBX event), the clock's time under a pinned or started one, so that a
        demo's call is recorded wholly at the demo's moment."""
        return asterisk_time if self._clock.mode == "system" else self._clock.now()

    # -- policies -----------------------------------------------------------------------------
    async def set_policy(self, did: str, mode: str, *, sample_percent: int = 100,
                         prompt: str = DEFAULT_PROMPT, objection_key: str = "1",
                         retention_days: int = rules.CNIL_QUALITY_DAYS,
                         legal_basis: str | None = None) -> RecordingPolicy:
        problem = rules.policy_problem(mode, sample_percent=sample_percent,
                                       objection_key=objection_key,
                                       retention_days=retention_days, legal_basis=legal_basis)
        if problem is not None:
            raise InputError(problem)
        policy = RecordingPolicy(did, mode, sample_percent, prompt, objection_key,
                                 retention_days, legal_basis)
        await self._store.set_policy(policy)
        return policy

    async def policy_for(self, did: str) -> RecordingPolicy | None:
        return await self._store.policy_for(did)

    async def outbound_policy(self, decision_id: str
                              ) -> tuple[RecordingPolicy | None, str | None, str | None]:
        """(policy of the presented number, consumer's number, presented number) of an
        allowed call; (None, None, None) for any other decision."""
        return await self._store.outbound_policy(decision_id)

    # -- a call -------------------------------------------------------------------------------
    @staticmethod
    def announces(policy: RecordingPolicy | None) -> bool:
        return rules.announces(policy)

    @staticmethod
    def is_objection(policy: RecordingPolicy, digit: str, already_objected: bool) -> bool:
        return rules.is_objection(policy, digit, already_objected)

    async def start_call(self, call_id: str, *, channel_id: str, did: str, caller: str | None,
                         at: dt.datetime, policy: RecordingPolicy | None,
                         prompt_sha256: str | None, direction: str = "inbound",
                         decision_id: str | None = None) -> None:
        """The call's evidence row: its mode, and the announcement it gets (R-I1, R-I5)."""
        announced = rules.announces(policy)
        await self._store.start_call(
            call_id, channel_id=channel_id, did=did, caller=caller, at=at,
            mode=policy.mode if policy is not None else rules.RecordingMode.OFF,
            prompt=policy.prompt if policy is not None and announced else None,
            prompt_sha256=prompt_sha256 if announced else None,
            retention_class=policy.retention_class if policy is not None else None,
            clock_mode=self._clock.mode, direction=direction, decision_id=decision_id)

    def after_announcement(self, policy: RecordingPolicy, *, playback: str | None,
                           objected: bool, hung_up: bool) -> RecordingDecision:
        return rules.after_announcement(policy, playback=playback, objected=objected,
                                        hung_up=hung_up, draw=self._draw())

    async def recording_started(self, call_id: str, file: Path, at: dt.datetime,
                                policy: RecordingPolicy) -> None:
        """The recording's row, before MixMonitor starts (R-I5), due for deletion at the end
        of the policy's retention (R-I4)."""
        await self._store.recording_started(call_id, str(file), at,
                                            rules.purge_after(at, policy.retention_days))

    @staticmethod
    def remove_file(file: Path, folder: Path) -> str:
        return remove_recording(file, folder)

    # -- retention and evidence -----------------------------------------------------------------
    async def purge(self, folder: Path) -> list[dict[str, str]]:
        """Delete the recordings past their retention at the clock's now (R-I4)."""
        return await purge_expired(self._store, self._clock.now(), folder)

    async def call_evidence(self, call_id: str) -> dict[str, Any]:
        return await self._store.call_evidence(call_id)
