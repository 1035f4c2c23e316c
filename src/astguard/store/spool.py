"""The local spool: evidence that could not reach PostgreSQL waits here, on disk, in order.

One JSON object per line, fsynced before the call goes on. `flush()` moves the live file aside
(appends continue in a new one) and writes each batch in one transaction, one savepoint per
record, deleting the batch only after the commit. Nothing is dropped silently:

- a line that cannot be read (a crash mid-write), a record from another release that lacks a
  fact, a record that contradicts what is stored: kept in `rejected/` with the reason, logged,
  counted; the other records are written;
- a write that fails half-way (a full disk, a short write) is cut back to the last full line,
  and the caller is told (the gate then refuses calls: nothing could keep their evidence);
- two processes (the service and `astguard spool flush`) never replay the same batch: the
  flush holds an exclusive lock on `.flush.lock`; appends and the rotation share `.append.lock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg

from astguard.errors import StoreUnavailable
from astguard.store.database import Database, is_unavailable
from astguard.store.replay import BUILT_IN, RecordRejected, Replayer

log = logging.getLogger(__name__)

_LIVE = "evidence.jsonl"
# What a record that cannot be written raises: it is kept aside, the others go on.
_RECORD_ERRORS = (RecordRejected, asyncpg.PostgresError, ValueError, TypeError, KeyError)
_APPEND_LOCK = ".append.lock"
_FLUSH_LOCK = ".flush.lock"


class Spool:
    def __init__(self, directory: Path, replayers: Mapping[str, Replayer] | None = None) -> None:
        self._dir = directory
        self._lock = asyncio.Lock()
        self._replayers: dict[str, Replayer] = {**BUILT_IN, **(replayers or {})}
        self.last_depth = 0  # refreshed off the event loop by the flusher (a gauge reads it)
        self.write_failures = 0  # appends that failed (full disk…): calls were refused
        self.kept_aside = 0  # records moved to rejected/ by this process

    def register(self, kind: str, replayer: Replayer) -> None:
        """Another kind of record (the agents' codes) and how to write it."""
        self._replayers[kind] = replayer

    def prepare(self) -> None:
        (self._dir / "rejected").mkdir(parents=True, exist_ok=True)

    # -- appending -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _file_lock(self, name: str, *, blocking: bool = True) -> Iterator[bool]:
        self._dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._dir / name, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # releases the lock

    def _append_sync(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._file_lock(_APPEND_LOCK):
            fd = os.open(self._dir / _LIVE, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a line cut by a crash stays alone, kept aside later
                try:
                    view = memoryview(data)
                    while view:  # os.write may write less than asked (a nearly full disk)
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                except OSError:
                    # Leave the file as it was: every line already there stays readable.
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, size)
                        os.fsync(fd)
                    raise
            finally:
                os.close(fd)

    async def append(self, kind: str, row: dict[str, Any]) -> None:
        """Keep one record, on disk, before returning. Raises OSError (full disk…)."""
        async with self._lock:
            try:
                await asyncio.to_thread(self._append_sync, {"kind": kind, "row": row})
            except OSError:
                self.write_failures += 1
                raise
        self.last_depth += 1

    # -- depth -----------------------------------------------------------------------------------
    def depth(self) -> int:
        """Records waiting (lines in every pending file). Reads the disk: not on the loop."""
        total = 0
        for path in self._pending_files():
            with contextlib.suppress(FileNotFoundError), path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        return total

    def _holds_sync(self, key: str, value: str, kind: str | None = None) -> bool:
        needle = value.encode()
        for path in self._pending_files():
            with contextlib.suppress(FileNotFoundError), path.open("rb") as fh:
                for line in fh:
                    if needle not in line:
                        continue
                    with contextlib.suppress(ValueError, AttributeError):
                        record = json.loads(line)
                        if (kind is None or record.get("kind") == kind) \
                                and (record.get("row") or {}).get(key) == value:
                            return True
        return False

    async def holds(self, record_id: str) -> bool:
        """Whether a record with this id (a decision) still waits in the spool (off the loop)."""
        return await asyncio.to_thread(self._holds_sync, "id", record_id)

    async def holds_outcome(self, decision_id: str) -> bool:
        """Whether an outcome of this decision still waits in the spool (off the loop)."""
        return await asyncio.to_thread(self._holds_sync, "decision_id", decision_id, "outcome")

    async def refresh_depth(self) -> int:
        self.last_depth = await asyncio.to_thread(self.depth)
        return self.last_depth

    def _pending_files(self) -> list[Path]:
        if not self._dir.exists():
            return []
        batches = sorted(self._dir.glob("batch-*.jsonl"))
        live = self._dir / _LIVE
        return batches + ([live] if live.exists() else [])

    # -- flushing --------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _flushing(self) -> AsyncIterator[None]:
        """The exclusive right to replay, across processes; waits without blocking the loop."""
        while True:
            with self._file_lock(_FLUSH_LOCK, blocking=False) as held:
                if held:
                    yield
                    return
            await asyncio.sleep(0.05)

    def _rotate_sync(self) -> None:
        with self._file_lock(_APPEND_LOCK):
            live = self._dir / _LIVE
            if live.exists() and live.stat().st_size:
                live.rename(self._dir / f"batch-{time.time_ns():020d}.jsonl")

    async def flush(self, db: Database) -> int:
        """Write what waits; return how many records are now in PostgreSQL (written, or found
        already written). Records that cannot be written are kept aside. Raises
        StoreUnavailable (the batch stays on disk, untouched)."""
        if not self._dir.exists():
            return 0
        async with self._flushing():
            async with self._lock:
                await asyncio.to_thread(self._rotate_sync)
            done = 0
            for batch in await asyncio.to_thread(lambda: sorted(self._dir.glob("batch-*.jsonl"))):
                done += await self._flush_batch(db, batch)
        await self.refresh_depth()
        return done

    async def _flush_batch(self, db: Database, batch: Path) -> int:
        records, kept = await asyncio.to_thread(self._read, batch)
        written = already = 0
        async with db.transaction() as conn:
            for where, record, line in records:
                try:
                    async with conn.transaction():  # a savepoint: one bad record spoils nothing
                        if await self._replay(conn, record):
                            written += 1
                        else:
                            already += 1
                except Exception as exc:
                    if is_unavailable(exc) or not isinstance(exc, _RECORD_ERRORS):
                        raise  # the store is away, or a bug of ours: the batch stays as it is
                    kept.append((where, _reason(exc), line))
        if kept:
            # Before the batch goes: if this fails the batch stays and is replayed (each
            # record is written once: the replay finds it already there).
            await asyncio.to_thread(self._keep_aside, batch, kept)
        await asyncio.to_thread(batch.unlink)
        log.info("spool: %s: %d written, %d already there, %d kept aside", batch.name,
                 written, already, len(kept))
        return written + already

    async def _replay(self, conn: Any, record: dict[str, Any]) -> bool:
        replayer = self._replayers.get(record["kind"])
        if replayer is None:
            raise RecordRejected(f"type d'enregistrement inconnu : {record['kind']!r}")
        return await replayer(conn, record["row"])

    def _read(self, batch: Path) -> tuple[list[tuple[str, dict[str, Any], str]],
                                          list[tuple[str, str, str]]]:
        good: list[tuple[str, dict[str, Any], str]] = []
        bad: list[tuple[str, str, str]] = []
        with batch.open(encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                where = f"{batch.name}:{number}"
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    bad.append((where, "ligne illisible (écriture interrompue ?)", line))
                    continue
                if not isinstance(record, dict) or not isinstance(record.get("kind"), str) \
                        or not isinstance(record.get("row"), dict):
                    bad.append((where, "pas un enregistrement du journal local", line))
                    continue
                good.append((where, record, line))
        return good, bad

    def _keep_aside(self, batch: Path, kept: list[tuple[str, str, str]]) -> None:
        """rejected/<batch>.jsonl: one JSON object per record kept, with its reason and the
        original line (to put back in evidence.jsonl once corrected)."""
        folder = self._dir / "rejected"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{batch.stem}.jsonl"
        text = "".join(json.dumps({"from": where, "reason": reason, "line": line},
                                  ensure_ascii=False) + "\n" for where, reason, line in kept)
        with target.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        self.kept_aside += len(kept)
        for where, reason, _line in kept:
            log.error("spool: %s kept aside in %s: %s", where, target, reason)

    async def run_flusher(self, db: Database, interval: float) -> None:
        """Forever: flush whenever the database answers; the depth is read off the loop."""
        while True:
            try:
                if await self.refresh_depth():
                    await self.flush(db)
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("spool flush failed; records stay on disk")
            await asyncio.sleep(interval)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecordRejected):
        return str(exc)
    return f"refusé par PostgreSQL ou illisible ({type(exc).__name__} : {exc})"
