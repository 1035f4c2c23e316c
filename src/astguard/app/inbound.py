"""Recording policies of inbound numbers, a recorded call's evidence, and the retention purge
(R-I): what the administrator and the compliance officer do about recordings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from astguard.app.recording_files import purge_expired
from astguard.clock import Clock
from astguard.store.inbound import CNIL_QUALITY_DAYS, MODES, InboundStore

__all__ = ["MODES", "InboundRecordings"]


class InboundRecordings:
    def __init__(self, store: InboundStore, clock: Clock, folder: Path) -> None:
        self._store = store
        self._clock = clock
        self._folder = folder  # astguard's view of the recordings folder

    async def set_policy(self, did: str, mode: str, *, sample_percent: int = 100,
                         prompt: str = "annonce-enregistrement", objection_key: str = "1",
                         retention_days: int = CNIL_QUALITY_DAYS,
                         legal_basis: str | None = None) -> None:
        await self._store.set_policy(did, mode, sample_percent=sample_percent, prompt=prompt,
                                     objection_key=objection_key,
                                     retention_days=retention_days, legal_basis=legal_basis)

    async def call_evidence(self, call_id: str) -> dict[str, Any]:
        return await self._store.call_evidence(call_id)

    async def purge(self, now: dt.datetime | None = None) -> list[dict[str, str]]:
        """Delete the recordings past their retention (R-I4), each file before its evidence."""
        return await purge_expired(self._store, now or self._clock.now(), self._folder)
