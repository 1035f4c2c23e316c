"""Schema migrations: numbered SQL files applied in order by `astguard db migrate`.

Each migration runs in its own transaction under an advisory lock, so two nodes migrating at once
apply it once. Start-up checks that the database is exactly at the version the code knows.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from astguard.errors import ConfigError, SchemaError, StoreUnavailable

_LOCK_KEY = 0x61737467  # "astg"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def known_migrations() -> list[Migration]:
    folder = resources.files("astguard.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


async def _ensure_table(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    integer PRIMARY KEY,
               name       text NOT NULL,
               checksum   text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


async def applied(conn: asyncpg.Connection) -> dict[int, str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


async def migrate(conn: asyncpg.Connection) -> list[Migration]:
    """Apply what is pending; return what was applied."""
    done: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await _ensure_table(conn)
        have = await applied(conn)
        _check_checksums(have)
        for migration in known_migrations():
            if migration.version in have:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version, migration.name, migration.checksum,
                )
            done.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return done


def _check_checksums(have: dict[int, str]) -> None:
    known = {m.version: m for m in known_migrations()}
    for version, checksum in sorted(have.items()):
        if version not in known:
            raise SchemaError(f"la base a la migration {version:04d}, inconnue de cette version "
                              "d'astguard (retour à une version antérieure ?)")
        if known[version].checksum != checksum:
            raise SchemaError(f"la migration {version:04d} a été modifiée après avoir été "
                              "appliquée")


async def check(conn: asyncpg.Connection) -> None:
    """Raise SchemaError unless every known migration is applied, unchanged."""
    have = await applied(conn)
    _check_checksums(have)
    pending = [m for m in known_migrations() if m.version not in have]
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        raise SchemaError(f"schéma de la base en retard : en attente {names} ; lancer "
                          "`astguard db migrate`")


async def privilege_problem(conn: asyncpg.Connection) -> str | None:
    """Why the role the service runs as is not least-privileged (migration 0008), or None:
    a superuser or the tables' owner can alter tables and switch the evidence triggers off."""
    row = await conn.fetchrow(
        """SELECT current_user AS role, r.rolsuper,
                  pg_has_role(current_user, t.tableowner, 'MEMBER') AS owner
           FROM pg_roles r, pg_tables t
           WHERE r.rolname = current_user AND t.tablename = 'decisions'
             AND t.schemaname = current_schema()""")
    if row is None:
        return None
    if row["rolsuper"] or row["owner"]:
        what = "superutilisateur" if row["rolsuper"] else "propriétaire des tables"
        return (f"le rôle PostgreSQL {row['role']!r} est {what} : il peut modifier le schéma et "
                "désactiver les déclencheurs de la preuve ; faire tourner le service sous un "
                "rôle membre de astguard_service (docs/operations.md)")
    return None


async def migrate_as_owner(url: str, shown: str) -> list[Migration]:
    """Apply pending migrations on a connection of its own, as the role of `url` (the tables'
    owner, migration 0008); `shown` is the URL as messages may print it (secret masked)."""
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        raise StoreUnavailable(f"{shown} : {exc}") from None
    try:
        return await migrate(conn)
    except asyncpg.InsufficientPrivilegeError as exc:
        role = await conn.fetchval("SELECT current_user")
        raise ConfigError(f"le rôle {role!r} ne peut pas modifier le schéma ({exc}) : migrer "
                          "avec le rôle propriétaire (ASTGUARD_MIGRATE_DATABASE_URL ou --url)"
                          ) from None
    finally:
        await conn.close()
