"""The imports the CLI offers (consents, oppositions, attempts, caller IDs, Bloctel), each all
or nothing, on the pool the composition root gives (app/imports.py, app/bloctel.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from astguard.app.bloctel import import_bloctel
from astguard.app.imports import KINDS, ImportReport, import_file
from astguard.store.database import Database

__all__ = ["KINDS", "ImportReport", "Importer"]


class Importer:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def file(self, kind: str, path: Path, *, progress: bool = True) -> ImportReport:
        return await import_file(self._db, kind, path, progress=progress)

    async def bloctel(self, principal: str, submitted: Path, returned: Path,
                      scrubbed_on: dt.date, *, progress: bool = True) -> ImportReport:
        return await import_bloctel(self._db, principal, submitted, returned, scrubbed_on,
                                    progress=progress)
