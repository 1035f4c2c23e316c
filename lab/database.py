"""A fresh, migrated PostgreSQL database for the tests, the demo and the benchmarks."""

from __future__ import annotations

import os

import asyncpg

from astguard.store import schema


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
