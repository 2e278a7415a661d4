"""The inventory: one SQLite file through sqlite-utils, migrated on PRAGMA user_version.

Reads go straight to the sqlite3 connection; `Store.db` (the sqlite-utils `Database`, whose
import costs ~90 ms) is built on first use — the first write or migration — so opening an
up-to-date inventory and listing it (the dashboard's first frame, `lecs instance list`) never
imports it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend import schema_images, schema_metrics, schema_network, schema_storage

if TYPE_CHECKING:
    import sqlite_utils


def _v1(db: sqlite_utils.Database) -> None:
    db.table("instance_types").create(
        {"name": str, "vcpus": int, "memory_mib": int, "description": str}, pk="name"
    )
    db.table("images").create(
        {
            "id": str, "name": str, "format": str, "size_bytes": int, "os": str, "source": str,
            "checksum": str, "state": str, "created_at": float, "path": str, "kernel": str,
            "initrd": str, "cmdline": str,
        },
        pk="id",
    )
    db.table("images").create_index(["name"], unique=True)
    db.table("instances").create(
        {
            "id": str, "name": str, "type": str, "image_id": str, "state": str,
            "created_at": float, "started_at": float, "pid": int, "accel": str,
            "last_error": str,
        },
        pk="id",
        foreign_keys=[("type", "instance_types", "name"), ("image_id", "images", "id")],
        not_null={"name", "type", "image_id", "state"},
    )
    db.table("instances").create_index(["name"], unique=True)
    db.table("disks").create(
        {
            "id": str, "name": str, "size_gib": int, "format": str, "role": str, "state": str,
            "path": str, "instance_id": str, "delete_with_instance": int, "encrypted": int,
            "created_at": float, "backing_image_id": str, "position": int,
        },
        pk="id",
        foreign_keys=[("instance_id", "instances", "id"), ("backing_image_id", "images", "id")],
    )
    db.table("disks").create_index(["name"], unique=True)
    db.table("forwards").create(
        {"instance_id": str, "protocol": str, "host_addr": str, "host_port": int,
         "guest_port": int},
        pk=("instance_id", "protocol", "guest_port"),
        foreign_keys=[("instance_id", "instances", "id")],
    )
    db.table("tags").create(
        {"resource_id": str, "key": str, "value": str}, pk=("resource_id", "key")
    )
    db.table("events").create(
        {
            "id": int, "time": float, "user": str, "action": str, "resource": str,
            "parameters": str, "result": str, "error": str, "duration_ms": float,
        },
        pk="id",
    )
    db.table("events").create_index(["resource"])
    db.table("events").create_index(["time"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1]
MIGRATIONS.append(schema_metrics.migrate)  # monitoring: metric history, alarms
MIGRATIONS.append(schema_network.migrate)  # security groups, key pairs, networks
MIGRATIONS.append(schema_storage.migrate)  # snapshots, backups
MIGRATIONS.append(schema_images.migrate)  # image_disks: full-instance images


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
        if self.version < len(MIGRATIONS):
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
            current = self.version
            for number, step in enumerate(MIGRATIONS, start=1):
                if number > current:
                    step(self.db)
                    self.db.execute(f"PRAGMA user_version = {number}")

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
