"""The operation journal on a real inventory: a dead owner's operation is recovered once,
in reverse order of its effects; a live owner's is left alone; a finished one leaves nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from backend.inventory import journal as journal_mod
from backend.inventory.journal import Journal, process_start
from backend.inventory.paths import Paths
from backend.inventory.store import Store


def _store(tmp_path: Path) -> Store:
    paths = Paths.from_env(tmp_path / "home")
    paths.ensure()
    return Store(paths.db)


def _dead_pid() -> tuple[int, int]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start(proc.pid) or 1
    proc.wait()
    return proc.pid, start


async def test_finished_operation_leaves_no_row(tmp_path: Path) -> None:
    store = _store(tmp_path)
    journal = Journal(store)
    async with journal.operation("thing.make", "t-1") as op:
        op.effect("file", path="/nowhere")
        assert store.row("SELECT COUNT(*) AS n FROM effects")["n"] == 1  # type: ignore[index]
    assert store.rows("SELECT * FROM operations") == []
    assert store.rows("SELECT * FROM effects") == []


async def test_dead_owner_is_recovered_once_in_reverse(tmp_path: Path) -> None:
    store = _store(tmp_path)
    journal = Journal(store)
    seen: list[tuple[str, Any]] = []

    async def handler(action: str, data: dict[str, Any]) -> None:
        seen.append((action, data["n"]))

    journal.handle("step", handler)
    pid, start = _dead_pid()
    store.execute("INSERT INTO operations VALUES ('op-1', 'thing.make', 't-1', ?, ?, 0)",
                  [pid, start])
    for n in (1, 2, 3):
        store.execute("INSERT INTO effects VALUES ('op-1', ?, 'step', ?)", [n, f'{{"n": {n}}}'])
    assert await journal.recover() == ["thing.make"]
    assert seen == [("thing.make", 3), ("thing.make", 2), ("thing.make", 1)]
    assert await journal.recover() == []
    assert store.rows("SELECT * FROM effects") == []


async def test_live_owner_is_left_alone(tmp_path: Path) -> None:
    store = _store(tmp_path)
    journal = Journal(store)
    store.execute("INSERT INTO operations VALUES ('op-2', 'thing.make', 't-2', ?, ?, 0)",
                  [journal_mod.MY_PID, journal_mod.MY_START])
    assert await journal.recover() == []
    assert [r["id"] for r in journal.busy()] == ["op-2"]
    # The same pid started at another time is another process: its operation is dead.
    store.execute("UPDATE operations SET owner_start = owner_start + 1")
    assert await journal.recover() == ["thing.make"]
