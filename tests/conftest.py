"""Shared fixtures: a real PostgreSQL database, migrated, for the store and end-to-end tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from astguard.store.database import Database
from lab.database import fresh_database

PG_SERVER = os.environ.get("ASTGUARD_TEST_PG", "postgresql://astguard:astguard@127.0.0.1:5432")
TEST_DB = "astguard_test"
UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/nowhere"


def db_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


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
