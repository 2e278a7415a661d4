"""Instances (ECS analog): create, start, stop, reboot, force-stop, delete, tag.

Reading (backend/compute/reader.py) needs none of the operation code here: disk images,
QEMU's argv and monitor, port forwards, readiness probes are imported on first use: keeps
the dashboard's first frame quick.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.compute import states
from backend.compute.catalogue import Catalogue
from backend.compute.reader import InstanceRecords
from backend.compute.records import Instance, InstanceType
from backend.drivers.protocol import Driver
from backend.drivers.qemu.process import Liveness
from backend.inventory import journal, validate
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, LecsError, QemuError, StateError
from backend.inventory.ids import new_id
from backend.inventory.journal import journaled_sync
from backend.inventory.locks import Locks
from backend.inventory.paths import Paths, private_dir
from backend.inventory.records import DiskState, Image, InstanceState
from backend.inventory.store import Store
from backend.network.instance_net import InstanceNetworking

if TYPE_CHECKING:
    from backend.drivers.qemu.argv import LaunchSpec
    from backend.images.service import Images
    from backend.inventory.journal import Journal, Operation

S = InstanceState
READY_MARKER = b"LECS-GUEST-READY"
KERNEL_SYSTEM_DISK_GIB = 1
PRESS_EVERY = 3.0  # seconds between ACPI power-button presses while a stop waits
Progress = Callable[[float, str], None]  # (fraction done, what is happening)


class Instances(InstanceRecords):
    def __init__(
        self, store: Store, paths: Paths, audit: Audit, driver: Driver, catalogue: Catalogue,
        images: Images, journal: Journal,
    ) -> None:
        self.store = store
        self.journal = journal
        self.paths = paths
        self.audit = audit
        self.driver = driver
        self.catalogue = catalogue
        self.images = images
        self.locks = Locks(paths.runtime / "locks")
        self.stop_timeout = 30.0
        # Security groups, key pairs, user-data, bridge networks (backend/network).
        self.net = InstanceNetworking(store, paths, audit, driver, self.locks, journal)

    # ---- create --------------------------------------------------------------------
    async def create(
        self,
        name: str,
        image: str,
        itype: str,
        tags: dict[str, str] | None = None,
        disk_gib: int | None = None,
        start: bool = True,
        wait: bool = False,
        wait_timeout: float = 60.0,
        sgs: builtins.list[str] | None = None,
        keypair: str | None = None,
        user_data: bytes | str | None = None,
        hostname: str | None = None,
        network: str | None = None,
    ) -> Instance:
        from backend.images import capture

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
            await self.wait_ready(instance_id, wait_timeout)
        return self.get(instance_id, reconcile=False)

    async def _create(
        self, op: Operation, instance_id: str, name: str, source: Image, flavor: InstanceType,
        disk_gib: int | None, tags: dict[str, str] | None, sgs: builtins.list[str] | None,
        keypair: str | None, user_data: bytes | str | None, hostname: str | None,
        network: str | None, start: bool,
    ) -> None:
        from backend.images import capture

        disk_ids = [new_id("d") for _ in range(1 + len(source.data_disks))]
        # Before any file exists: what a crash here must take away (compute/recovery.py).
        op.effect("instance.purge", instance=instance_id, disks=disk_ids,
                  files=[str(self.paths.disks / f"{d}.qcow2") for d in disk_ids])
        net = self.net.prepare(instance_id, name, sgs, keypair, user_data, hostname, network,
                               disk_image=not source.is_kernel)
        made: builtins.list[dict[str, Any]] = []  # system disk, then a full image's data
        try:
            made.append(await self._make_system_disk(disk_ids[0], instance_id, name, source,
                                                     disk_gib))
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

    async def _make_system_disk(
        self, disk_id: str, instance_id: str, name: str, source: Image, disk_gib: int | None
    ) -> dict[str, Any]:
        from backend.drivers.qemu import img

        private_dir(self.paths.disks)
        cache = private_dir(self.paths.home / "cache")
        path = self.paths.disks / f"{disk_id}.qcow2"
        if source.is_kernel and not source.path:  # kernel+initrd only: a blank disk
            size_gib = disk_gib or KERNEL_SYSTEM_DISK_GIB
            await img.create_blank_fast(path, size_gib << 30, cache / f"blank-{size_gib}g.qcow2")
            backing = None
        else:
            image_gib = max(1, -(-source.size_bytes // (1 << 30)))
            if disk_gib is not None and disk_gib < image_gib:
                raise LecsError(
                    f"system disk of {disk_gib} GiB is smaller than image {source.name!r}"
                    f" ({image_gib} GiB)"
                )
            backing_format = "qcow2" if source.is_kernel else source.format  # kernel + disk
            # The disk is as large as the inventory says: an image of 64 MiB gives a system
            # disk of 1 GiB (its size rounded up to whole GiB), never a smaller file.
            size_gib = disk_gib or image_gib
            grow = size_gib << 30 if size_gib << 30 > source.size_bytes else None
            if source.is_kernel and disk_gib is None:  # its size_bytes is the kernel's
                grow = None
            suffix = f"-{size_gib}g" if grow else ""
            await img.create_overlay(path, Path(source.path), backing_format,
                                     cache / f"overlay-{source.id}{suffix}.qcow2", grow)
            backing = source.id
        return {
            "id": disk_id, "name": f"{name}-system", "size_gib": size_gib, "format": "qcow2",
            "role": "system", "state": DiskState.IN_USE.value, "path": str(path),
            "instance_id": instance_id, "delete_with_instance": 1, "encrypted": 0,
            "created_at": time.time(), "backing_image_id": backing, "position": 0,
        }

    def launch_spec(self, instance_id: str) -> LaunchSpec:
        from backend.drivers.qemu.argv import DriveSpec, ForwardSpec, LaunchSpec
        from backend.network.ports import mac_for
        from backend.storage.keystore import key_path

        row = self._row(instance_id)
        flavor = self.catalogue.get(row["type"])
        image = self.images.get(row["image_id"])
        extra = self._extras([instance_id])
        drives = tuple(
            DriveSpec(node=d.id, path=d.path, format=d.format, boot=d.role == "system",
                      secret=str(key_path(self.paths, d.id)) if d.encrypted else "")
            for d in extra["disks"].get(instance_id, [])
        )
        forwards = tuple(
            ForwardSpec(f.protocol, f.host_addr, f.host_port, f.guest_port)
            for f in extra["forwards"].get(instance_id, [])
        )
        return LaunchSpec(
            instance_id=instance_id, name=row["name"], vcpus=flavor.vcpus,
            memory_mib=flavor.memory_mib, accel=self.driver.accel,
            rundir=self.driver.rundir(instance_id), drives=drives, forwards=forwards,
            kernel=image.kernel if image.is_kernel else "",
            initrd=image.initrd if image.is_kernel else "",
            cmdline=self._cmdline(image, row), mac=mac_for(instance_id),
            **self.net.launch_fields(row, disk_image=not image.is_kernel),
        )

    def _settle_user_data(self, row: dict[str, Any]) -> bool:
        """User-data once per instance (backend/network/instance_net.py)."""
        disk_image = not self.images.get(row["image_id"]).is_kernel
        return self.net.settle_user_data(row, disk_image=disk_image)

    def _cmdline(self, image: Image, row: dict[str, Any]) -> str:
        """A kernel image's command line, plus the hostname (the instance's name unless one
        was given): the tiny guest takes it from there when it has no seed."""
        if not image.is_kernel:
            return ""
        return f"{image.cmdline} lecs.hostname={self.net.hostname_of(row)}".strip()

    def _refresh_ports(self, instance_id: str) -> None:
        """A stopped instance's host ports may have been taken meanwhile (by something that
        is not lecs: lecs never records a port twice): pick new ones, inside the write
        transaction that stores them."""
        from backend.network import usermode

        with self.store.transaction() as db:
            used = usermode.recorded_ports(db)
            rows = self.store.rows("SELECT * FROM forwards WHERE instance_id = ?",
                                   [instance_id])
            for r in rows:
                if not usermode.port_is_free(r["protocol"], r["host_addr"], r["host_port"]):
                    port = usermode.free_port(r["protocol"], r["host_addr"], used,
                                              usermode.preferred_port(
                                                  instance_id, r["protocol"], r["host_addr"],
                                                  r["guest_port"]))
                    used.add(port)
                    db.table("forwards").update(
                        (instance_id, r["protocol"], r["guest_port"]), {"host_port": port}
                    )

    async def _boot(self, instance_id: str, from_state: S) -> None:
        from backend.drivers.qemu import monitor

        self._set(instance_id, state=S.STARTING.value, last_error="")
        try:
            self._refresh_ports(instance_id)
            self._settle_user_data(self._row(instance_id))
            spec = self.launch_spec(instance_id)
            self._set(instance_id, egress_restricted=int(spec.restrict))
            journal.step("launch")
            pid = await self.driver.launch(spec)
            journal.step("launched")
            self._set(instance_id, pid=pid)
            await monitor.wait_for_socket(spec.qmp_socket, timeout=10.0)
        except BaseException as exc:
            row = self._row(instance_id)
            if row["pid"]:
                await self.driver.quit(instance_id, row["pid"])
            self.driver.cleanup(instance_id)
            self._set(instance_id, state=S.ERROR.value, pid=None, last_error=str(exc))
            raise
        self._set(instance_id, state=S.RUNNING.value, started_at=time.time(), accel=spec.accel)

    async def wait_ready(self, ref: str, timeout: float = 60.0) -> float:
        """Wait for the guest: its serial marker, or an SSH banner on the forwarded port."""
        from backend.compute.readiness import ssh_banner

        inst = self.get(ref, reconcile=False)
        log = Path(inst.runtime_dir) / "serial.log"
        ssh = inst.port_for(22)
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < timeout:
            try:
                if READY_MARKER in log.read_bytes():
                    return loop.time() - started
            except OSError:
                pass
            if ssh and await ssh_banner("127.0.0.1", ssh):
                return loop.time() - started
            live, _ = self.driver.liveness(inst.id, inst.pid)
            if live is not Liveness.ALIVE:
                self.reconcile([inst.id])
                raise QemuError(f"instance {inst.name!r} stopped before the guest was ready")
            await asyncio.sleep(0.1)
        raise QemuError(f"guest of {inst.name!r} not ready after {timeout:.0f}s")

    # ---- power operations ----------------------------------------------------------
    async def _op(self, op: str, ref: str, params: dict[str, Any] | None = None,
                  **how: Any) -> Any:
        row = self._row(ref)
        with self.audit.track(f"instance.{op}", row["id"], params or {}):
            async with self.locks.hold(row["id"]):
                row = self._row(row["id"])
                state = S(row["state"])
                states.check(op, state, row["name"])
                if op == "start":
                    self.driver.check()
                async with self.journal.operation(f"instance.{op}", row["id"]) as jop:
                    # A killed delete is finished; any other killed power operation leaves
                    # the row to follow its QEMU (backend/compute/recovery.py).
                    jop.effect("instance.purge" if op == "delete" else "instance.settle",
                               instance=row["id"])
                    await getattr(self, "_do_" + op.replace("-", "_"))(row, state, **how)
        return self.get(row["id"], reconcile=False) if op != "delete" else None

    async def start(self, ref: str, wait: bool = False, timeout: float = 60.0) -> Instance:
        self._pre_reconcile(ref)
        inst = await self._op("start", ref)
        if wait:
            await self.wait_ready(inst.id, timeout)
        return inst

    async def stop(self, ref: str, timeout: float | None = None,
                   progress: Progress | None = None) -> Instance:
        """ACPI power button, pressed again every PRESS_EVERY s (a guest still booting, e.g.
        right after a reboot, ignores an early press); QEMU is quit after `timeout`."""
        self._pre_reconcile(ref)
        timeout = timeout or self.stop_timeout
        return await self._op("stop", ref, {"timeout": timeout}, timeout=timeout,
                              progress=progress)

    async def reboot(self, ref: str, wait: bool = False, timeout: float = 60.0) -> Instance:
        """Reset; with `wait`, return once the guest is up again (as `start --wait`)."""
        self._pre_reconcile(ref)
        inst = await self._op("reboot", ref)
        if wait:
            await self.wait_ready(inst.id, timeout)
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

    async def _do_reboot(self, row: dict[str, Any], state: S) -> None:
        self._set(row["id"], state=S.REBOOTING.value)
        try:
            if self._settle_user_data(row):  # this QEMU still has the first boot's seed
                await self.driver.change_seed(row["id"], str(self.net.seed_path(row["id"])))
            (self.driver.rundir(row["id"]) / "serial.log").write_bytes(b"")
            journal.step("reset")
            await self.driver.reset(row["id"])
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
