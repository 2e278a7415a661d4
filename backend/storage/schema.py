"""Storage tables: `disks` (schema step 1), then snapshots and backups (step 4).

Written as SQL so that a snapshot row goes with its disk (ON DELETE CASCADE: deleting a
disk or an instance with delete_with_instance disks needs no extra step), and a backup's
disk rows go with the backup. Backups outlive their instance, so they keep its id and name
without a foreign key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


STATEMENTS = (
    """CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        disk_id TEXT NOT NULL REFERENCES disks(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        disk_size_gib INTEGER NOT NULL,
        parent_id TEXT,
        online INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE UNIQUE INDEX idx_snapshots_name ON snapshots(name)",
    "CREATE INDEX idx_snapshots_disk ON snapshots(disk_id)",
    # The snapshot the disk's current contents descend from (the tree's "you are here").
    "ALTER TABLE disks ADD COLUMN snapshot_head TEXT",
    """CREATE TABLE backups (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        instance_name TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        online INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE UNIQUE INDEX idx_backups_name ON backups(name)",
    """CREATE TABLE backup_disks (
        backup_id TEXT NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
        disk_id TEXT NOT NULL,
        disk_name TEXT NOT NULL,
        role TEXT NOT NULL,
        position INTEGER NOT NULL,
        path TEXT NOT NULL,
        virtual_size INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        encrypted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (backup_id, disk_id)
    )""",
)


def step1(db: sqlite_utils.Database) -> None:
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


def step4(db: sqlite_utils.Database) -> None:
    for statement in STATEMENTS:
        db.execute(statement)
