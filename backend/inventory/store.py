"""The inventory: one SQLite file through sqlite-utils, migrated on PRAGMA user_version.

Reads go straight to the sqlite3 connection; `Store.db` (the sqlite-utils `Database`, whose
import costs ~90 ms) is built on first use — the first write or migration — so opening an
up-to-date inventory and listing it (the dashboard's first frame, `lecs instance list`) never
imports it, nor the schema modules (backend/inventory/migrations.py names them and imports
only the steps it runs).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.inventory.migrations import LATEST, migrate

if TYPE_CHECKING:
    import sqlite_utils


class Store:
    """Owns the SQLite connection. Multi-row changes go through `transaction()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        new = not path.exists()
        if new:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        self.conn = conn = sqlite3.connect(path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")
        if not new:
            os.chmod(path, 0o600)
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = wal")
        if self.version < LATEST:
            self._migrate()
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists():
                os.chmod(side, 0o600)

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the same connection (imported on first use)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self.transaction():
            migrate(self.db, self.version)

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        conn = self.conn
        if conn.in_transaction:
            yield self.db
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def row(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def close(self) -> None:
        self.conn.close()
