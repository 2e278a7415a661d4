"""The schema steps, in order, and the runner that brings an inventory up to date.

Each service keeps its own tables in its `schema.py`, one function per step it takes part in
(`step1`, `step3`, …); step n sets PRAGMA user_version = n, so numbers never change once
released and an inventory made by any earlier lecs opens with this one. The steps are named,
not imported: an up-to-date inventory (every start but the first) never loads them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

# Step n: the modules whose `step<n>(db)` run, in this order, in one transaction.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: tags and events, images, instance types + instances + forwards, disks
        "backend.inventory.schema",
        "backend.images.schema",
        "backend.compute.schema",
        "backend.storage.schema",
    ),
    ("backend.monitoring.schema",),  # 2: metric history, alarms
    ("backend.network.schema",),  # 3: security groups, key pairs, networks
    ("backend.storage.schema",),  # 4: snapshots, backups
    ("backend.images.schema",),  # 5: image_disks: full-instance images
    ("backend.inventory.schema",),  # 6: the operation journal
    ("backend.network.schema",),  # 7: instances.user_data_ran (once-per-instance user-data)
    ("backend.images.schema",),  # 8: images.login_user (who `lecs instance ssh` logs in as)
    ("backend.ram.schema", "backend.api.schema"),  # 9: access keys; API nonces and tokens
    ("backend.network.schema",),  # 10: forwards: one per host port (unique index)
)
LATEST = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database, current: int) -> None:
    """Run every step after `current` (the caller holds the write transaction)."""
    for number, modules in enumerate(MIGRATIONS, start=1):
        if number > current:
            for module in modules:
                getattr(importlib.import_module(module), f"step{number}")(db)
            db.execute(f"PRAGMA user_version = {number}")
