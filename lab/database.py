"""A fresh, migrated PostgreSQL database for the tests, the demo and the benchmarks."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from astguard.store import schema


# The service's login role, in the astguard_service group (scripts/setup, migration 0008): the
# demo and the end-to-end tests run `astguard serve` under it, the owner only migrates.
SERVICE_ROLE = os.environ.get("ASTGUARD_TEST_SERVICE_ROLE", "astguard_app:astguard-app")


def as_service(url: str) -> str:
    """The same database, reached as the service's least-privileged role."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{SERVICE_ROLE}@{parts.hostname}{port}"))


def scoped(name: str) -> str:
    """`name` with ASTGUARD_TEST_DB_SUFFIX appended, so that two checkouts can run their
    database tests side by side on one server without dropping each other's databases."""
    return name + os.environ.get("ASTGUARD_TEST_DB_SUFFIX", "")


async def fresh_database(server_url: str, name: str, *, migrate: bool = True) -> str:
    """Drop and create database `name` (scoped) on `server_url` (no database part); return
    its URL."""
    name = scoped(name)
    admin = await asyncpg.connect(f"{server_url}/postgres", timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{server_url}/{name}"
    if migrate:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            await schema.migrate(conn)
        finally:
            await conn.close()
    return url
