"""LocalDriver: QEMU processes on this host, daemonized, driven through QMP sockets.

Reading liveness (pidfiles, the process table) is all that listing instances needs; the
operation code (argv, QMP and blockdev, the bridge, the metrics collector) is imported on
first use: keeps the dashboard's first frame quick.
"""

from __future__ import annotations

import os
import shutil
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from backend.drivers.qemu import accel as accel_mod
from backend.drivers.qemu import process
from backend.inventory.errors import QemuError
from backend.inventory.paths import Paths, private_dir

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from backend.drivers.qemu.argv import DriveSpec, ForwardSpec, LaunchSpec
    from backend.drivers.qemu.blockdev import BackupPair, Progress
    from backend.drivers.qemu.counters import LocalCollector
    from backend.drivers.qemu.monitor import Monitor
    from backend.drivers.qemu.process import Liveness
    from backend.drivers.records import GuestCounters


class LocalDriver:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        found = accel_mod.host_accel()
        self.accel = found.name
        self.accel_reason = found.reason

    @cached_property
    def collector(self) -> LocalCollector:
        """The sampler's QMP connections and psutil handles (built on the first sample)."""
        from backend.drivers.qemu.counters import LocalCollector

        return LocalCollector(self.rundir)

    def rundir(self, instance_id: str) -> Path:
        return self.paths.instance_runtime(instance_id)

    def rundir_text(self, instance_id: str) -> str:
        return f"{self.paths.runtime}{os.sep}{instance_id}"  # == str(rundir(instance_id))

    def unrecorded(self, instance_id: str) -> list[int]:
        return process.find(self.rundir(instance_id))

    def check(self) -> None:
        """QEMU is there to launch (else a one-line error before anything is made)."""
        if shutil.which("qemu-system-x86_64") is None:
            raise QemuError("qemu-system-x86_64 is not installed here:"
                            " apt-get install qemu-system-x86 (see `lecs doctor`)")

    async def launch(self, spec: LaunchSpec) -> int:
        from backend.drivers.qemu import bridge
        from backend.drivers.qemu.argv import build_argv

        process.guard_rundir(spec.rundir)
        private_dir(spec.rundir)
        process.clean_runtime(spec.rundir)
        for stale in ("serial.log", "qemu.err"):
            (spec.rundir / stale).unlink(missing_ok=True)
        pid = await process.spawn(build_argv(spec), spec.rundir)
        try:
            if spec.tap:  # bridge mode: QEMU made the tap; it goes when QEMU goes
                bridge.plug(spec.netns, spec.tap, spec.bridge)
            else:
                self._start_egress(spec)
        except BaseException:
            process.kill(pid, spec.rundir)
            self._stop_egress(spec.rundir)
            raise
        for name in process.RUNTIME_FILES:
            sock = spec.rundir / name
            if name.endswith(".sock") and sock.exists():
                sock.chmod(0o600)
        return pid

    # ---- user mode's egress NIC (backend/drivers/qemu/passt.py) -------------------------
    def _start_egress(self, spec: LaunchSpec) -> None:
        from backend.drivers.qemu import passt
        from backend.inventory import journal

        if not spec.egress:
            passt.write_mode(spec.rundir, passt.NONE if spec.restrict else passt.UNSEALED)
            return
        passt.write_mode(spec.rundir, spec.egress)
        if journal.CURRENT.get() is not None:  # killed from here on: recovery repairs it
            journal.effect("passt", instance=spec.instance_id)
        passt.launch(spec.rundir, host_loopback=spec.egress == passt.HOST)

    def _stop_egress(self, rundir: Path) -> None:
        from backend.drivers.qemu import passt

        passt.stop(rundir)
        for name in passt.RUNTIME_FILES:
            (rundir / name).unlink(missing_ok=True)

    def egress_status(self, instance_id: str) -> str:
        from backend.drivers.qemu import passt

        return passt.status(self.rundir(instance_id))

    def egress_mode(self, instance_id: str) -> str:
        from backend.drivers.qemu import passt

        return passt.mode(self.rundir(instance_id))

    def repair_egress(self, instance_id: str, pid: int | None) -> str:
        """Bring a user-mode instance's passt in line with its QEMU; returns what was done.

        QEMU alive and launched with a passt NIC but no proven passt: a new one is attached
        (QEMU re-accepts). QEMU gone: its passt, if any, is stopped.
        """
        from backend.drivers.qemu import passt

        rundir = self.rundir(instance_id)
        launched = passt.mode(rundir)
        live, _pid = process.liveness(rundir, pid)
        if live is not process.Liveness.ALIVE:
            return "stopped its passt" if passt.stop(rundir) else ""
        if launched not in (passt.SEALED, passt.HOST) or passt.proven(rundir) is not None:
            return ""
        try:
            passt.launch(rundir, host_loopback=launched == passt.HOST)
        except QemuError as exc:  # shown in the details (egress down) until it works
            return str(exc)
        return "restarted its passt"

    def liveness(self, instance_id: str, pid: int | None) -> tuple[Liveness, int | None]:
        return process.liveness(self.rundir(instance_id), pid)

    def _qmp(self, instance_id: str) -> Path:
        return self.rundir(instance_id) / "qmp.sock"

    def _session(
        self, instance_id: str, timeout: float = 5.0
    ) -> AbstractAsyncContextManager[Monitor]:
        """A short QMP session on the instance's monitor (backend/drivers/qemu/monitor.py)."""
        from backend.drivers.qemu import monitor

        return monitor.session(self._qmp(instance_id), timeout=timeout)

    async def run_status(self, instance_id: str) -> str:
        from backend.drivers.qemu import monitor

        return await monitor.query_status(self._qmp(instance_id))

    async def io_errors(self, instance_id: str) -> dict[str, str]:
        async with self._session(instance_id) as mon:
            reply = await mon.execute("query-block")
        found: dict[str, str] = {}
        for block in reply:
            if block.get("io-status") in (None, "ok"):
                continue
            qdev = str(block.get("qdev") or block.get("device") or "?")  # a QOM path
            device = next((p for p in qdev.split("/") if p.startswith("dev-")), qdev)
            found[device] = str(block["io-status"])
        return found

    async def resume(self, instance_id: str) -> None:
        async with self._session(instance_id) as mon:
            await mon.execute("cont")

    async def pause(self, instance_id: str) -> None:
        async with self._session(instance_id) as mon:
            await mon.execute("stop")

    async def powerdown(self, instance_id: str) -> None:
        async with self._session(instance_id) as mon:
            await mon.execute("system_powerdown")

    async def reset(self, instance_id: str) -> None:
        async with self._session(instance_id) as mon:
            await mon.execute("system_reset")

    async def hold_on_poweroff(self, instance_id: str, hold: bool) -> None:
        async with self._session(instance_id) as mon:
            await mon.execute("set-action", {"shutdown": "pause" if hold else "poweroff"})

    async def change_seed(self, instance_id: str, path: str) -> None:
        from backend.drivers.qemu.argv import SEED_DEVICE

        async with self._session(instance_id) as mon:  # the tiny guest leaves it unmounted
            await mon.execute("blockdev-change-medium", {
                "id": SEED_DEVICE, "filename": path, "format": "raw",
                "read-only-mode": "read-only"})

    async def wait_exit(self, instance_id: str, pid: int, timeout: float) -> bool:
        return await process.wait_exit(pid, self.rundir(instance_id), timeout)

    async def quit(self, instance_id: str, pid: int) -> None:
        """`quit` over QMP, then SIGKILL if QEMU is still there a moment later."""
        rundir = self.rundir(instance_id)
        try:
            async with self._session(instance_id, timeout=2.0) as mon:
                await mon.execute_ignoring_eof("quit")
        except Exception:  # a wedged or half-dead QEMU: fall through to the kill
            pass
        if not await process.wait_exit(pid, rundir, 3.0):
            process.kill(pid, rundir)
            await process.wait_exit(pid, rundir, 5.0)

    def kill(self, instance_id: str, pid: int) -> None:
        process.kill(pid, self.rundir(instance_id))

    async def sample(self, instance_id: str, pid: int) -> GuestCounters:
        """Counters for the sampler: QMP on events.sock (long-lived) plus psutil."""
        return await self.collector.sample(instance_id, pid)

    async def release_sampling(self, instance_id: str | None = None) -> None:
        if "collector" in self.__dict__:  # nothing to release if nothing was sampled
            await self.collector.forget(instance_id)

    def cleanup(self, instance_id: str, keep_logs: bool = True) -> None:
        """After QEMU is gone: its passt too, then the stale sockets and pid files."""
        rundir = self.rundir(instance_id)
        if rundir.exists():
            self._stop_egress(rundir)
        process.clean_runtime(rundir, keep_logs=keep_logs)

    # ---- storage on a running instance (backend/drivers/qemu/blockdev.py) ----------------------
    async def attach_disk(self, instance_id: str, drive: DriveSpec) -> None:
        from backend.drivers.qemu import blockdev

        await blockdev.attach(self._qmp(instance_id), drive)

    async def detach_disk(self, instance_id: str, drive: DriveSpec, timeout: float) -> None:
        from backend.drivers.qemu import blockdev

        await blockdev.detach(self._qmp(instance_id), drive, timeout)

    async def abort_backup(self, instance_id: str, disk_ids: list[str]) -> None:
        from backend.drivers.qemu import blockdev

        await blockdev.abort_backup(self._qmp(instance_id), disk_ids)

    async def disk_plugged(self, instance_id: str, node: str) -> tuple[bool, bool]:
        from backend.drivers.qemu import blockdev

        return await blockdev.plugged(self._qmp(instance_id), node)

    async def unplug_disk(self, instance_id: str, drive: DriveSpec, timeout: float) -> None:
        from backend.drivers.qemu import blockdev

        await blockdev.unplug_quietly(self._qmp(instance_id), drive, timeout)

    async def resize_disk(self, instance_id: str, node: str, size_bytes: int) -> None:
        from backend.drivers.qemu import blockdev

        await blockdev.resize(self._qmp(instance_id), node, size_bytes)

    async def snapshot_disks(self, instance_id: str, items: list[tuple[str, str]]) -> None:
        from backend.drivers.qemu import blockdev

        await blockdev.snapshot_internal(self._qmp(instance_id), items)

    async def delete_disk_snapshot(self, instance_id: str, node: str, tag: str) -> None:
        from backend.drivers.qemu import blockdev

        await blockdev.delete_internal(self._qmp(instance_id), node, tag)

    async def backup_disks(
        self, instance_id: str, pairs: list[BackupPair], progress: Progress | None,
    ) -> None:
        from backend.drivers.qemu import blockdev

        await blockdev.backup(self._qmp(instance_id), pairs, progress)

    # ---- user-mode networking on a running instance (backend/network/usermode.py) --------
    async def _hmp(self, instance_id: str, command: str, ok: str = "") -> None:
        async with self._session(instance_id) as mon:
            reply = await mon.execute("human-monitor-command", {"command-line": command})
        text = str(reply or "").strip()
        if text and not (ok and text.endswith(ok)):  # silent (or `ok`) unless it failed
            raise QemuError(f"{command.split()[0]} failed: {text.splitlines()[-1]}")

    async def add_forward(self, instance_id: str, forward: ForwardSpec) -> None:
        await self._hmp(instance_id, f"hostfwd_add n0 {forward.protocol}:{forward.host_addr}:"
                                     f"{forward.host_port}-:{forward.guest_port}")

    async def remove_forward(self, instance_id: str, forward: ForwardSpec) -> None:
        await self._hmp(instance_id, f"hostfwd_remove n0 {forward.protocol}:"
                                     f"{forward.host_addr}:{forward.host_port}", ok="removed")
