"""Snapshots (EVS snapshot analog): internal qcow2 snapshots of one disk, as a tree.

Each snapshot is a tag inside the disk's own qcow2 file (its id, `sn-…`, is the tag). A
running instance's disk is snapshotted live through QMP (see `blockdev.snapshot_internal`
for why that mechanism); otherwise `qemu-img snapshot`. Rollback follows the ECS rule:
only while the disk's instance is stopped (or the disk is detached). A snapshot's parent is
the disk's head when it was taken; rollback moves the head, so the snapshots form a tree.
"""

from __future__ import annotations

import builtins
import time
from typing import Any

from backend.drivers.protocol import Driver
from backend.drivers.qemu import volume
from backend.inventory import validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, NotFoundError, StateError
from backend.inventory.ids import new_id
from backend.inventory.journal import effect, journaled, step
from backend.inventory.records import InstanceState
from backend.inventory.store import Store
from backend.storage.disks import Disks, check
from backend.storage.records import Snapshot, SnapshotState

SQL = ("SELECT s.*, d.name AS disk_name, d.snapshot_head AS head FROM snapshots s"
       " JOIN disks d ON d.id = s.disk_id")


def snapshot_of(r: dict[str, Any]) -> Snapshot:
    return Snapshot(
        id=r["id"], name=r["name"], disk_id=r["disk_id"], disk_name=r["disk_name"],
        state=SnapshotState(r["state"]), created_at=r["created_at"], size_bytes=r["size_bytes"],
        disk_size_gib=r["disk_size_gib"], parent_id=r["parent_id"], online=bool(r["online"]),
        current=r["head"] == r["id"],
    )


class Snapshots:
    def __init__(self, store: Store, audit: Audit, driver: Driver, disks: Disks) -> None:
        self.journal = disks.journal
        self.store = store
        self.audit = audit
        self.driver = driver
        self.disks = disks

    # ---- reading -------------------------------------------------------------------
    def _row(self, ref: str) -> dict[str, Any]:
        row = self.store.row(SQL + " WHERE s.id = ? OR s.name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"snapshot {ref!r} not found")
        return row

    def get(self, ref: str) -> Snapshot:
        return snapshot_of(self._row(ref))

    def list(self, disk: str | None = None) -> list[Snapshot]:
        if disk is None:
            rows = self.store.rows(SQL + " ORDER BY s.created_at")
        else:
            disk_id = self.disks.row(disk)["id"]
            rows = self.store.rows(SQL + " WHERE s.disk_id = ? ORDER BY s.created_at", [disk_id])
        return [snapshot_of(r) for r in rows]

    def tree(self, disk: str) -> builtins.list[tuple[int, Snapshot]]:
        """The disk's snapshots depth-first, each with its depth (roots are 0)."""
        snaps = self.list(disk)
        ids = {s.id for s in snaps}
        children: dict[str | None, builtins.list[Snapshot]] = {}
        for snap in snaps:
            parent = snap.parent_id if snap.parent_id in ids else None
            children.setdefault(parent, []).append(snap)
        out: builtins.list[tuple[int, Snapshot]] = []

        def walk(parent: str | None, depth: int) -> None:
            for snap in children.get(parent, []):
                out.append((depth, snap))
                walk(snap.id, depth + 1)

        walk(None, 0)
        return out

    # ---- create --------------------------------------------------------------------
    @journaled("snapshot.create")
    async def create(self, disk: str, name: str | None = None) -> Snapshot:
        with self.audit.track("snapshot.create", disk, {"disk": disk, "name": name}) as t:
            if name is not None:
                validate.name(name, "snapshot name")
                self._check_free(name)
            async with self.disks.hold(disk) as (row, inst):
                check("snapshot", row)
                live = self.disks.live("snapshot", row, inst)
                if name is None:
                    name = self._auto_name(row["name"])
                snap_id = new_id("sn")
                t.resource = snap_id
                effect("snapshot.sync", snapshot=snap_id, disk=row["id"])
                t.parameters["name"] = name
                with self.store.transaction() as db:
                    db.table("snapshots").insert({
                        "id": snap_id, "disk_id": row["id"], "name": name,
                        "state": SnapshotState.CREATING.value, "created_at": time.time(),
                        "size_bytes": 0, "disk_size_gib": row["size_gib"],
                        "parent_id": row["snapshot_head"], "online": int(live),
                    })
                try:
                    if live and inst is not None:
                        await self.driver.snapshot_disks(inst["id"], [(row["id"], snap_id)])
                    else:
                        await volume.snapshot(self.disks.volume(row), "create", snap_id)
                except BaseException:
                    with self.store.transaction() as db:
                        db.table("snapshots").delete(snap_id)
                    raise
                step("taken")
                meta = await volume.info(self.disks.volume(row), in_use=live)
                with self.store.transaction() as db:
                    db.table("snapshots").update(snap_id, {
                        "state": SnapshotState.AVAILABLE.value,
                        "size_bytes": int(meta.get("actual-size", 0))})
                    db.table("disks").update(row["id"], {"snapshot_head": snap_id})
            return self.get(snap_id)

    def _check_free(self, name: str) -> None:
        if self.store.row("SELECT id FROM snapshots WHERE name = ?", [name]):
            raise ConflictError(f"a snapshot named {name!r} exists already")

    def _auto_name(self, disk_name: str) -> str:
        base = f"{disk_name[:40]}-{time.strftime('%Y%m%d-%H%M%S')}"
        name, n = base, 1
        while self.store.row("SELECT id FROM snapshots WHERE name = ?", [name]):
            n += 1
            name = f"{base}-{n}"
        return name

    # ---- rollback ------------------------------------------------------------------
    @journaled("snapshot.rollback")
    async def rollback(self, ref: str) -> Snapshot:
        with self.audit.track("snapshot.rollback", ref) as t:
            snap = self._row(ref)
            t.resource = snap["id"]
            t.parameters["disk"] = snap["disk_id"]
            async with self.disks.hold(snap["disk_id"]) as (row, inst):
                snap = self._row(snap["id"])
                check("rollback", row)
                if inst is not None and inst["state"] != InstanceState.STOPPED:
                    raise StateError(
                        f"cannot roll back disk {row['name']!r} to snapshot {snap['name']!r}:"
                        f" its instance {inst['name']!r} is {inst['state']} (rollback needs"
                        " it stopped); stop the instance first"
                    )
                if snap["state"] != SnapshotState.AVAILABLE:
                    raise StateError(
                        f"cannot roll back to snapshot {snap['name']!r}: it is {snap['state']}"
                        " (rollback needs available)"
                    )
                vol = self.disks.volume(row)
                # A killed rollback is applied again (the instance is stopped, the disk locked:
                # applying the same snapshot twice gives the same disk).
                effect("snapshot.sync", snapshot=snap["id"], disk=row["id"], apply=True)
                await volume.snapshot(vol, "apply", snap["id"])
                step("applied")
                size = int((await volume.info(vol))["virtual-size"])
                self.disks._set(row["id"], snapshot_head=snap["id"],
                                size_gib=max(1, -(-size // (1 << 30))))
            return self.get(snap["id"])

    # ---- delete --------------------------------------------------------------------
    @journaled("snapshot.delete")
    async def delete(self, ref: str) -> None:
        with self.audit.track("snapshot.delete", ref) as t:
            snap = self._row(ref)
            t.resource = snap["id"]
            async with self.disks.hold(snap["disk_id"]) as (row, inst):
                snap = self._row(snap["id"])
                check("delete a snapshot of", row)
                live = self.disks.live("delete a snapshot of", row, inst)
                vol = self.disks.volume(row)
                effect("snapshot.sync", snapshot=snap["id"], disk=row["id"], delete=True)
                if snap["id"] in volume.snapshot_tags(await volume.info(vol, in_use=live)):
                    if live and inst is not None:
                        await self.driver.delete_disk_snapshot(inst["id"], row["id"], snap["id"])
                    else:
                        await volume.snapshot(vol, "delete", snap["id"])
                step("untagged")
                forget(self.store, snap)


def forget(store: Store, snap: dict[str, Any]) -> None:
    """The snapshot's row goes; its children hang from its parent; the disk's head too."""
    with store.transaction() as db:
        db.execute("UPDATE snapshots SET parent_id = ? WHERE parent_id = ?",
                   [snap["parent_id"], snap["id"]])
        db.execute("UPDATE disks SET snapshot_head = ? WHERE id = ? AND snapshot_head = ?",
                   [snap["parent_id"], snap["disk_id"], snap["id"]])
        db.execute("DELETE FROM snapshots WHERE id = ?", [snap["id"]])
