"""Access keys (schema step 9): one row per key; the secret is a 0600 file, never a column."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def step9(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE access_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        created REAL NOT NULL
    )""")
