"""Update many rows with different values in one statement per chunk.

One UPDATE per row costs ~0.6 ms on SQLite and ~0.25 ms on PostgreSQL; usage sync changes
two rows per online device every cycle, so at 5,000 devices that is seconds of write lock.
`WITH v(...) AS (VALUES ...) UPDATE ... FROM v` does 500 rows at a time on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from piccolo.table import Table

__all__ = ["bulk_update"]

CHUNK = 500
_TYPES = {"bigint": "BIGINT", "float": "DOUBLE PRECISION", "text": "VARCHAR"}


async def bulk_update(
    table: type[Table],
    key: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
) -> int:
    """Set `columns` ((name, "bigint"|"float"|"text"), ...) from `rows` ((key, values...), ...).

    Returns the number of statements run. Names come from code, never from input.
    """
    tablename = table._meta.tablename
    names = ["k", *(f"c{i}" for i in range(len(columns)))]
    casts = ["BIGINT", *(_TYPES[kind] for _, kind in columns)]
    row_sql = "(" + ", ".join(f"CAST({{}} AS {cast})" for cast in casts) + ")"
    assignments = ", ".join(f"{name} = v.c{i}" for i, (name, _) in enumerate(columns))
    statements = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        sql = (
            f"WITH v({', '.join(names)}) AS (VALUES {', '.join(row_sql for _ in chunk)}) "  # noqa: S608
            f"UPDATE {tablename} SET {assignments} FROM v WHERE {tablename}.{key} = v.k"
        )
        await table.raw(sql, *(value for row in chunk for value in row)).run()
        statements += 1
    return statements
