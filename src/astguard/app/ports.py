"""What the telephony adapters need from the evidence store, as protocols: the adapters are
typed against these and never import astguard.store; the composition root (controller.py)
hands them the store objects that implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from astguard.values import DecisionChannel, UnguardedCall


class Journal(Protocol):
    """The local spool (fsynced JSON lines) that keeps evidence while PostgreSQL is away."""

    def register(self, kind: str, replayer: Callable[[Any, dict[str, Any]],
                                                      Awaitable[bool]]) -> None: ...

    async def append(self, kind: str, row: dict[str, Any]) -> None: ...

    async def holds(self, record_id: str) -> bool: ...


class UnguardedCalls(Protocol):
    """Where the trunk watchdog writes the calls it caught (issue 17)."""

    async def record(self, call: UnguardedCall) -> None: ...


class DecisionLookups(Protocol):
    """What a FastAGI request is checked against (telephony/agi_binding.py)."""

    async def decision_channel(self, decision_id: str) -> DecisionChannel | None: ...

    async def recording_announced(self, decision_id: str) -> bool: ...
