"""Bulk writes: COPY of already validated values into a (temporary) table."""

from __future__ import annotations

import asyncpg


async def copy_text(conn: asyncpg.Connection, table: str, text: str) -> None:
    """COPY rows given in PostgreSQL's text format (one row a line, columns separated by tabs).
    The caller has validated every value: E.164 numbers, identifiers, ISO instants, none of
    which holds a tab, a newline or a backslash."""
    data = text.encode()

    async def source():
        yield data

    await conn.copy_to_table(table, source=source(), format="text")
