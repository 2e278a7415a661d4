"""Inventory tables: tags (of any resource) and the audit trail's events (schema step 1), the
operation journal (step 6, backend/inventory/journal.py).

Step 1 is one transaction over four modules (backend/inventory/migrations.py): these, then
images, compute (instance types, instances, forwards) and storage (disks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def step1(db: sqlite_utils.Database) -> None:
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


def step6(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE operations (
        id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        owner_pid INTEGER NOT NULL,
        owner_start INTEGER NOT NULL,
        started_at REAL NOT NULL
    )""")
    db.execute("""CREATE TABLE effects (
        op_id TEXT NOT NULL REFERENCES operations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (op_id, seq)
    )""")
