"""LocalDriver: QEMU processes on this host, daemonized, driven through QMP sockets."""

from __future__ import annotations

from pathlib import Path

from backend import accel as accel_mod
from backend.paths import Paths, private_dir
from backend.qemu import monitor, process
from backend.qemu.argv import LaunchSpec, build_argv
from backend.qemu.process import Liveness


class LocalDriver:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        found = accel_mod.host_accel()
        self.accel = found.name
        self.accel_reason = found.reason

    def rundir(self, instance_id: str) -> Path:
        return self.paths.instance_runtime(instance_id)

    async def launch(self, spec: LaunchSpec) -> int:
        process.guard_rundir(spec.rundir)
        private_dir(spec.rundir)
        process.clean_runtime(spec.rundir)
        for stale in ("serial.log", "qemu.err"):
            (spec.rundir / stale).unlink(missing_ok=True)
        pid = await process.spawn(build_argv(spec), spec.rundir)
        for name in ("qmp.sock", "events.sock", "serial.sock"):
            sock = spec.rundir / name
            if sock.exists():
                sock.chmod(0o600)
        return pid

    def liveness(self, instance_id: str, pid: int | None) -> tuple[Liveness, int | None]:
        return process.liveness(self.rundir(instance_id), pid)

    async def run_status(self, instance_id: str) -> str:
        return await monitor.query_status(self.rundir(instance_id) / "qmp.sock")

    async def powerdown(self, instance_id: str) -> None:
        async with monitor.session(self.rundir(instance_id) / "qmp.sock") as mon:
            await mon.execute("system_powerdown")

    async def reset(self, instance_id: str) -> None:
        async with monitor.session(self.rundir(instance_id) / "qmp.sock") as mon:
            await mon.execute("system_reset")

    async def wait_exit(self, instance_id: str, pid: int, timeout: float) -> bool:
        return await process.wait_exit(pid, self.rundir(instance_id), timeout)

    async def quit(self, instance_id: str, pid: int) -> None:
        """`quit` over QMP, then SIGKILL if QEMU is still there a moment later."""
        rundir = self.rundir(instance_id)
        try:
            async with monitor.session(rundir / "qmp.sock", timeout=2.0) as mon:
                await mon.execute_ignoring_eof("quit")
        except Exception:  # a wedged or half-dead QEMU: fall through to the kill
            pass
        if not await process.wait_exit(pid, rundir, 3.0):
            process.kill(pid, rundir)
            await process.wait_exit(pid, rundir, 5.0)

    def kill(self, instance_id: str, pid: int) -> None:
        process.kill(pid, self.rundir(instance_id))

    def cleanup(self, instance_id: str, keep_logs: bool = True) -> None:
        process.clean_runtime(self.rundir(instance_id), keep_logs=keep_logs)
