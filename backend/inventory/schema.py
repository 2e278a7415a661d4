"""Inventory tables of schema step 1: tags (of any resource) and the audit trail's events.

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
