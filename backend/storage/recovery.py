"""What a killed disk operation leaves, made right (the journal's `disk.sync` handler).

One rule for create, attach, detach, resize and delete: the row follows reality.
- No row (a create killed before its row, or a delete after it): the file and key go.
- `creating`: the create died; row, file and key go (rolled back).
- `resizing`: the file's virtual size (read with -U: QEMU may hold it) becomes the row's.
- An attach or detach on a running instance: the row follows QEMU's device. QEMU has it: the
  disk is attached (an attach that got that far is finished, a detach the guest never
  acknowledged did not happen). QEMU has no device: the disk is not attached, and a block
  node or secret left behind is removed (neither needs the guest's cooperation).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.inventory.records import DiskState as D
from backend.inventory.records import InstanceState

if TYPE_CHECKING:
    from backend.storage.backups import Backups
    from backend.storage.disks import Disks

GIB = 1 << 30


async def sync(disks: Disks, action: str, data: dict[str, Any]) -> None:
    disk_id = str(data["disk"])
    if not disk_id.startswith("d-") or "/" in disk_id:
        return  # not an id lecs made: touch nothing
    async with disks.locks.hold(disk_id):
        outcome = await _sync(disks, disk_id, data)
    if outcome:
        disks.audit.record("disk.recover", disk_id, {"interrupted": action, "outcome": outcome},
                           "success", "")


def _forget_files(disks: Disks, disk_id: str, path: str) -> None:
    if path:
        file = Path(path).resolve()
        if file.is_relative_to(disks.paths.disks.resolve()):
            file.unlink(missing_ok=True)
    disks.keys.remove(disk_id)


async def _sync(disks: Disks, disk_id: str, data: dict[str, Any]) -> str:
    from backend.drivers.qemu import img

    row = disks.store.row("SELECT * FROM disks WHERE id = ?", [disk_id])
    if row is None:
        _forget_files(disks, disk_id, str(data.get("path", "")))
        return "no row: its file removed"
    if row["state"] == D.CREATING:
        with disks.store.transaction() as db:
            db.execute("DELETE FROM disks WHERE id = ?", [disk_id])
        _forget_files(disks, disk_id, row["path"])
        return "rolled back: deleted"
    fields: dict[str, Any] = {}
    if row["state"] == D.RESIZING:
        size = int((await img.info(Path(row["path"]), shared=True))["virtual-size"])
        fields["size_gib"] = -(-size // GIB)
        fields["state"] = (D.IN_USE if row["instance_id"] else D.AVAILABLE).value
    instance_id = data.get("instance")
    if instance_id:
        fields.update(await _follow_qemu(disks, row, str(instance_id),
                                         int(data.get("position") or row["position"] or 1)))
    if not fields:
        return ""
    with disks.store.transaction() as db:
        db.table("disks").update(disk_id, fields)
    return ", ".join(f"{k}={v}" for k, v in fields.items())


async def _follow_qemu(disks: Disks, row: dict[str, Any], instance_id: str,
                       position: int) -> dict[str, Any]:
    inst = disks.store.row("SELECT state FROM instances WHERE id = ?", [instance_id])
    if inst is None or inst["state"] != InstanceState.RUNNING:
        return {}  # offline: the row's one transaction happened or not, nothing else to do
    device, node = await disks.driver.disk_plugged(instance_id, row["id"])
    if device:  # QEMU has it (an attach that got that far): the attach is done
        if row["instance_id"] == instance_id:
            return {}
        return {"instance_id": instance_id, "position": position, "state": D.IN_USE.value}
    if node:  # a half-made attach or a half-done detach: the rest needs no guest
        await disks.driver.unplug_disk(instance_id, disks.drive(row), disks.detach_timeout)
    if row["instance_id"] == instance_id:  # a detach the guest had finished
        return {"instance_id": None, "position": 0, "state": D.AVAILABLE.value}
    return {}


async def sync_snapshot(disks: Disks, action: str, data: dict[str, Any]) -> None:
    """A killed snapshot create, rollback or delete (`snapshot.sync`): the rows follow the
    tags inside the disk's qcow2. A snapshot row is kept only if its tag is there; a tag a
    create made is kept as an available snapshot; a rollback is applied again."""
    from backend.drivers.qemu import volume
    from backend.storage.records import SnapshotState
    from backend.storage.snapshots import forget

    snap_id, disk_id = str(data["snapshot"]), str(data["disk"])
    async with disks.locks.hold(disk_id):
        disk = disks.store.row("SELECT * FROM disks WHERE id = ?", [disk_id])
        snap = disks.store.row("SELECT * FROM snapshots WHERE id = ?", [snap_id])
        if disk is None or snap is None:
            return
        vol = disks.volume(disk)
        meta = await volume.info(vol, in_use=True)
        tagged = snap_id in volume.snapshot_tags(meta)
        if not tagged:
            forget(disks.store, snap)
            outcome = "no tag in the disk: row removed"
        elif data.get("apply"):
            await volume.snapshot(vol, "apply", snap_id)
            size = int((await volume.info(vol))["virtual-size"])
            disks._set(disk_id, snapshot_head=snap_id, size_gib=max(1, -(-size // GIB)))
            outcome = "rollback applied again"
        elif snap["state"] == SnapshotState.CREATING:
            with disks.store.transaction() as db:
                db.table("snapshots").update(snap_id, {
                    "state": SnapshotState.AVAILABLE.value,
                    "size_bytes": int(meta.get("actual-size", 0))})
                db.table("disks").update(disk_id, {"snapshot_head": snap_id})
            outcome = "taken: available"
        else:
            return  # a delete that never reached the tag: nothing happened
    disks.audit.record("snapshot.recover", snap_id, {"interrupted": action, "outcome": outcome},
                       "success", "")


async def sync_backup(backups: Backups, action: str, data: dict[str, Any]) -> None:
    """A killed backup create (rolled back: jobs cancelled, target nodes closed, files and
    row gone), restore (done again over the stopped instance's disks) or delete (files of a
    row already gone removed)."""
    backup_id = str(data["backup"])
    if not backup_id.startswith("bk-") or "/" in backup_id:
        return
    store = backups.store
    row = store.row("SELECT * FROM backups WHERE id = ?", [backup_id])
    copies = store.rows("SELECT * FROM backup_disks WHERE backup_id = ?", [backup_id])
    instance_id = str(data.get("instance") or "")
    if action == "backup.restore" and row is not None:
        async with backups.locks.hold(instance_id):
            current = {r["id"]: r for r in store.rows(
                "SELECT * FROM disks WHERE instance_id = ?", [instance_id])}
            inst = store.row("SELECT state FROM instances WHERE id = ?", [instance_id])
            if inst is None or inst["state"] != InstanceState.STOPPED or any(
                    c["disk_id"] not in current for c in copies):
                return  # nothing safe to redo: the instance moved on
            await backups.write_back(backup_id, copies, current)
        outcome = "restore done again"
    elif row is not None and row["state"] != "creating":
        return  # created (or failed and kept as error), or a delete that never started
    else:
        if action == "backup.create" and data.get("live") and instance_id:
            inst = store.row("SELECT state FROM instances WHERE id = ?", [instance_id])
            if inst is not None and inst["state"] == InstanceState.RUNNING:
                disks = [c["disk_id"] for c in copies] or [
                    r["id"] for r in store.rows(
                        "SELECT id FROM disks WHERE instance_id = ?", [instance_id])]
                await backups.driver.abort_backup(instance_id, disks)
        if row is not None:
            with store.transaction() as db:  # its backup_disks rows go too (cascade)
                db.execute("DELETE FROM backups WHERE id = ?", [backup_id])
        disk_ids = [c["disk_id"] for c in copies] + [str(d) for d in data.get("disks", [])]
        backups._discard(backup_id, [{"disk_id": d} for d in disk_ids])
        outcome = "rolled back" if action == "backup.create" else "its files removed"
    backups.audit.record("backup.recover", backup_id, {"interrupted": action,
                                                        "outcome": outcome}, "success", "")
