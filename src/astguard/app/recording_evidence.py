"""Recording evidence written while a call is under way: never lost, never in the call's way.

A call that is already announced or recorded cannot wait for PostgreSQL: each write here tries
the store and, if it is away, goes to the local spool (kind "inbound") to be written when it
answers. What the caller or agent asked for (an objection, R-I2) has already been carried out
by then; the evidence follows.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from astguard.errors import StoreUnavailable
from astguard.store.inbound import SPOOL_KIND, InboundStore, replay_inbound, spool_row
from astguard.store.spool import Spool

log = logging.getLogger(__name__)


class RecordingEvidence:
    def __init__(self, store: InboundStore, spool: Spool | None) -> None:
        self.store = store
        self._spool = spool
        if spool is not None:  # the spool can then write back what it keeps for us
            spool.register(SPOOL_KIND, replay_inbound)

    async def event(self, call_id: str, kind: str, at: dt.datetime,
                    detail: dict[str, Any] | None = None) -> None:
        try:
            await self.store.event(call_id, kind, at, detail)
        except StoreUnavailable:
            await self._to_spool(spool_row("event", call_id, at, kind=kind,
                                           detail=detail or {}))

    async def recording_stopped(self, call_id: str, at: dt.datetime, reason: str) -> None:
        try:
            await self.store.recording_stopped(call_id, at, reason)
        except StoreUnavailable:
            await self._to_spool(spool_row("recording_stopped", call_id, at, reason=reason))

    async def recording_deleted(self, call_id: str, at: dt.datetime, reason: str,
                                result: str) -> None:
        try:
            await self.store.recording_deleted(call_id, at, reason, result)
        except StoreUnavailable:
            await self._to_spool(spool_row("recording_deleted", call_id, at, reason=reason,
                                           result=result))

    async def _to_spool(self, row: dict[str, Any]) -> None:
        if self._spool is None:
            log.critical("no spool configured: recording evidence lost: %s", row)
            return
        try:
            await self._spool.append(SPOOL_KIND, row)
        except OSError:
            log.critical("spool write failed: recording evidence lost: %s", row, exc_info=True)
