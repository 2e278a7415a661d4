"""Disks (EVS analog): create, attach/detach (stopped or live), resize (grow), delete.

A disk is one qcow2 file under `$LECS_HOME/disks` (LUKS-encrypted with its own key from
the key store if asked). Work on a disk holds the disk's lock and, while it is attached,
its instance's lock too (always in that order), so no start/stop/delete races it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from backend.drivers.protocol import Driver
from backend.drivers.qemu import img, volume
from backend.drivers.qemu.argv import DriveSpec
from backend.drivers.qemu.volume import Volume
from backend.inventory import validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, NotFoundError, StateError, ValidationError
from backend.inventory.ids import new_id
from backend.inventory.journal import Journal, effect, journaled, journaled_sync, step
from backend.inventory.locks import Locks
from backend.inventory.paths import Paths, missing_file, private_dir
from backend.inventory.records import Disk, DiskState, InstanceState
from backend.inventory.store import Store
from backend.storage.keystore import KeyStore

D = DiskState
FORMATS = ("qcow2",)
MAX_DATA_DISKS = 16
# Which disk states each operation accepts (PRODUCT.md's disk state machine).
ALLOWED: dict[str, frozenset[DiskState]] = {
    "attach": frozenset({D.AVAILABLE}),
    "detach": frozenset({D.IN_USE}),
    "resize": frozenset({D.AVAILABLE, D.IN_USE}),
    "delete": frozenset({D.AVAILABLE, D.ERROR}),
    "snapshot": frozenset({D.AVAILABLE, D.IN_USE}),
    "rollback": frozenset({D.AVAILABLE, D.IN_USE}),
    "delete a snapshot of": frozenset({D.AVAILABLE, D.IN_USE, D.ERROR}),
}
Held = tuple[dict[str, Any], dict[str, Any] | None]  # the disk row, its instance row if any


def disk_of(r: dict[str, Any]) -> Disk:
    """The record of a row, checked against the file system: a disk whose file is gone is
    shown as `error` with the reason (reading never writes: the row itself is unchanged)."""
    state = D(r["state"])
    problem = missing_file(r["path"]) if state in (D.AVAILABLE, D.IN_USE) else ""
    if problem:
        state = D.ERROR
    return Disk(
        id=r["id"], name=r["name"], size_gib=r["size_gib"], format=r["format"], role=r["role"],
        state=state, path=r["path"], instance_id=r["instance_id"],
        delete_with_instance=bool(r["delete_with_instance"]), encrypted=bool(r["encrypted"]),
        created_at=r["created_at"], backing_image_id=r["backing_image_id"],
        position=r["position"] or 0, snapshot_head=r.get("snapshot_head"), problem=problem,
    )


def check(op: str, row: dict[str, Any]) -> None:
    allowed = ALLOWED[op]
    if D(row["state"]) not in allowed:
        can = ", ".join(sorted(s.value for s in allowed))
        raise StateError(
            f"cannot {op} disk {row['name']!r}: it is {row['state']} ({op} needs {can})"
        )


Settle = Callable[[list[str]], list[str]]  # instance ids -> the ids whose state changed


class Disks:
    def __init__(
        self, store: Store, paths: Paths, audit: Audit, driver: Driver, locks: Locks,
        keys: KeyStore, settle: Settle, journal: Journal,
    ) -> None:
        self.store = store
        self.journal = journal
        # Brings instances' rows in line with their QEMUs before a state check (compute's
        # reconcile, handed in by the Cloud: storage does not import compute).
        self.settle = settle
        self.paths = paths
        self.audit = audit
        self.driver = driver
        self.locks = locks
        self.keys = keys
        self.detach_timeout = 30.0

    # ---- reading -------------------------------------------------------------------
    def row(self, ref: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM disks WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"disk {ref!r} not found")
        return row

    def get(self, ref: str) -> Disk:
        return disk_of(self.row(ref))

    def list(self, instance: str | None = None) -> list[Disk]:
        if instance is None:
            rows = self.store.rows("SELECT * FROM disks ORDER BY name")
        else:
            inst = self.instance_row(instance)
            rows = self.store.rows(
                "SELECT * FROM disks WHERE instance_id = ? ORDER BY position", [inst["id"]]
            )
        return [disk_of(r) for r in rows]

    def instance_row(self, ref: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM instances WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"instance {ref!r} not found")
        return row

    def volume(self, row: dict[str, Any]) -> Volume:
        key = self.keys.require(row["id"]) if row["encrypted"] else None
        return Volume(Path(row["path"]), key, row["format"])

    def drive(self, row: dict[str, Any]) -> DriveSpec:
        key = str(self.keys.require(row["id"])) if row["encrypted"] else ""
        return DriveSpec(node=row["id"], path=row["path"], format=row["format"],
                         boot=row["role"] == "system", secret=key)

    # ---- locking and the instance's state --------------------------------------------
    @asynccontextmanager
    async def hold(self, ref: str) -> AsyncIterator[Held]:
        """Lock the disk (and its instance, if attached); yields fresh rows."""
        row = self.row(ref)
        if row["instance_id"]:
            self.settle([row["instance_id"]])
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.locks.hold(row["id"]))
            row = self.row(row["id"])
            inst = None
            if row["instance_id"]:
                await stack.enter_async_context(self.locks.hold(row["instance_id"]))
                inst = self.instance_row(row["instance_id"])
            yield row, inst

    @staticmethod
    def live(op: str, row: dict[str, Any], inst: dict[str, Any] | None) -> bool:
        """True if the work goes through QEMU (instance running), False if offline (no
        instance, or a stopped one); a StateError for an instance on its way up or down."""
        if inst is None or inst["state"] == InstanceState.STOPPED:
            return False
        if inst["state"] == InstanceState.RUNNING:
            return True
        raise StateError(
            f"cannot {op} disk {row['name']!r}: its instance {inst['name']!r} is "
            f"{inst['state']} ({op} needs it running or stopped)"
        )

    def _set(self, disk_id: str, **fields: Any) -> None:
        with self.store.transaction() as db:
            db.table("disks").update(disk_id, fields)

    # ---- create --------------------------------------------------------------------
    # Each mutating operation is journaled; `disk.sync` (backend/storage/recovery.py) makes
    # the row follow reality after a kill at any point.
    @journaled("disk.create")
    async def create(
        self, name: str, size_gib: int, encrypted: bool = False,
        delete_with_instance: bool = False, fmt: str = "qcow2",
    ) -> Disk:
        params = {"name": name, "size_gib": size_gib, "encrypted": encrypted,
                  "delete_with_instance": delete_with_instance, "format": fmt}
        with self.audit.track("disk.create", name, params) as t:
            validate.name(name, "disk name")
            size = validate.size_gib(size_gib, "disk size")
            if fmt not in FORMATS:
                raise ValidationError(f"invalid disk format {fmt!r}: use {', '.join(FORMATS)}")
            if self.store.row("SELECT id FROM disks WHERE name = ?", [name]):
                raise ConflictError(f"a disk named {name!r} exists already")
            disk_id = new_id("d")
            t.resource = disk_id
            path = private_dir(self.paths.disks) / f"{disk_id}.qcow2"
            effect("disk.sync", disk=disk_id, path=str(path))
            with self.store.transaction() as db:
                db.table("disks").insert({
                    "id": disk_id, "name": name, "size_gib": size, "format": fmt,
                    "role": "data", "state": D.CREATING.value, "path": str(path),
                    "instance_id": None, "delete_with_instance": int(delete_with_instance),
                    "encrypted": int(encrypted), "created_at": time.time(),
                    "backing_image_id": None, "position": 0,
                })
            try:
                if encrypted:
                    await volume.create(Volume(path, self.keys.create(disk_id)), size << 30)
                else:
                    cache = private_dir(self.paths.home / "cache")
                    await img.create_blank_fast(path, size << 30, cache / f"blank-{size}g.qcow2")
            except BaseException:
                with self.store.transaction() as db:
                    db.table("disks").delete(disk_id)
                path.unlink(missing_ok=True)
                self.keys.remove(disk_id)
                raise
            step("file")
            self._set(disk_id, state=D.AVAILABLE.value)
            return self.get(disk_id)

    # ---- attach / detach -----------------------------------------------------------
    @journaled("disk.attach")
    async def attach(
        self, ref: str, instance: str, delete_with_instance: bool | None = None
    ) -> Disk:
        params = {"instance": instance, "delete_with_instance": delete_with_instance}
        with self.audit.track("disk.attach", ref, params) as t:
            target = self.instance_row(instance)
            self.settle([target["id"]])
            async with self.hold(ref) as (row, _none):
                t.resource = row["id"]
                check("attach", row)
                async with self.locks.hold(target["id"]):
                    inst = self.instance_row(target["id"])
                    live = self.live("attach", row, inst)
                    attached = self.store.rows(
                        "SELECT position FROM disks WHERE instance_id = ?", [inst["id"]]
                    )
                    if len(attached) > MAX_DATA_DISKS:
                        raise ConflictError(
                            f"instance {inst['name']!r} has {MAX_DATA_DISKS} data disks already"
                        )
                    position = 1 + max((r["position"] or 0 for r in attached), default=0)
                    effect("disk.sync", disk=row["id"], instance=inst["id"], position=position)
                    if live:
                        await self.driver.attach_disk(inst["id"], self.drive(row))
                        step("plugged")
                    fields: dict[str, Any] = {"instance_id": inst["id"], "position": position,
                                              "state": D.IN_USE.value}
                    if delete_with_instance is not None:
                        fields["delete_with_instance"] = int(delete_with_instance)
                    self._set(row["id"], **fields)
            return self.get(row["id"])

    @journaled("disk.detach")
    async def detach(self, ref: str) -> Disk:
        with self.audit.track("disk.detach", ref) as t:
            async with self.hold(ref) as (row, inst):
                t.resource = row["id"]
                check("detach", row)
                if row["role"] == "system":
                    raise StateError(
                        f"cannot detach disk {row['name']!r}: it is the system disk of its"
                        " instance (it goes when the instance is deleted)"
                    )
                effect("disk.sync", disk=row["id"], instance=row["instance_id"])
                if inst is not None and self.live("detach", row, inst):
                    await self.driver.detach_disk(inst["id"], self.drive(row),
                                                  self.detach_timeout)
                    step("unplugged")
                self._set(row["id"], instance_id=None, position=0, state=D.AVAILABLE.value)
            return self.get(row["id"])

    # ---- resize, flags, delete -----------------------------------------------------
    @journaled("disk.resize")
    async def resize(self, ref: str, size_gib: int) -> Disk:
        with self.audit.track("disk.resize", ref, {"size_gib": size_gib}) as t:
            size = validate.size_gib(size_gib, "disk size")
            async with self.hold(ref) as (row, inst):
                t.resource = row["id"]
                check("resize", row)
                if size <= row["size_gib"]:
                    raise ValidationError(
                        f"cannot resize disk {row['name']!r} to {size} GiB: it is"
                        f" {row['size_gib']} GiB and disks only grow"
                    )
                live = self.live("resize", row, inst)
                before = row["state"]
                effect("disk.sync", disk=row["id"])
                self._set(row["id"], state=D.RESIZING.value)
                try:
                    if live and inst is not None:
                        await self.driver.resize_disk(inst["id"], row["id"], size << 30)
                    else:
                        await volume.resize(self.volume(row), size << 30)
                except BaseException:
                    self._set(row["id"], state=before)
                    raise
                step("grown")
                self._set(row["id"], state=before, size_gib=size)
            return self.get(row["id"])

    @journaled_sync("disk.update")
    def set_delete_with_instance(self, ref: str, value: bool) -> Disk:
        with self.audit.track("disk.update", ref, {"delete_with_instance": value}) as t:
            row = self.row(ref)
            t.resource = row["id"]
            if row["role"] == "system":
                raise ValidationError("a system disk is always deleted with its instance")
            self._set(row["id"], delete_with_instance=int(value))
            return self.get(row["id"])

    @journaled("disk.delete")
    async def delete(self, ref: str) -> None:
        with self.audit.track("disk.delete", ref) as t:
            async with self.hold(ref) as (row, inst):
                t.resource = row["id"]
                if row["role"] == "system":
                    raise StateError(
                        f"cannot delete disk {row['name']!r}: it is a system disk; it is"
                        " deleted with its instance"
                    )
                if inst is not None:
                    raise StateError(
                        f"cannot delete disk {row['name']!r}: it is in-use by instance"
                        f" {inst['name']!r} (delete needs available or error); detach it first"
                    )
                check("delete", row)
                effect("disk.sync", disk=row["id"], path=row["path"])
                with self.store.transaction() as db:  # its snapshots go with it (cascade)
                    db.table("disks").delete(row["id"])
                step("row")
                Path(row["path"]).unlink(missing_ok=True)
                self.keys.remove(row["id"])
            self.locks.forget(row["id"])

    async def check_all(self) -> dict[str, str]:
        """`qemu-img check` of every disk that is not in use by a running QEMU."""
        problems: dict[str, str] = {}
        for row in self.store.rows("SELECT * FROM disks"):
            inst = self.instance_row(row["instance_id"]) if row["instance_id"] else None
            if inst is not None and inst["state"] != InstanceState.STOPPED:
                continue
            try:
                await volume.check(self.volume(row))
            except Exception as exc:  # report every disk, not just the first
                problems[row["name"]] = str(exc)
        return problems
