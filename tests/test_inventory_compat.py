"""An inventory written by an earlier lecs opens with this one, and a new one has its schema.

`fixtures/inventory-schema5.db` was written by main at schema step 5 (before the backend
became one package per service): the demo inventory, then `lecs sg create`, `sg rule-add`,
`disk create` and `alarm create` through the CLI; metric samples were dropped to keep it small.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

from backend import Cloud
from backend.inventory.migrations import LATEST

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "inventory-schema5.db"


def _schema(path: Path) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    finally:
        conn.close()
    return {(kind, name, " ".join((sql or "").split())) for kind, name, sql in rows}


def _columns(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Each table's (column, type) in order."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: [(c[1], c[2]) for c in conn.execute(f"PRAGMA table_info('{t}')")]
                for t in tables}
    finally:
        conn.close()


def test_previous_inventory_opens_and_lists(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    shutil.copy(FIXTURE, home / "lecs.db")
    cloud = asyncio.run(Cloud.open(str(home)))
    try:
        names = {i.name for i in cloud.instances.list()}
        assert {"web-1", "web-2", "db-1", "cache-1", "lab-sandbox"} <= names
        assert len(names) == 7
        assert {i.name for i in cloud.images.list()} >= {"debian-12", "alpine-3.19"}
        assert "legacy-data" in {d.name for d in cloud.disks.list()}
        groups = {g.name: g for g in cloud.sgs.list()}
        assert "legacy-web" in groups and "default" in groups
        assert any(r.port_min == 8080 for r in groups["legacy-web"].rules)
        assert "cpu-high" in {a.name for a in cloud.alarms.list()}
        assert len(cloud.snapshots.list()) >= 5
        assert len(cloud.audit.list(limit=100)) >= 30
    finally:
        cloud.close()


def test_new_inventory_has_the_previous_schema_and_the_later_steps(tmp_path: Path) -> None:
    """Steps keep their numbers: a new inventory holds every table of the fixture unchanged,
    and the fixture migrated to the latest step is the same as a new inventory."""
    new, old = tmp_path / "new", tmp_path / "old"
    asyncio.run(Cloud.open(str(new))).close()
    old.mkdir(mode=0o700)
    shutil.copy(FIXTURE, old / "lecs.db")
    asyncio.run(Cloud.open(str(old))).close()
    before, now = _columns(FIXTURE), _columns(new / "lecs.db")
    for table, columns in before.items():  # later steps only add: tables, then columns
        assert now[table][:len(columns)] == columns, table
    assert _schema(old / "lecs.db") == _schema(new / "lecs.db")
    for home in (new, old):
        conn = sqlite3.connect(home / "lecs.db")
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        finally:
            conn.close()
