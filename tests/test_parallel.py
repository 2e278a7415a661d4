"""Many lecs processes at once on one inventory: first use, one name, one instance, one disk.

Each process is a real `lecs` CLI run; the inventory is a real SQLite file and the instances
real QEMUs. Losers of a race get the same one-line error a check would give, never an
internal error, and nothing is left half-made.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.qemu_probe import qemu_pids

pytestmark = pytest.mark.qemu

# How many processes race. On 2 cores at most two run at a time, so the first-use lock, the
# write lock and the unique constraints see a queue of waiters well before these counts; each
# further create is one more TCG guest boot (the test's time), not a new path through the code.
LISTS = 12
CREATES = 8


def _spawn(home: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, LECS_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "app.main", *args], env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _all(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=170)
        results.append((proc.returncode, out, err))
    return results


def _lecs(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LECS_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "app.main", *args], env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120)


def _no_internal_errors(results: list[tuple[int, str, str]]) -> None:
    for code, _out, err in results:
        assert "internal error" not in err and "Traceback" not in err, err
        assert code == 0 or err.count("\n") == 1, err


def _one_of_each(home: Path) -> None:
    conn = sqlite3.connect(home / "lecs.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM images WHERE name = 'tiny'").fetchone() == (1,)
        assert conn.execute(
            "SELECT COUNT(*) FROM security_groups WHERE name = 'default'").fetchone() in [(0,),
                                                                                         (1,)]
        assert conn.execute("SELECT COUNT(*) FROM instance_types").fetchone()[0] >= 5
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
    assert len(list((home / "images").iterdir())) == 1  # no orphan copy of the tiny guest


def test_many_lists_at_once_on_a_fresh_inventory(home: Path, tiny_guest: Path) -> None:
    results = _all([_spawn(home, "instance", "list") for _ in range(LISTS)])
    _no_internal_errors(results)
    assert [code for code, _, _ in results] == [0] * LISTS
    _one_of_each(home)


def test_many_creates_at_once_on_a_fresh_inventory(home: Path, tiny_guest: Path) -> None:
    names = [f"par{i}" for i in range(CREATES)]
    try:
        results = _all([_spawn(home, "instance", "create", n, "--image", "tiny", "--type",
                               "t1.nano") for n in names])
        _no_internal_errors(results)
        assert [code for code, _, _ in results] == [0] * CREATES, [e for _, _, e in results]
        listed = json.loads(_lecs(home, "instance", "list", "--json").stdout)
        assert sorted(i["name"] for i in listed) == sorted(names)
        assert {i["state"] for i in listed} == {"running"}
        _one_of_each(home)
    finally:
        _all([_spawn(home, "instance", "delete", n, "--yes") for n in names])
    assert not list((home / "disks").iterdir())


def test_ten_creates_of_one_name(home: Path, tiny_guest: Path) -> None:
    results = _all([_spawn(home, "instance", "create", "same", "--image", "tiny", "--type",
                           "t1.nano", "--no-start") for _ in range(10)])
    _no_internal_errors(results)
    assert sorted(code for code, _, _ in results) == [0] + [1] * 9
    losers = [err for code, _, err in results if code]
    assert all(err == "lecs: error: an instance named 'same' exists already\n" for err in losers)
    listed = json.loads(_lecs(home, "instance", "list", "--json").stdout)
    assert [i["name"] for i in listed] == ["same"]
    assert len(list((home / "disks").iterdir())) == 1  # the losers' system disks are gone


def test_power_storm_and_disk_race_leave_a_consistent_inventory(home: Path,
                                                                 tiny_guest: Path) -> None:
    assert _lecs(home, "instance", "create", "storm", "--image", "tiny", "--type",
                 "t1.nano").returncode == 0
    try:
        verbs = ["stop", "start", "reboot", "force-stop", "start", "reboot", "stop", "start"]
        _no_internal_errors(_all([_spawn(home, "instance", v, "storm") for v in verbs]))
        inst = json.loads(_lecs(home, "instance", "show", "storm", "--json").stdout)
        assert inst["state"] in ("running", "stopped")
        pids = qemu_pids(inst["runtime_dir"])
        if inst["state"] == "running":
            assert pids == [inst["pid"]]
        else:
            assert pids == []
        assert _lecs(home, "disk", "create", "d1", "--size", "1").returncode == 0
        results = _all([_spawn(home, "disk", "attach", "d1", "storm") for _ in range(4)])
        _no_internal_errors(results)
        assert sorted(code for code, _, _ in results) == [0, 1, 1, 1]
        disk = json.loads(_lecs(home, "disk", "show", "d1", "--json").stdout) \
            if _lecs(home, "disk", "show", "d1").returncode == 0 else None
        disks = json.loads(_lecs(home, "disk", "list", "--json").stdout)
        d1 = disk or next(d for d in disks if d["name"] == "d1")
        assert d1["state"] == "in-use" and d1["instance_id"] == inst["id"]
    finally:
        _lecs(home, "instance", "delete", "storm", "--yes")
