"""Reconcile the inventory with the process table: QEMUs that died while nobody watched."""

from __future__ import annotations

import time
from typing import Any

from backend.drivers.protocol import Driver
from backend.drivers.qemu.process import Liveness
from backend.inventory.audit import Audit
from backend.inventory.locks import Locks
from backend.inventory.records import InstanceState as S
from backend.inventory.store import Store

ACTIVE = (S.STARTING, S.RUNNING, S.PAUSED, S.STOPPING, S.REBOOTING, S.ERROR)
ALIVE = (S.RUNNING, S.PAUSED)  # a live QEMU behind these rows is as the row says
# The rows whose state says a QEMU is (or is being) up: what a listing must check before it
# shows them. An `error` row is shown as not running until a full reconcile adopts its QEMU.
UP = tuple(s for s in ACTIVE if s is not S.ERROR)


def run(
    store: Store, driver: Driver, audit: Audit, locks: Locks, ids: list[str] | None = None,
    states: tuple[S, ...] = ACTIVE,
) -> list[str]:
    """Match the inventory to the process table; returns the ids that changed.

    A QEMU that exited cleanly removed its pidfile: the instance is stopped. A pidfile
    left behind by a process that is gone means QEMU was killed or crashed: error. A live
    QEMU proven to be the instance's (pid file and command line) behind a row that says
    otherwise — `starting` with no pid after a killed start, `error` after a QMP timeout —
    is adopted: running, with its pid (a `paused` row keeps its state: backend/compute/pause.py
    follows what QEMU reports). A `rebooting` row left by a killed reboot is adopted too:
    its QEMU may be held on the guest's power-off (runstate `shutdown`), which the next
    runstate look and the journal's recovery finish (backend/compute/reboot.py); a sync
    reconcile asks QEMU nothing. Instances busy with an operation (their lock is
    held) are left alone. `states`: only the rows in these states are looked at (`UP`: those
    a listing would show as up; `error` rows wait for the next full reconcile).
    """
    sql = f"SELECT * FROM instances WHERE state IN ({','.join('?' * len(states))})"
    if store.read_only:  # it cannot be changed here; the rows are shown as they are
        return []
    params: list[Any] = [s.value for s in states]
    changed: list[str] = []
    for row in store.rows(sql, params):
        if ids is not None and row["id"] not in ids:
            continue
        live, pid = driver.liveness(row["id"], row["pid"])
        if live is Liveness.ALIVE and row["state"] in ALIVE and row["pid"] == pid:
            if ids is not None:  # one instance's (not a listing's): a dead passt restarted
                driver.repair_egress(row["id"], pid)
            continue
        if row["state"] == S.ERROR and live is Liveness.ABSENT:
            continue
        fd = locks.try_hold(row["id"])
        if fd is None:
            continue
        try:
            # Re-read under the lock: an operation may have finished meanwhile.
            fresh = store.row("SELECT * FROM instances WHERE id = ?", [row["id"]])
            if fresh is None or fresh["state"] not in ACTIVE:
                continue
            live, pid = driver.liveness(fresh["id"], fresh["pid"])
            if live is Liveness.ALIVE:
                if fresh["state"] not in ALIVE or fresh["pid"] != pid:
                    changed.append(fresh["id"])
                    _adopt(store, audit, fresh, pid)
                continue
            if fresh["state"] == S.ERROR and live is Liveness.ABSENT:
                continue
            changed.append(fresh["id"])
            _settle(store, driver, audit, fresh, live)
        finally:
            locks.release(fd)
    return changed


def _settle(
    store: Store, driver: Driver, audit: Audit, row: dict[str, Any], live: Liveness
) -> None:
    instance_id, state = row["id"], S(row["state"])
    if live is Liveness.CRASHED:
        message = f"QEMU (pid {row['pid']}) died unexpectedly while {state.value}"
        new = S.ERROR
    elif state is S.ERROR:
        message, new = "", S.ERROR
    else:
        message = f"QEMU (pid {row['pid']}) exited while {state.value}: guest powered off"
        new = S.STOPPED
    driver.cleanup(instance_id)
    fields: dict[str, Any] = {"state": new.value, "pid": None, "started_at": None}
    if message:
        fields["last_error"] = message if new is S.ERROR else ""
    with store.transaction() as db:
        db.table("instances").update(instance_id, fields)
    if message:
        audit.record(
            "instance.reconcile", instance_id,
            {"from": state.value, "to": new.value, "detail": message},
            "success", "",
        )


def _adopt(store: Store, audit: Audit, row: dict[str, Any], pid: int | None) -> None:
    """The instance's own QEMU runs: the row follows it (never a second QEMU over it)."""
    fields: dict[str, Any] = {"state": S.RUNNING.value, "pid": pid}
    if not row["started_at"]:
        fields["started_at"] = time.time()
    with store.transaction() as db:
        db.table("instances").update(row["id"], fields)
    audit.record(
        "instance.reconcile", row["id"],
        {"from": row["state"], "to": S.RUNNING.value,
         "detail": f"adopted its running QEMU (pid {pid})"},
        "success", "",
    )
