"""Image tables: `images` (schema step 1; its `login_user` step 8) and the disks an image holds
(step 5): one row per captured disk.

An image made from an instance records its system disk at position 0 and, for a
full-instance image, each data disk at 1, 2, … in the instance's bus order. Imported
images have no rows (their one file is `images.path`). Rows go with their image
(ON DELETE CASCADE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


STATEMENTS = (
    """CREATE TABLE image_disks (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        role TEXT NOT NULL,
        path TEXT NOT NULL,
        size_gib INTEGER NOT NULL,
        virtual_size INTEGER NOT NULL,
        format TEXT NOT NULL,
        encrypted INTEGER NOT NULL DEFAULT 0,
        checksum TEXT NOT NULL DEFAULT '',
        source_disk_id TEXT NOT NULL DEFAULT '',
        source_disk_name TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (image_id, position)
    )""",
)


def step1(db: sqlite_utils.Database) -> None:
    db.table("images").create(
        {
            "id": str, "name": str, "format": str, "size_bytes": int, "os": str, "source": str,
            "checksum": str, "state": str, "created_at": float, "path": str, "kernel": str,
            "initrd": str, "cmdline": str,
        },
        pk="id",
    )
    db.table("images").create_index(["name"], unique=True)


def step5(db: sqlite_utils.Database) -> None:
    for statement in STATEMENTS:
        db.execute(statement)


def step8(db: sqlite_utils.Database) -> None:
    """The user an image's guest lets in over ssh (`debian` for Debian's cloud images); every
    image before this step is a root one (the tiny guest's)."""
    db.table("images").add_column("login_user", str, not_null_default="root")
