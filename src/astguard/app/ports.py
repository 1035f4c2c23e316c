"""What the telephony adapters need from the evidence store, as protocols: the adapters are
typed against these and never import astguard.store; the composition root (controller.py)
hands them the store objects that implement them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from astguard.values import DecisionChannel, InboundPolicy, UnguardedCall


class Journal(Protocol):
    """The local spool (fsynced JSON lines) that keeps evidence while PostgreSQL is away."""

    def register(self, kind: str, replayer: Callable[[Any, dict[str, Any]],
                                                      Awaitable[bool]]) -> None: ...

    async def append(self, kind: str, row: dict[str, Any]) -> None: ...

    async def holds(self, record_id: str) -> bool: ...


class RecordingStore(Protocol):
    """The recording evidence of a call, inbound or outbound (R-I)."""

    async def policy_for(self, did: str) -> InboundPolicy | None: ...

    async def outbound_policy(self, decision_id: str
                              ) -> tuple[InboundPolicy | None, str | None, str | None]: ...

    async def start_call(self, call_id: str, *, channel_id: str, did: str, caller: str | None,
                         at: dt.datetime, mode: str, prompt: str | None,
                         prompt_sha256: str | None, retention_class: str | None,
                         clock_mode: str, direction: str = ...,
                         decision_id: str | None = ...) -> None: ...

    async def event(self, call_id: str, kind: str, at: dt.datetime,
                    detail: dict[str, Any] | None = None) -> None: ...

    async def recording_started(self, call_id: str, file: str, at: dt.datetime,
                                retention_days: int) -> None: ...

    async def recording_stopped(self, call_id: str, at: dt.datetime, reason: str) -> None: ...

    async def recording_deleted(self, call_id: str, at: dt.datetime, reason: str,
                                result: str) -> bool: ...


class UnguardedCalls(Protocol):
    """Where the trunk watchdog writes the calls it caught (issue 17)."""

    async def record(self, call: UnguardedCall) -> None: ...


class DecisionLookups(Protocol):
    """What a FastAGI request is checked against (telephony/agi_binding.py)."""

    async def decision_channel(self, decision_id: str) -> DecisionChannel | None: ...

    async def recording_announced(self, decision_id: str) -> bool: ...
