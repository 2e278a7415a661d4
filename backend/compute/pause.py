"""A guest QEMU stopped on its own: shown as `paused` with the reason, resumed once it can run.

QEMU stops a guest whose disk write fails for lack of space (virtio-blk `werror=enospc`, the
default) and keeps it in runstate `io-error`: the process and its QMP socket are fine, so the
instance is healthy, not in error, and no lecs operation may treat it as dead. The row then
says `paused`, its `last_error` names the disk and the cause, and once every filesystem that
holds the instance's disks has `RESUME_FREE` bytes free again, `cont` lets the guest retry
the write (if that fails again, QEMU stops it again and the next look pauses it again).

A user's pause (`lecs instance pause`, backend/compute/pause_resume.py) is QEMU runstate
`paused`, not `io-error`: its row says `paused` with no `last_error`, and nothing here ever
resumes it (the two causes are kept apart by QEMU's own runstate).

The row only ever follows what QEMU reports (`query-status`), so this is safe from any
process at any time and idempotent: a process killed between `cont` and the row update
leaves a running QEMU behind a `paused` row, which the next look sets back to running.
A QEMU held in runstate `shutdown` (or `prelaunch` after its reset) is a killed clean
reboot's, never an I/O error: its reboot is finished (backend/compute/reboot.py) and the row
says running. Looks come from the sampler (the dashboard, `lecs metric watch`, later
`lecs serve`), from `lecs instance show`, and from every `Cloud.open` for rows already paused.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from backend.compute import reboot
from backend.drivers.protocol import Driver
from backend.inventory.audit import Audit
from backend.inventory.locks import Locks
from backend.inventory.records import InstanceState as S
from backend.inventory.store import Store

RESUME_FREE = 16 * 1024 * 1024  # bytes free on each disk's filesystem before `cont`
IO_ERROR = "io-error"  # QEMU's runstate for a guest stopped by a failed disk request
USER_PAUSED = "paused"  # QEMU's runstate after QMP `stop` (`lecs instance pause`): never
#                         resumed here, only by `lecs instance resume` (pause_resume.py)
PAUSED_PREFIX = "paused: "
CAUSES = {"nospace": "no space left on the host's disk", "failed": "a disk I/O error"}


def _disks(store: Store, instance_id: str) -> list[dict[str, Any]]:
    return store.rows("SELECT id, name, path FROM disks WHERE instance_id = ?", [instance_id])


def reason(store: Store, instance_id: str, errors: dict[str, str]) -> str:
    """'paused: disk db1-system: no space left on the host's disk (…)' for the row."""
    names = {f"dev-{d['id']}": d["name"] for d in _disks(store, instance_id)}
    parts = [f"disk {names.get(dev, dev)}: {CAUSES.get(status, status)}"
             for dev, status in sorted(errors.items())]
    what = "; ".join(parts) or "a disk I/O error"
    return (f"{PAUSED_PREFIX}{what}; QEMU stopped the guest and lecs resumes it"
            f" once {RESUME_FREE // 2**20} MiB are free")


def space_is_back(store: Store, instance_id: str) -> bool:
    """Every filesystem holding one of the instance's disk files has RESUME_FREE bytes free."""
    seen: set[int] = set()
    for disk in _disks(store, instance_id):
        folder = os.path.dirname(disk["path"] or "")
        try:
            dev = os.stat(folder).st_dev
            if dev in seen:
                continue
            seen.add(dev)
            if shutil.disk_usage(folder).free < RESUME_FREE:
                return False
        except OSError:
            return False
    return True


def _set(store: Store, audit: Audit, row: dict[str, Any], state: S, why: str) -> None:
    with store.transaction() as db:
        db.table("instances").update(row["id"], {"state": state.value, "last_error": why})
    audit.record("instance.reconcile", row["id"],
                 {"from": row["state"], "to": state.value, "detail": why or "resumed"},
                 "success", "")


async def follow(
    store: Store, driver: Driver, audit: Audit, locks: Locks, instance_id: str,
    status: str | None = None,
) -> bool:
    """Bring one running or paused instance's row in line with QEMU's runstate; True if the
    row changed. `status` is a fresh `query-status` answer if the caller has one (the
    sampler); otherwise it is asked here. An instance busy with an operation is left alone."""
    fd = locks.try_hold(instance_id)
    if fd is None:
        return False
    try:
        row = store.row("SELECT * FROM instances WHERE id = ?", [instance_id])
        if row is None or row["state"] not in (S.RUNNING, S.PAUSED) or not row["pid"]:
            return False
        if status is None:
            status = await driver.run_status(instance_id)
        if status in (reboot.HELD, reboot.RESET):  # a killed reboot's: not an I/O error
            await reboot.finish(driver, instance_id, status)
            with store.transaction() as db:
                db.table("instances").update(instance_id, {"state": S.RUNNING.value})
            audit.record("instance.reconcile", instance_id,
                         {"from": status, "to": S.RUNNING.value,
                          "detail": "finished a killed reboot: reset, running"}, "success", "")
            return True
        if status == IO_ERROR:
            if row["state"] == S.PAUSED and space_is_back(store, instance_id):
                await driver.resume(instance_id)
                status = await driver.run_status(instance_id)
                if status == "running":
                    _set(store, audit, row, S.RUNNING, "")
                    return True
            if row["state"] == S.RUNNING:
                why = reason(store, instance_id, await driver.io_errors(instance_id))
                _set(store, audit, row, S.PAUSED, why)
                return True
            return False
        if status == "running" and row["state"] == S.PAUSED:
            _set(store, audit, row, S.RUNNING, "")
            return True
        if status == USER_PAUSED and row["state"] == S.RUNNING:  # a pause's row update lost
            _set(store, audit, row, S.PAUSED, "")
            return True
        return False
    finally:
        locks.release(fd)


async def follow_paused(store: Store, driver: Driver, audit: Audit, locks: Locks) -> None:
    """At open: give every paused instance its look (resume those whose space is back)."""
    for row in store.rows("SELECT id FROM instances WHERE state = ?", [S.PAUSED.value]):
        try:
            await follow(store, driver, audit, locks, row["id"])
        except Exception:  # a QEMU not answering now is looked at again next time
            continue
