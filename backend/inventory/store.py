"""The inventory: one SQLite file through sqlite-utils, migrated on PRAGMA user_version.

Reads go straight to the sqlite3 connection; `Store.db` (the sqlite-utils `Database`, whose
import costs ~90 ms) is built on first use — the first write or migration — so opening an
up-to-date inventory and listing it (the dashboard's first frame, `lecs instance list`) never
imports it, nor the schema modules (backend/inventory/migrations.py names them and imports
only the steps it runs).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.inventory.errors import ConflictError, LecsError
from backend.inventory.migrations import LATEST, migrate

if TYPE_CHECKING:
    import sqlite_utils

# How long a writer waits for another process's write transaction. Transactions are short
# (no await inside one), so only a machine under heavy load makes a writer wait long.
BUSY_S = 30


class Store:
    """Owns the SQLite connection. Multi-row changes go through `transaction()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # A read-only inventory (a read-only mount, a file the user may only read) can still
        # be listed: opened read-only, every write is refused with one line.
        self.read_only = path.exists() and not (
            os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
        if not self.read_only:
            keep_reserve(path.parent)
        try:
            self._open(path)
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "full" in text or _free_bytes(path.parent) < (1 << 20):
                raise LecsError(f"cannot open the inventory {path}: no space left on its disk"
                                " (free some and retry)") from None
            raise LecsError(f"cannot open the inventory {path}: {text}") from None

    def _open_read_only(self, path: Path) -> None:
        """mode=ro; `immutable` where SQLite cannot even make WAL's shared-memory file (a
        read-only mount: nobody can change the file there while we read it)."""
        uri = path.resolve().as_uri()
        self.conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        try:
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            self.conn.close()
            self.conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
        if self.version < LATEST:
            raise LecsError(f"the inventory {path} is read-only here and from an older lecs:"
                            " it needs write access once to be upgraded")

    def _open(self, path: Path) -> None:
        if self.read_only:
            self._open_read_only(path)
            return
        new = not path.exists()
        if new:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        self.conn = conn = sqlite3.connect(path, timeout=BUSY_S, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_S * 1000}")
        if not new:
            os.chmod(path, 0o600)
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = wal")
        # WAL with synchronous=NORMAL: a commit survives any crash of a process (what the
        # journal guards against); only a power cut may lose the last few. One fsync per
        # checkpoint instead of per commit keeps the journal's extra commits cheap.
        conn.execute("PRAGMA synchronous = NORMAL")
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
        if self.read_only:
            raise LecsError("the inventory is read-only here: changes need write access to it")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise (_busy(exc, conn) or exc) from None
        try:
            yield self.db
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise _conflict(exc) from None
            mapped = _busy(exc, conn) if isinstance(exc, sqlite3.OperationalError) else None
            if mapped is not None:
                raise mapped from None
            raise

    def rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def row(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def close(self) -> None:
        self.conn.close()


# A full disk must not stop the operator from stopping or deleting instances to free space:
# LECS_HOME keeps a small reserve file, given up when free space runs low so that the
# inventory's few writes (a state, an audit event, the journal) still fit.
RESERVE = ".reserve"
RESERVE_BYTES = 4 << 20
LOW_BYTES = 16 << 20


def _free_bytes(home: Path) -> int:
    try:
        vfs = os.statvfs(home)
    except OSError:
        return 1 << 62
    return vfs.f_bavail * vfs.f_frsize


def keep_reserve(home: Path) -> None:
    reserve = home / RESERVE
    free = _free_bytes(home)
    if free < LOW_BYTES:
        with contextlib.suppress(OSError):
            reserve.unlink(missing_ok=True)
    elif free > 2 * LOW_BYTES and not reserve.exists():
        try:
            fd = os.open(reserve, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        except OSError:
            return
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except OSError:
            os.close(fd)
            reserve.unlink(missing_ok=True)
            return
        os.close(fd)


# What a row of each table is called in an error ("an instance with that name exists already").
NOUNS = {
    "instances": "an instance", "images": "an image", "disks": "a disk",
    "snapshots": "a snapshot", "backups": "a backup", "security_groups": "a security group",
    "sg_rules": "a rule", "keypairs": "a key pair", "alarms": "an alarm",
    "networks": "a network", "instance_types": "an instance type",
}


def _conflict(exc: sqlite3.IntegrityError) -> LecsError:
    """A unique constraint lost to another process: the same error a check would give."""
    text = str(exc)
    if text.startswith("UNIQUE constraint failed: "):
        first = text.removeprefix("UNIQUE constraint failed: ").split(",")[0].strip()
        table, _, column = first.partition(".")
        noun = NOUNS.get(table, "a row")
        what = "name" if column == "name" else column.replace("_", " ")
        return ConflictError(f"{noun} with that {what} exists already")
    return ConflictError(f"the inventory refused the change ({text})")


def _busy(exc: sqlite3.OperationalError, conn: sqlite3.Connection) -> LecsError | None:
    """The one-line error for a write the inventory could not take, or None for a bug."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return LecsError("the inventory is busy: other lecs processes kept it locked for"
                         f" {BUSY_S} s{_holders(conn)}; try again")
    if "readonly" in text or "read-only" in text:
        return LecsError("the inventory is read-only here: changes need write access to it")
    if "disk is full" in text or "disk I/O error" in text:
        return LecsError("no space left for the inventory: free some disk space and retry")
    return None


def _holders(conn: sqlite3.Connection) -> str:
    """The operations in progress (a reader sees them while a writer holds the lock)."""
    try:
        rows = conn.execute("SELECT action, resource, owner_pid FROM operations"
                            " ORDER BY started_at LIMIT 3").fetchall()
    except sqlite3.Error:
        return ""
    if not rows:
        return ""
    return " (busy with " + ", ".join(f"{a} {r} in pid {p}" for a, r, p in rows) + ")"
