"""Instances (ECS analog): create, start, stop, reboot, force-stop, delete, tag.

Launching QEMU (launch spec, ports, boot, readiness) is `Launcher` (backend/compute/launch.py),
the system disk backend/compute/system_disk.py. Reading (backend/compute/reader.py) needs none
of the operation code here: disk images, QEMU's argv and monitor, port forwards, readiness
probes are imported on first use: keeps the dashboard's first frame quick.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from typing import TYPE_CHECKING, Any

from backend.compute import states
from backend.compute.catalogue import Catalogue
from backend.compute.launch import Launcher
from backend.compute.readiness import Readiness, level_of
from backend.compute.reboot import PRESS_EVERY, Progress
from backend.compute.records import Instance, InstanceType
from backend.drivers.protocol import Driver
from backend.drivers.qemu.process import Liveness
from backend.inventory import journal
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, QemuError, StateError
from backend.inventory.ids import new_id
from backend.inventory.journal import journaled_sync
from backend.inventory.locks import Locks
from backend.inventory.paths import Paths
from backend.inventory.records import Image, InstanceState
from backend.inventory.store import Store
from backend.network.instance_net import InstanceNetworking

if TYPE_CHECKING:
    from collections.abc import Callable

    from backend.images.service import Images
    from backend.inventory.journal import Journal, Operation

S = InstanceState


class Instances(Launcher):
    def __init__(
        self, store: Store, paths: Paths, audit: Audit, driver: Driver, catalogue: Catalogue,
        images: Callable[[], Images], journal: Journal,
    ) -> None:
        """`images()`: the image service, built on first use (not on the start path)."""
        self.store = store
        self.journal = journal
        self.paths = paths
        self.audit = audit
        self.driver = driver
        self.catalogue = catalogue
        self._images = images
        self.locks = Locks(paths.runtime / "locks")
        self.stop_timeout = 30.0
        # Security groups, key pairs, user-data, bridge networks (backend/network).
        self.net = InstanceNetworking(store, paths, audit, driver, self.locks, journal)

    @property
    def images(self) -> Images:
        return self._images()

    # ---- create --------------------------------------------------------------------
    async def create(
        self,
        name: str,
        image: str,
        itype: str,
        tags: dict[str, str] | None = None,
        disk_gib: int | None = None,
        start: bool = True,
        wait: bool | Readiness = False,
        wait_timeout: float = 60.0,
        sgs: builtins.list[str] | None = None,
        keypair: str | None = None,
        user_data: bytes | str | None = None,
        hostname: str | None = None,
        network: str | None = None,
    ) -> Instance:
        from backend.images import capture
        from backend.inventory import validate

        params = {"name": name, "image": image, "type": itype, "tags": tags or {},
                  "disk_gib": disk_gib, "sgs": sgs or ["default"], "keypair": keypair,
                  "user_data_bytes": len(user_data) if user_data is not None else None,
                  "hostname": hostname, "network": network}
        with self.audit.track("instance.create", name, params) as t:
            validate.name(name, "instance name")
            if start:
                self.driver.check()
            if self.store.row("SELECT id FROM instances WHERE name = ?", [name]):
                raise ConflictError(f"an instance named {name!r} exists already")
            flavor = self.catalogue.get(itype)
            source = self.images.get(image)
            if source.state.value != "available":
                raise StateError(f"image {source.name!r} is {source.state.value}, not available")
            if disk_gib is not None:
                disk_gib = validate.size_gib(disk_gib, "system disk size")
            instance_id = new_id("i")
            t.resource = instance_id
            capture.check_names(self.store, name, source)
            async with self.journal.operation("instance.create", instance_id) as op:
                await self._create(op, instance_id, name, source, flavor, disk_gib, tags, sgs,
                                   keypair, user_data, hostname, network, start)
        if start and wait:
            await self.wait_ready(instance_id, wait_timeout, level_of(wait))
        return self.get(instance_id, reconcile=False)

    async def _create(
        self, op: Operation, instance_id: str, name: str, source: Image, flavor: InstanceType,
        disk_gib: int | None, tags: dict[str, str] | None, sgs: builtins.list[str] | None,
        keypair: str | None, user_data: bytes | str | None, hostname: str | None,
        network: str | None, start: bool,
    ) -> None:
        from backend.compute.system_disk import make_system_disk
        from backend.images import capture

        disk_ids = [new_id("d") for _ in range(1 + len(source.data_disks))]
        # Before any file exists: what a crash here must take away (compute/recovery.py).
        op.effect("instance.purge", instance=instance_id, disks=disk_ids,
                  files=[str(self.paths.disks / f"{d}.qcow2") for d in disk_ids])
        net = self.net.prepare(instance_id, name, sgs, keypair, user_data, hostname, network,
                               disk_image=not source.is_kernel)
        made: builtins.list[dict[str, Any]] = []  # system disk, then a full image's data
        try:
            made.append(await make_system_disk(self.paths, disk_ids[0], instance_id, name,
                                               source, disk_gib))
            op.step("disks")
            await capture.make_data_disks(self.paths, instance_id, name, source, made,
                                          disk_ids[1:])
        except BaseException:
            capture.remove_files(self.paths, made)
            net.discard()
            raise
        now = time.time()
        try:
            with self.store.transaction() as db:
                db.table("instances").insert({
                    "id": instance_id, "name": name, "type": flavor.name,
                    "image_id": source.id, "state": S.PENDING.value, "created_at": now,
                    "started_at": None, "pid": None, "accel": self.driver.accel,
                    "last_error": "", **net.instance_fields,
                })
                db.table("disks").insert_all(made)
                net.insert(db)
                if tags:
                    db.table("tags").insert_all(
                        [{"resource_id": instance_id, "key": k, "value": v}
                         for k, v in tags.items()]
                    )
        except BaseException as exc:
            capture.remove_files(self.paths, made)
            net.discard()
            if isinstance(exc, ConflictError) and self.store.row(
                "SELECT id FROM instances WHERE name = ?", [name]
            ):  # another process took the name while the disks were made
                raise ConflictError(f"an instance named {name!r} exists already") from None
            raise
        op.step("row")
        if start:
            async with self.locks.hold(instance_id):
                await self._boot(instance_id, from_state=S.PENDING)
        else:
            self._set(instance_id, state=S.STOPPED.value)

    # ---- power operations ----------------------------------------------------------
    async def _op(self, op: str, ref: str, params: dict[str, Any] | None = None,
                  **how: Any) -> Any:
        row = self._row(ref)
        with self.audit.track(f"instance.{op}", row["id"], params or {}) as tracked:
            async with self.locks.hold(row["id"]):
                row = self._row(row["id"])
                state = S(row["state"])
                states.check(op, state, row["name"])
                if op == "start":
                    self.driver.check()
                async with self.journal.operation(f"instance.{op}", row["id"]) as jop:
                    # A killed delete is finished; a killed clean reboot too; any other killed
                    # power operation leaves the row to follow its QEMU (compute/recovery.py).
                    more = {"reboot": "force" if how.get("force") else "clean"} \
                        if op == "reboot" else {}
                    jop.effect("instance.purge" if op == "delete" else "instance.settle",
                               instance=row["id"], **more)
                    if op == "reboot":
                        how["said"] = tracked.parameters  # how it went, in its audit event
                    await getattr(self, "_do_" + op.replace("-", "_"))(row, state, **how)
        return self.get(row["id"], reconcile=False) if op != "delete" else None

    async def start(self, ref: str, wait: bool | Readiness = False,
                    timeout: float = 60.0) -> Instance:
        """With `wait`, return once the guest is ready (True) or at that level."""
        self._pre_reconcile(ref)
        inst = await self._op("start", ref)
        if wait:
            await self.wait_ready(inst.id, timeout, level_of(wait))
        return inst

    async def stop(self, ref: str, timeout: float | None = None,
                   progress: Progress | None = None) -> Instance:
        """ACPI power button, pressed again every PRESS_EVERY s (a guest still booting, e.g.
        right after a reboot, ignores an early press); QEMU is quit after `timeout`."""
        self._pre_reconcile(ref)
        timeout = timeout or self.stop_timeout
        return await self._op("stop", ref, {"timeout": timeout}, timeout=timeout,
                              progress=progress)

    async def reboot(self, ref: str, wait: bool | Readiness = False, timeout: float = 60.0,
                     force: bool = False, shutdown_timeout: float | None = None,
                     progress: Progress | None = None) -> Instance:
        """A clean reboot: the guest shuts down (ACPI button, pressed again every PRESS_EVERY
        s), QEMU holding on its power-off resets it (backend/compute/reboot.py); reset anyway
        after `shutdown_timeout`. `force`: a reset at once. With `wait`, return once the guest
        is up again (as `start --wait`) within `timeout`."""
        self._pre_reconcile(ref)
        shutdown_timeout = shutdown_timeout or self.stop_timeout
        inst = await self._op("reboot", ref, {"force": force, "timeout": shutdown_timeout},
                              force=force, timeout=shutdown_timeout, progress=progress)
        if wait:
            await self.wait_ready(inst.id, timeout, level_of(wait))
        return inst

    async def force_stop(self, ref: str) -> Instance:
        self._pre_reconcile(ref)
        return await self._op("force-stop", ref)

    async def delete(self, ref: str) -> None:
        self._pre_reconcile(ref)
        await self._op("delete", ref)

    def _pre_reconcile(self, ref: str) -> None:
        row = self.store.row("SELECT id FROM instances WHERE id = ? OR name = ?", [ref, ref])
        if row:
            self.reconcile([row["id"]])

    async def _do_start(self, row: dict[str, Any], state: S) -> None:
        await self._boot(row["id"], from_state=state)

    async def _do_stop(self, row: dict[str, Any], state: S, timeout: float = 30.0,
                       progress: Progress | None = None) -> None:
        instance_id, pid = row["id"], row["pid"]
        self._set(instance_id, state=S.STOPPING.value)
        journal.step("powerdown")
        loop = asyncio.get_running_loop()
        started, presses, exited = loop.time(), 0, False
        while not exited and (waited := loop.time() - started) < timeout:
            presses += 1
            if progress:
                progress(waited / timeout, f"waiting for the guest to power off (ACPI button"
                                           f" pressed {presses}x, quit after {timeout:.0f}s)")
            try:
                await self.driver.powerdown(instance_id)
            except QemuError:  # not answering now: keep waiting for it to exit
                pass
            exited = await self.driver.wait_exit(
                instance_id, pid, min(PRESS_EVERY, timeout - (loop.time() - started)))
        if not exited:
            await self.driver.quit(instance_id, pid)
        self.driver.cleanup(instance_id)
        self._set(instance_id, state=S.STOPPED.value, pid=None, started_at=None)

    async def _do_force_stop(self, row: dict[str, Any], state: S) -> None:
        from backend.compute.recovery import kill_proven

        await kill_proven(self, row["id"], row["pid"])
        self.driver.cleanup(row["id"])
        self._set(row["id"], state=S.STOPPED.value, pid=None, started_at=None, last_error="")

    async def _do_reboot(self, row: dict[str, Any], state: S, force: bool = False,
                         timeout: float = 30.0, progress: Progress | None = None,
                         said: dict[str, Any] | None = None) -> None:
        from backend.compute import reboot

        self._set(row["id"], state=S.REBOOTING.value)
        log = self.driver.rundir(row["id"]) / "serial.log"
        try:
            if self._settle_user_data(row):  # this QEMU still has the first boot's seed
                await self.driver.change_seed(row["id"], str(self.net.seed_path(row["id"])))
            if force:
                log.write_bytes(b"")
                journal.step("reset")
                await self.driver.reset(row["id"])
            else:
                clean = await reboot.clean(self.driver, row["id"], row["pid"], timeout, log,
                                           progress)
                if said is not None:
                    said["outcome"] = "clean" if clean else f"reset after {timeout:.0f}s"
        except BaseException as exc:
            # A QEMU slow to answer is not a broken one: while it lives it stays running.
            live, _pid = self.driver.liveness(row["id"], row["pid"])
            alive = live is Liveness.ALIVE
            self._set(row["id"], state=(S.RUNNING if alive else S.ERROR).value,
                      last_error=f"reboot: {exc}" if alive else str(exc))
            raise
        self._set(row["id"], state=S.RUNNING.value, started_at=time.time())

    async def _do_delete(self, row: dict[str, Any], state: S) -> None:
        from backend.compute.recovery import remove

        await remove(self, row["id"])
        self.locks.forget(row["id"])

    # ---- tags ----------------------------------------------------------------------
    @journaled_sync("instance.tag")
    def tag(
        self, ref: str, add: dict[str, str], remove: builtins.list[str] | None = None
    ) -> Instance:
        row = self._row(ref)
        with self.audit.track("instance.tag", row["id"], {"add": add, "remove": remove or []}):
            with self.store.transaction() as db:
                for key in remove or []:
                    db.execute(
                        "DELETE FROM tags WHERE resource_id = ? AND key = ?", [row["id"], key]
                    )
                if add:
                    db.table("tags").upsert_all(
                        [{"resource_id": row["id"], "key": k, "value": v} for k, v in add.items()],
                        pk=("resource_id", "key"),
                    )
        return self.get(row["id"], reconcile=False)
