"""Backups (CSBS analog): all of an instance's disks copied together, restored together.

A backup is a directory `$LECS_HOME/backups/bk-…/` of standalone qcow2 files, one per disk
(an encrypted disk's copy is encrypted too, with its own key `bk-….d-…`). A running
instance is backed up through QEMU: one QMP transaction starts a full backup job per disk,
so the set is crash-consistent (see `blockdev.backup`); a stopped one with qemu-img
convert. Restore writes the copies back over the disks of the stopped instance in place
(`qemu-img convert -n`), so the disks keep their files, keys and internal snapshots; a copy
must be one standalone file of lecs's own, and each restored disk's chain only lecs's own
files (`volume.owned_chain`).
"""

from __future__ import annotations

import builtins
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.drivers.protocol import Driver
from backend.drivers.qemu import volume
from backend.drivers.qemu.argv import DriveSpec
from backend.drivers.qemu.blockdev import BackupPair
from backend.drivers.qemu.volume import Volume
from backend.inventory import validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, LecsError, NotFoundError, StateError
from backend.inventory.ids import new_id
from backend.inventory.journal import effect, journaled, step
from backend.inventory.locks import Locks
from backend.inventory.paths import Paths, missing_file, private_dir
from backend.inventory.records import InstanceState
from backend.inventory.store import Store
from backend.storage.disks import Disks
from backend.storage.keystore import KeyStore
from backend.storage.records import Backup, BackupDisk, BackupState

Progress = Callable[[float, str], None]
Rows = list[dict[str, Any]]


class Backups:
    def __init__(
        self, store: Store, paths: Paths, audit: Audit, driver: Driver, disks: Disks,
        keys: KeyStore, locks: Locks,
    ) -> None:
        self.store = store
        self.paths = paths
        self.audit = audit
        self.driver = driver
        self.disks = disks
        self.journal = disks.journal
        self.keys = keys
        self.locks = locks

    @property
    def root(self) -> Path:
        return self.paths.home / "backups"

    # ---- reading -------------------------------------------------------------------
    def _row(self, ref: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM backups WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"backup {ref!r} not found")
        return row

    def _build(self, row: dict[str, Any]) -> Backup:
        disks = [
            BackupDisk(
                disk_id=d["disk_id"], disk_name=d["disk_name"], role=d["role"],
                position=d["position"], path=d["path"], virtual_size=d["virtual_size"],
                size_bytes=d["size_bytes"], encrypted=bool(d["encrypted"]),
            )
            for d in self.store.rows(
                "SELECT * FROM backup_disks WHERE backup_id = ? ORDER BY position", [row["id"]]
            )
        ]
        state, error = BackupState(row["state"]), row["error"]
        if state is BackupState.AVAILABLE:  # checked against reality, the row unchanged
            gone = missing_file(*(d.path for d in disks))
            state, error = (BackupState.ERROR, gone) if gone else (state, error)
        return Backup(
            id=row["id"], name=row["name"], instance_id=row["instance_id"],
            instance_name=row["instance_name"], state=state,
            created_at=row["created_at"], size_bytes=row["size_bytes"],
            online=bool(row["online"]), error=error, disks=disks,
        )

    def get(self, ref: str) -> Backup:
        return self._build(self._row(ref))

    def list(self, instance: str | None = None) -> list[Backup]:
        sql, params = "SELECT * FROM backups", []
        if instance is not None:
            sql += " WHERE instance_id = ? OR instance_name = ?"
            params = [instance, instance]
        return [self._build(r) for r in self.store.rows(sql + " ORDER BY created_at", params)]

    def key_id(self, backup_id: str, disk_id: str) -> str:
        return f"{backup_id}.{disk_id}"

    def _copy(self, backup_id: str, d: dict[str, Any]) -> Volume:
        key = self.keys.require(self.key_id(backup_id, d["disk_id"])) if d["encrypted"] else None
        return Volume(Path(d["path"]), key)

    # ---- create --------------------------------------------------------------------
    @journaled("backup.create")
    async def create(
        self, instance: str, name: str | None = None, progress: Progress | None = None
    ) -> Backup:
        with self.audit.track("backup.create", instance, {"instance": instance,
                                                          "name": name}) as t:
            if name is not None:
                validate.name(name, "backup name")
                if self.store.row("SELECT id FROM backups WHERE name = ?", [name]):
                    raise ConflictError(f"a backup named {name!r} exists already")
            inst = self.disks.instance_row(instance)
            self.disks.settle([inst["id"]])
            async with self.locks.hold(inst["id"]):
                inst = self.disks.instance_row(inst["id"])
                if inst["state"] not in (InstanceState.RUNNING, InstanceState.STOPPED):
                    raise StateError(
                        f"cannot back up instance {inst['name']!r}: it is {inst['state']}"
                        " (backup needs running or stopped)"
                    )
                live = inst["state"] == InstanceState.RUNNING
                backup_id = new_id("bk")
                t.resource = backup_id
                # Before its dir, keys and row: recovery rolls an unfinished one back.
                effect("backup.sync", backup=backup_id, instance=inst["id"], live=live)
                name = name or f"{inst['name'][:40]}-{time.strftime('%Y%m%d-%H%M%S')}"
                t.parameters["name"] = name
                await self._run(backup_id, name, inst, live, progress)
            return self.get(backup_id)

    async def _run(
        self, backup_id: str, name: str, inst: dict[str, Any], live: bool,
        progress: Progress | None,
    ) -> None:
        rows = self.store.rows(
            "SELECT * FROM disks WHERE instance_id = ? ORDER BY position", [inst["id"]]
        )
        directory = private_dir(private_dir(self.root) / backup_id)
        copies: builtins.list[dict[str, Any]] = []
        for r in rows:
            meta = await volume.info(self.disks.volume(r), in_use=live)
            copies.append({
                "backup_id": backup_id, "disk_id": r["id"], "disk_name": r["name"],
                "role": r["role"], "position": r["position"] or 0,
                "path": str(directory / f"{r['id']}.qcow2"),
                "virtual_size": int(meta["virtual-size"]), "encrypted": r["encrypted"],
            })
        with self.store.transaction() as db:
            db.table("backups").insert({
                "id": backup_id, "name": name, "instance_id": inst["id"],
                "instance_name": inst["name"], "state": BackupState.CREATING.value,
                "created_at": time.time(), "online": int(live),
            })
            db.table("backup_disks").insert_all(copies)
        try:
            for c in copies:
                if c["encrypted"]:
                    self.keys.create(self.key_id(backup_id, c["disk_id"]))
            if live:
                await self._live(inst["id"], backup_id, copies, progress)
            else:
                await self._offline(backup_id, rows, copies, progress)
            step("copied")
            total = 0
            with self.store.transaction() as db:
                for c in copies:
                    size = Path(c["path"]).stat().st_size
                    total += size
                    db.table("backup_disks").update((backup_id, c["disk_id"]),
                                                    {"size_bytes": size})
                db.table("backups").update(backup_id, {"state": BackupState.AVAILABLE.value,
                                                       "size_bytes": total})
        except BaseException as exc:
            self._discard(backup_id, copies)
            with self.store.transaction() as db:
                db.table("backups").update(backup_id, {
                    "state": BackupState.ERROR.value,
                    "error": str(exc) or type(exc).__name__})
            raise

    async def _live(
        self, instance_id: str, backup_id: str, copies: Rows, progress: Progress | None,
    ) -> None:
        pairs = []
        for c in copies:
            copy = self._copy(backup_id, c)
            await volume.create(copy, c["virtual_size"])
            pairs.append(BackupPair(c["disk_id"], DriveSpec(
                node=f"t-{c['disk_id']}", path=str(copy.path),
                secret=str(copy.key) if copy.key else "")))

        def report(done: int, total: int) -> None:
            if progress:
                progress(done / total if total else 1.0, "backup")

        await self.driver.backup_disks(instance_id, pairs, report)
        if progress:
            progress(1.0, "backup")

    async def _offline(
        self, backup_id: str, rows: Rows, copies: Rows, progress: Progress | None,
    ) -> None:
        total = sum(c["virtual_size"] for c in copies) or 1
        done = 0
        for r, c in zip(rows, copies, strict=True):

            def report(fraction: float, before: int = done, size: int = c["virtual_size"]) -> None:
                if progress:
                    progress((before + fraction * size) / total, "backup")

            await volume.convert(self.disks.volume(r), self._copy(backup_id, c), report)
            done += c["virtual_size"]
        if progress:
            progress(1.0, "backup")

    def _discard(self, backup_id: str, copies: builtins.list[dict[str, Any]]) -> None:
        shutil.rmtree(self.root / backup_id, ignore_errors=True)
        for c in copies:
            self.keys.remove(self.key_id(backup_id, c["disk_id"]))

    # ---- restore -------------------------------------------------------------------
    @journaled("backup.restore")
    async def restore(self, ref: str, progress: Progress | None = None) -> Backup:
        with self.audit.track("backup.restore", ref) as t:
            backup = self._row(ref)
            t.resource = backup["id"]
            if backup["state"] != BackupState.AVAILABLE:
                raise StateError(f"cannot restore backup {backup['name']!r}: it is"
                                 f" {backup['state']} (restore needs available)")
            try:
                inst = self.disks.instance_row(backup["instance_id"])
            except NotFoundError:
                raise NotFoundError(f"instance {backup['instance_name']!r} of backup"
                                    f" {backup['name']!r} no longer exists") from None
            self.disks.settle([inst["id"]])
            async with self.locks.hold(inst["id"]):
                inst = self.disks.instance_row(inst["id"])
                if inst["state"] != InstanceState.STOPPED:
                    raise StateError(
                        f"cannot restore backup {backup['name']!r} to instance"
                        f" {inst['name']!r}: it is {inst['state']} (restore needs it stopped);"
                        " stop the instance first"
                    )
                copies = self.store.rows(
                    "SELECT * FROM backup_disks WHERE backup_id = ? ORDER BY position",
                    [backup["id"]])
                current = {r["id"]: r for r in self.store.rows(
                    "SELECT * FROM disks WHERE instance_id = ?", [inst["id"]])}
                gone = [c["disk_name"] for c in copies if c["disk_id"] not in current]
                if gone:
                    raise ConflictError(
                        f"cannot restore backup {backup['name']!r}: disk(s) {', '.join(gone)}"
                        f" are no longer attached to instance {inst['name']!r}"
                    )
                # A killed restore is done again: the disks are the backup's, whatever part of
                # them the first attempt had written.
                effect("backup.sync", backup=backup["id"], instance=inst["id"], restore=True)
                await self.write_back(backup["id"], copies, current, progress)
            return self.get(backup["id"])

    async def write_back(
        self, backup_id: str, copies: Rows, current: dict[str, dict[str, Any]],
        progress: Progress | None = None,
    ) -> None:
        """Each copy over its disk in place (the instance is stopped and locked). Every copy
        must be one standalone file of lecs's own (a copy whose header names another file is
        refused before any disk is written), and every restored disk's chain only lecs's own
        files after."""
        for c in copies:
            try:
                files = await volume.owned_chain(self._copy(backup_id, c), self.paths.home)
            except LecsError as exc:
                raise LecsError(f"cannot restore backup {backup_id}: {exc}") from None
            if len(files) != 1:
                raise LecsError(f"cannot restore backup {backup_id}: its copy of disk"
                                f" {c['disk_name']} names a backing file ({files[1]})")
        total = sum(c["virtual_size"] for c in copies) or 1
        done = 0
        for c in copies:
            row = current[c["disk_id"]]

            def report(f: float, before: int = done, size: int = c["virtual_size"]
                       ) -> None:
                if progress:
                    progress((before + f * size) / total, "restore")

            # Over the disk in place (-n): a disk grown since keeps its extra tail.
            await volume.convert(self._copy(backup_id, c), self.disks.volume(row),
                                 report, into_existing=True)
            await volume.owned_chain(self.disks.volume(row), self.paths.home)
            self.disks._set(row["id"], snapshot_head=None)
            done += c["virtual_size"]
            step("restored")
        if progress:
            progress(1.0, "restore")

    # ---- delete --------------------------------------------------------------------
    def delete(self, ref: str) -> None:
        with self.audit.track("backup.delete", ref) as t:
            backup = self._row(ref)
            t.resource = backup["id"]
            if backup["state"] == BackupState.CREATING:
                raise StateError(f"cannot delete backup {backup['name']!r}: it is creating"
                                 " (delete needs available or error)")
            copies = self.store.rows("SELECT * FROM backup_disks WHERE backup_id = ?",
                                     [backup["id"]])
            with self.journal.sync_operation("backup.delete", backup["id"]) as op:
                op.effect("backup.sync", backup=backup["id"],
                          disks=[c["disk_id"] for c in copies])
                with self.store.transaction() as db:
                    db.table("backups").delete(backup["id"])
                op.step("row")
                self._discard(backup["id"], copies)
