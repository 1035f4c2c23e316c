"""The local spool: evidence that could not reach PostgreSQL waits here, on disk, in order.

One JSON object per line, fsynced before the call goes on. `flush()` moves the live file aside
(appends continue in a new one), writes its records in one transaction, and deletes it only after
the commit. A line that cannot be read (a crash mid-write) is kept in `rejected/`, never dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from astguard.errors import StoreUnavailable
from astguard.store.database import Database
from astguard.store.evidence import attach_outcome, insert_decision
from astguard.store.inbound import SPOOL_KIND as INBOUND, replay_inbound

log = logging.getLogger(__name__)

_LIVE = "evidence.jsonl"
_KINDS = ("decision", "outcome", INBOUND)


class Spool:
    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._lock = asyncio.Lock()

    def prepare(self) -> None:
        (self._dir / "rejected").mkdir(parents=True, exist_ok=True)

    def _append_sync(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        fd = os.open(self._dir / _LIVE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    async def append(self, kind: str, row: dict[str, Any]) -> None:
        async with self._lock:
            await asyncio.to_thread(self._append_sync, {"kind": kind, "row": row})

    def depth(self) -> int:
        """Records waiting (lines in every pending file)."""
        total = 0
        for path in self._pending_files():
            with path.open("rb") as fh:
                total += sum(1 for _ in fh)
        return total

    def _pending_files(self) -> list[Path]:
        if not self._dir.exists():
            return []
        batches = sorted(self._dir.glob("batch-*.jsonl"))
        live = self._dir / _LIVE
        return batches + ([live] if live.exists() else [])

    async def flush(self, db: Database) -> int:
        """Write what waits; return how many records went in. Raises StoreUnavailable."""
        async with self._lock:
            live = self._dir / _LIVE
            if live.exists():
                live.rename(self._dir / f"batch-{time.time_ns():020d}.jsonl")
        written = 0
        for batch in sorted(self._dir.glob("batch-*.jsonl")):
            records = self._read(batch)
            async with db.transaction() as conn:
                for record in records:
                    row = record["row"]
                    if record["kind"] == "decision":
                        await insert_decision(conn, {**row, "spooled": True})
                    elif record["kind"] == INBOUND:  # recording evidence (R-I2)
                        await replay_inbound(conn, row)
                    elif not await attach_outcome(conn, row):
                        log.warning("spooled outcome for %s matched no open decision",
                                    row.get("decision_id"))
            batch.unlink()
            written += len(records)
            log.info("spool: wrote %d records from %s", len(records), batch.name)
        return written

    def _read(self, batch: Path) -> list[dict[str, Any]]:
        good, bad = [], []
        with batch.open(encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                try:
                    record = json.loads(line)
                    if record.get("kind") not in _KINDS or "row" not in record:
                        raise ValueError("not a spool record")
                    good.append(record)
                except ValueError:
                    bad.append(f"{batch.name}:{number}: {line}")
        if bad:
            rejected = self._dir / "rejected" / f"{batch.stem}.txt"
            rejected.write_text("".join(bad), encoding="utf-8")
            log.error("spool: %d unreadable lines kept in %s", len(bad), rejected)
        return good

    async def run_flusher(self, db: Database, interval: float) -> None:
        """Forever: flush whenever the database answers."""
        while True:
            if self._pending_files():
                try:
                    await self.flush(db)
                except StoreUnavailable:
                    pass
                except Exception:
                    log.exception("spool flush failed; records stay on disk")
            await asyncio.sleep(interval)
