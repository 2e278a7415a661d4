"""The instance-type catalogue, loaded from sample_data/instance_types.json on first run."""

from __future__ import annotations

import json
import os
from pathlib import Path

from backend.compute.records import InstanceType
from backend.inventory.errors import NotFoundError
from backend.inventory.store import Store

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "sample_data" / "instance_types.json"


DEFAULT_TYPE = "t1.nano"  # the smallest: a lab machine runs many


def load_file(path: Path | None = None) -> list[InstanceType]:
    source = path or Path(os.environ.get("LECS_CATALOGUE", CATALOGUE))
    return [InstanceType(**entry) for entry in json.loads(source.read_text())]


class Catalogue:
    def __init__(self, store: Store) -> None:
        self.store = store
        if not self.store.execute("SELECT COUNT(*) FROM instance_types").fetchone()[0]:
            with self.store.transaction() as db:
                # Checked again under the write lock: another process may have loaded it.
                if self.store.execute("SELECT COUNT(*) FROM instance_types").fetchone()[0]:
                    return
                db.table("instance_types").insert_all(
                    [
                        {"name": t.name, "vcpus": t.vcpus, "memory_mib": t.memory_mib,
                         "description": t.description}
                        for t in load_file()
                    ],
                    pk="name",
                )

    def list(self) -> list[InstanceType]:
        rows = self.store.rows("SELECT * FROM instance_types ORDER BY vcpus, memory_mib, name")
        return [InstanceType(**row) for row in rows]

    def default(self) -> str:
        """The type an instance gets when none is asked for (the dashboard's default too)."""
        names = [t.name for t in self.list()]
        if not names:
            raise NotFoundError("no instance types are defined")
        return DEFAULT_TYPE if DEFAULT_TYPE in names else names[0]

    def get(self, name: str) -> InstanceType:
        row = self.store.row("SELECT * FROM instance_types WHERE name = ?", [name])
        if row is None:
            known = ", ".join(t.name for t in self.list())
            raise NotFoundError(f"unknown instance type {name!r} (known: {known})")
        return InstanceType(**row)
