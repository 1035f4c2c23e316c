"""Keeping astguard itself in order: the schema (migrations, the check every command makes
first), the service role's privileges (migration 0008), and the local evidence spool."""

from __future__ import annotations

import logging
from pathlib import Path

from astguard.errors import StoreUnavailable
from astguard.store import schema
from astguard.store.database import Database
from astguard.store.spool import Spool

log = logging.getLogger(__name__)


class Operations:
    def __init__(self, db: Database, spool: Spool, spool_dir: Path) -> None:
        self._db = db
        self._spool = spool
        self.spool_dir = spool_dir

    async def check_schema(self) -> None:
        """Raise SchemaError unless the schema is exactly the one the code knows."""
        async with self._db.connection() as conn:
            await schema.check(conn)

    async def check_schema_if_reachable(self) -> bool:
        """Raise SchemaError on a reachable database at the wrong version; False if
        unreachable (a command then fails on its own, a call is refused GUARD_UNAVAILABLE)."""
        try:
            await self.check_schema()
        except StoreUnavailable:
            return False
        return True

    async def warn_if_privileged(self) -> None:
        """`astguard serve` under the tables' owner or a superuser works, but could alter the
        evidence's guards: say so at start-up (least privilege, migration 0008)."""
        try:
            async with self._db.connection() as conn:
                problem = await schema.privilege_problem(conn)
        except StoreUnavailable:
            return
        if problem:
            log.warning("least privilege: %s", problem)

    # -- the spool -----------------------------------------------------------------------------
    def spool_depth(self) -> int:
        return self._spool.depth()

    @property
    def spool_kept_aside(self) -> int:
        return self._spool.kept_aside

    async def flush_spool(self) -> int:
        """Write what the spool holds; the number of records written."""
        return await self._spool.flush(self._db)


async def migrate(url: str, shown: str) -> list[str]:
    """Apply pending migrations as the tables' owner (`url`); the names of those applied."""
    done = await schema.migrate_as_owner(url, shown)
    return [f"{m.version:04d}_{m.name}" for m in done]
