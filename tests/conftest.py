"""Shared fixtures: a real PostgreSQL database, migrated, for the store and end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from astguard.clock import PinnedClock
from astguard.settings import Settings
from astguard.store.database import Database
from lab.database import as_service, fresh_database, scoped

PG_SERVER = os.environ.get("ASTGUARD_TEST_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
TEST_DB = "astguard_test"
UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/nowhere"
OPEN_CLOCK = PinnedClock(dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC))  # Friday 11:00 Paris


ROLES = ("owner", "service")  # the tests that run under both (migration 0008)


@contextlib.asynccontextmanager
async def role_database(url: str, role: str) -> AsyncIterator[Database]:
    """A Database on `url` as the owner (the tests' default) or as the service role."""
    database = Database(url if role == "owner" else as_service(url), timeout=5.0)
    try:
        yield database
    finally:
        await database.close()


def db_url(name: str) -> str:
    return f"{PG_SERVER}/{scoped(name)}"


async def recreate_database(name: str, migrate: bool = True) -> None:
    await fresh_database(PG_SERVER, name, migrate=migrate)


@pytest.fixture(scope="session")
def database_url() -> str:
    """A fresh, migrated database for the whole run (tests use their own names inside it)."""
    try:
        asyncio.run(recreate_database(TEST_DB))
    except OSError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER} ({exc}); start it "
                    "(.ci/run does) or set ASTGUARD_TEST_PG")
    return db_url(TEST_DB)


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, timeout=5.0)
    yield database
    await database.close()


@pytest.fixture
def spool_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "spool"
    path.mkdir()
    yield path


async def give_consent(db: Database, principal: str, e164: str, *, scopes=("energie",),
                       collected: str = "2026-01-01T00:00:00+00:00",
                       until: str = "2099-01-01T00:00:00+00:00") -> None:
    """A valid consent straight in the table (the consent registry has its own tests)."""
    async with db.connection() as conn:
        await conn.execute(
            """INSERT INTO consents (principal, number_e164, scopes, collected_at, channel,
                                     wording, proof_ref, valid_until)
               VALUES ($1, $2, $3, $4, 'web', 'v1', $5, $6) ON CONFLICT DO NOTHING""",
            principal, e164, list(scopes), dt.datetime.fromisoformat(collected),
            f"proof-{principal}-{e164}", dt.datetime.fromisoformat(until))


async def hold_number(db: Database, principal: str, number: str = "+33162123456") -> None:
    """The principal holds this number (caller-ID inventory, R-F2)."""
    async with db.connection() as conn:
        await conn.execute(
            """INSERT INTO caller_ids (number, principal, kind, mandate_ref, valid_from)
               VALUES ($1, $2, 'npv', 'mandate-test', '2020-01-01') ON CONFLICT DO NOTHING""",
            number, principal)


def service_settings(url: str, spool_dir: Path, *, read: str | None = None,
                     write: str | None = None, **extra: str) -> Settings:
    """The service's settings, read the way `astguard serve` reads them, for in-process apps."""
    env = {"ASTGUARD_DATABASE_URL": url, "ASTGUARD_SPOOL_DIR": str(spool_dir),
           "ASTGUARD_LAB": "1", **extra}
    if read:
        env["ASTGUARD_API_READ_TOKENS"] = read
    if write:
        env["ASTGUARD_API_WRITE_TOKENS"] = write
    return Settings.from_env(env)
