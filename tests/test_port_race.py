"""Parallel creates never give two forwards one host port (SQLite arbitrates: the ports are
chosen inside the write transaction that stores them, and a unique index on forwards).

Each instance is in a group forwarding 64 ports, so sixteen parallel creates hold hundreds
of host ports: with the ports read outside the write transaction (main before this fix),
two creates regularly recorded the same one. Real `lecs` processes, a real SQLite file and
real QEMUs, which must listen on exactly the ports recorded for them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path

import psutil
import pytest

from backend import Cloud
from backend.network import usermode
from backend.network.records import Action, Direction, Protocol, Rule
from tests.test_parallel import _all, _lecs, _no_internal_errors, _spawn

pytestmark = pytest.mark.qemu

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "inventory-schema5.db"
WIDE = ["--direction", "ingress", "--protocol", "tcp", "--port", "20000-20063",
        "--cidr", "127.0.0.1/32"]


def _forwards(home: Path) -> list[tuple[str, str, str, int, int]]:
    conn = sqlite3.connect(home / "lecs.db")
    try:
        return conn.execute("SELECT instance_id, protocol, host_addr, host_port, guest_port"
                            " FROM forwards").fetchall()
    finally:
        conn.close()


def _no_duplicate_port(rows: list[tuple[str, str, str, int, int]]) -> None:
    ports = [r[3] for r in rows]
    twice = sorted({p for p in ports if ports.count(p) > 1})
    assert not twice, f"host ports recorded twice: {twice}"


def _listening(pid: int) -> set[int]:
    return {c.laddr.port for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN}


def _wide_group(home: Path) -> None:
    assert _lecs(home, "sg", "create", "wide").returncode == 0
    added = _lecs(home, "sg", "rule-add", "wide", *WIDE)
    assert added.returncode == 0, added.stderr


def test_parallel_creates_record_each_host_port_once_and_qemu_listens_on_it(
        home: Path, tiny_guest: Path) -> None:
    _wide_group(home)
    started, stopped = [f"up{i}" for i in range(4)], [f"down{i}" for i in range(12)]
    base = ["--image", "tiny", "--type", "t1.nano", "--sg", "wide"]
    try:
        results = _all([_spawn(home, "instance", "create", n, *base) for n in started]
                       + [_spawn(home, "instance", "create", n, *base, "--no-start")
                          for n in stopped])
        _no_internal_errors(results)
        rows = _forwards(home)
        _no_duplicate_port(rows)
        assert [code for code, _, _ in results] == [0] * 16, [e for _, _, e in results]
        assert len(rows) == 16 * 64
        # Two stopped ones start at once: their ports stayed theirs, QEMU opens them.
        _no_internal_errors(_all([_spawn(home, "instance", "start", n) for n in stopped[:2]]))
        after = _forwards(home)
        assert sorted(after) == sorted(rows)
        listed = {i["name"]: i for i in json.loads(
            _lecs(home, "instance", "list", "--json").stdout)}
        for name in started + stopped[:2]:
            inst = listed[name]
            assert inst["state"] == "running", inst
            recorded = {r[3] for r in after if r[0] == inst["id"]}
            assert len(recorded) == 64
            assert recorded <= _listening(inst["pid"]), name
    finally:
        _all([_spawn(home, "instance", "delete", n, "--yes") for n in started + stopped])


def test_create_count_records_each_host_port_once(home: Path, tiny_guest: Path) -> None:
    """`instance create NAME --count N` creates side by side in one process (one connection)."""
    _wide_group(home)
    made = _lecs(home, "instance", "create", "task", "--count", "10", "--image", "tiny",
                 "--type", "t1.nano", "--sg", "wide", "--no-start")
    assert made.returncode == 0, made.stderr
    rows = _forwards(home)
    assert len(rows) == 10 * 64
    _no_duplicate_port(rows)


def test_migration_moves_a_duplicate_host_port_to_the_later_row(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    shutil.copy(FIXTURE, home / "lecs.db")
    conn = sqlite3.connect(home / "lecs.db")
    try:  # what two racing creates left: db-1's ssh forward on web-1's host port
        conn.execute("UPDATE forwards SET host_port = 40122"
                     " WHERE instance_id = 'i-db01cccccc' AND guest_port = 22")
        conn.commit()
    finally:
        conn.close()
    before = _forwards(home)
    asyncio.run(Cloud.open(str(home))).close()
    after = {(r[0], r[4]): r[3] for r in _forwards(home)}
    assert len(after) == len(before)
    assert after[("i-web1aaaaaa", 22)] == 40122  # the earlier row keeps its port
    assert after[("i-db01cccccc", 22)] not in {40122, *(r[3] for r in before)}
    assert all(after[(r[0], r[4])] == r[3] for r in before if r[0] != "i-db01cccccc"
               or r[4] != 22)
    conn = sqlite3.connect(home / "lecs.db")
    try:  # and SQLite refuses the next duplicate
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE forwards SET host_port = 40122"
                         " WHERE instance_id = 'i-web2bbbbbb' AND guest_port = 22")
    finally:
        conn.close()


def test_a_group_change_whose_port_a_parallel_writer_took_is_planned_again(
        home: Path, tiny_guest: Path) -> None:
    """A security group change picks new forwards' ports before its write transaction (a
    running QEMU opens them first). A writer that records one of them meanwhile wins: the
    unique index refuses the change's store, and it is planned again from the ports
    recorded by then. The parallel writer is a second SQLite connection, run at the moment
    the change reads the rules (after it read the ports recorded). The instance runs: the
    forward its QEMU opened on the lost port is closed again, the one stored is open."""
    guest = 20100

    async def run() -> tuple[int, dict[int, int], int, set[int]]:
        cloud = await Cloud.open(str(home))
        try:
            mine = await cloud.instances.create("mine", "tiny", "t1.nano")
            other = await cloud.instances.create("other", "tiny", "t1.nano", start=False)
            enforcer = cloud.instances.net.enforcer
            group = enforcer.group_ids(mine.id)[0]
            rules = enforcer.rules_of([group]) + [Rule(
                "r-race", group, Direction.INGRESS, Protocol.TCP, guest, guest,
                "127.0.0.1/32", Action.ALLOW, 1)]
            taken = usermode.preferred_port(mine.id, "tcp", "127.0.0.1", guest)
            plans: list[str] = []

            def rules_for(instance_id: str) -> list[Rule]:
                if not plans:
                    side = sqlite3.connect(home / "lecs.db")
                    try:
                        side.execute("INSERT INTO forwards VALUES (?, 'tcp', '127.0.0.1', ?,"
                                     " 9999)", [other.id, taken])
                        side.commit()
                    finally:
                        side.close()
                plans.append(instance_id)
                return rules

            async with cloud.journal.operation("sg.rule-add", group):
                await enforcer.change([mine.id], rules_for, lambda db: None)
            ports = {r[4]: r[3] for r in _forwards(home) if r[0] == mine.id}
            listening = _listening(cloud.instances.get(mine.id).pid or 0)
            await cloud.instances.delete(mine.id)
            return taken, ports, len(plans), listening
        finally:
            cloud.close()

    taken, ports, plans, listening = asyncio.run(run())
    _no_duplicate_port(_forwards(home))
    assert guest in ports and ports[guest] != taken
    assert plans == 2
    assert set(ports.values()) <= listening and taken not in listening
