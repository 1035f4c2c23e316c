"""Recording files on disk: removal confined to the recordings folder, and the retention purge
(R-I4). The file goes first and its evidence after: a recording marked deleted is gone from
disk, and one whose file could not be removed stays due and is tried again."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from astguard.store.inbound import FILE_GONE, InboundStore

log = logging.getLogger(__name__)

OUTSIDE = "refusé : hors du dossier des enregistrements"
PURGE_REASON = "durée de conservation échue"


def remove_recording(file: str | Path, folder: Path) -> str:
    """Remove one recording; say what happened. Only a regular file (not a symlink) directly
    in `folder` is removed: a path from the database that names anything else (`../`, another
    folder, a link) is refused, whatever wrote it there."""
    path = Path(file)
    if not path.is_absolute() or ".." in path.parts:
        return OUTSIDE
    if path.parent.resolve() != folder.resolve():  # follows links in the folders named
        return OUTSIDE
    try:
        if path.is_symlink():
            return OUTSIDE
        os.unlink(path)
        return "deleted"
    except FileNotFoundError:
        return "already absent"
    except OSError as exc:
        log.error("recording %s could not be deleted: %s", path, exc)
        return f"error: {exc.strerror}"


async def purge_expired(store: InboundStore, now: dt.datetime,
                        folder: Path) -> list[dict[str, str]]:
    """Delete recordings past their retention (R-I4), each file before its evidence. A file
    that cannot be removed is logged and stays due; a second run finds nothing more to do.
    Raises StoreUnavailable if PostgreSQL goes away (the next run picks up where it stopped:
    a file already removed is found absent and then marked)."""
    done = []
    for call_id, file in await store.due_for_purge(now):
        result = remove_recording(file, folder)
        if await store.recording_deleted(call_id, now, PURGE_REASON, result):
            log.info("purge: %s %s (%s)", call_id, file, result)
            done.append({"call_id": call_id, "file": file, "result": result})
        else:
            log.error("purge: %s %s kept: %s", call_id, file, result)
    return done


__all__ = ["FILE_GONE", "OUTSIDE", "PURGE_REASON", "purge_expired", "remove_recording"]
