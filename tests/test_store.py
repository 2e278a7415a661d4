"""The inventory on a real SQLite file: migrations, WAL, foreign keys, private modes."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from backend.inventory.migrations import LATEST
from backend.inventory.store import Store


def test_new_store_is_migrated_private_and_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "lecs.db")
    assert store.version == LATEST
    assert stat.S_IMODE((tmp_path / "lecs.db").stat().st_mode) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    for table in ("instance_types", "images", "instances", "disks", "tags", "events"):
        assert table in store.db.table_names()
    store.close()


def test_reopen_keeps_version_and_data(tmp_path: Path) -> None:
    store = Store(tmp_path / "lecs.db")
    store.db["instance_types"].insert({"name": "x", "vcpus": 1, "memory_mib": 1})
    store.close()
    again = Store(tmp_path / "lecs.db")
    assert again.version == LATEST
    assert again.db["instance_types"].count == 1
    again.close()


def test_foreign_keys_refuse_dangling_instance(tmp_path: Path) -> None:
    store = Store(tmp_path / "lecs.db")
    with pytest.raises(sqlite3.IntegrityError):
        store.db["instances"].insert({
            "id": "i-1", "name": "a", "type": "nope", "image_id": "img-nope", "state": "stopped",
        })
    store.close()


def test_transaction_rolls_back_every_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "lecs.db")
    with pytest.raises(RuntimeError), store.transaction() as db:
        db["tags"].insert({"resource_id": "i-1", "key": "a", "value": "1"})
        db["tags"].insert({"resource_id": "i-1", "key": "b", "value": "2"})
        raise RuntimeError("boom")
    assert store.db["tags"].count == 0
    store.close()
