"""Launching an instance's QEMU: its launch spec (drives, forwards, kernel command line, seed),
the host ports it forwards (refreshed before each boot), the boot itself, and waiting for
the guest to be ready.

`Launcher` is a base of `Instances` (backend/compute/instances.py holds the operations);
reading is `InstanceRecords` (backend/compute/reader.py). Heavy imports happen on first use.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.compute.catalogue import Catalogue
from backend.compute.reader import InstanceRecords
from backend.compute.readiness import Readiness
from backend.compute.records import Instance
from backend.drivers.qemu.process import Liveness
from backend.inventory import journal
from backend.inventory.errors import QemuError
from backend.inventory.paths import Paths
from backend.inventory.records import Image, InstanceState

if TYPE_CHECKING:
    from backend.drivers.qemu.argv import LaunchSpec
    from backend.images.service import Images

S = InstanceState


class Launcher(InstanceRecords):
    """Boot an instance's QEMU from its rows; wait for its guest."""

    paths: Paths
    catalogue: Catalogue

    @property
    def images(self) -> Images:
        raise NotImplementedError  # Instances gives it

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

    async def wait_ready(self, ref: str, timeout: float = 60.0,
                         level: Readiness = Readiness.READY) -> float:
        """Wait for the guest to reach `level` (backend/compute/readiness.py): READY, an SSH
        banner on the forwarded port or its line on the serial console; CONFIGURED, the
        serial console's line that the user-data ran (cloud-init's, or the tiny guest's)."""
        from backend.compute.readiness import of_log, ssh_banner

        inst = self.get(ref, reconcile=False)
        log = str(Path(inst.runtime_dir) / "serial.log")
        ssh = inst.port_for(22) if level is Readiness.READY else None
        loop = asyncio.get_running_loop()
        started = loop.time()
        probe: asyncio.Task[bool] | None = None  # one SSH probe at a time, the log read meanwhile
        try:
            while (waited := loop.time() - started) < timeout:
                seen = of_log(log)
                if seen is not None and seen.rank >= level.rank:
                    return waited
                if probe is not None and probe.done():
                    if probe.result():
                        return waited
                    probe = None
                if ssh and probe is None:
                    probe = asyncio.ensure_future(
                        ssh_banner("127.0.0.1", ssh, min(15.0, max(0.5, timeout - waited))))
                live, _ = self.driver.liveness(inst.id, inst.pid)
                if live is not Liveness.ALIVE:
                    self.reconcile([inst.id])
                    raise QemuError(f"instance {inst.name!r} stopped before the guest was"
                                    f" {level.value}{last_console_line(log)}")
                await asyncio.sleep(0.1)
        finally:
            if probe is not None:
                probe.cancel()
        what = {Readiness.READY: "ready (no SSH banner)",
                Readiness.CONFIGURED: "configured (no cloud-init 'finished' line on its serial"
                                      " console)"}.get(level, level.value)
        raise QemuError(f"guest of {inst.name!r} not {what} after {timeout:.0f}s")

    def readiness(self, inst: Instance) -> Readiness | None:
        """How far a running instance's guest is, from its serial console; None if it is not
        running or has no serial log (backend/compute/readiness.py)."""
        from backend.compute.readiness import of_log

        if inst.state is not S.RUNNING or not inst.runtime_dir:
            return None
        return of_log(os.path.join(inst.runtime_dir, "serial.log"))


def last_console_line(log: str) -> str:
    """'; its console ended: …' with the guest's last line (cleaned, shortened), so a guest
    that powered off or panicked while booting says so; '' if it printed nothing."""
    from backend.compute.console_log import clean

    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = [ln.strip() for ln in clean(f.read()).splitlines() if ln.strip()]
    except OSError:
        return ""
    return f"; its console ended: {lines[-1][:160]!r}" if lines else ""
