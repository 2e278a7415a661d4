"""The seam between the inventory and a hypervisor host.

Everything specific to the local host (spawning QEMU, paths, sockets, pid files,
networking) sits behind `Driver`; a libvirt driver for remote zones can stand beside
`backend.qemu.local.LocalDriver` without touching the inventory, the dashboard or the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from backend.qemu.argv import LaunchSpec
from backend.qemu.process import Liveness


class Driver(Protocol):
    accel: str
    accel_reason: str

    def rundir(self, instance_id: str) -> Path: ...

    async def launch(self, spec: LaunchSpec) -> int: ...

    def liveness(self, instance_id: str, pid: int | None) -> tuple[Liveness, int | None]: ...

    async def run_status(self, instance_id: str) -> str: ...

    async def powerdown(self, instance_id: str) -> None: ...

    async def reset(self, instance_id: str) -> None: ...

    async def wait_exit(self, instance_id: str, pid: int, timeout: float) -> bool: ...

    async def quit(self, instance_id: str, pid: int) -> None: ...

    def kill(self, instance_id: str, pid: int) -> None: ...

    def cleanup(self, instance_id: str, keep_logs: bool = True) -> None: ...
