"""The seam between the inventory and a hypervisor host.

Everything specific to the local host (spawning QEMU, paths, sockets, pid files,
networking) sits behind `Driver`; a libvirt driver for remote zones can stand beside
`backend.drivers.qemu.local.LocalDriver` without touching the inventory, the dashboard or the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: importing the Protocol loads no QEMU code
    from backend.drivers.qemu.argv import DriveSpec, ForwardSpec, LaunchSpec
    from backend.drivers.qemu.blockdev import BackupPair, Progress
    from backend.drivers.qemu.process import Liveness
    from backend.drivers.records import GuestCounters


class Driver(Protocol):
    accel: str
    accel_reason: str

    def rundir(self, instance_id: str) -> Path: ...

    def rundir_text(self, instance_id: str) -> str:
        """str(rundir(id)) without building a Path (listing 1,000 instances: ~3 ms)."""
        ...

    def unrecorded(self, instance_id: str) -> list[int]:
        """Live QEMUs of this instance that no pid file names (recovery only)."""
        ...

    def check(self) -> None:
        """Raise a one-line error if this host cannot launch instances now."""
        ...

    async def launch(self, spec: LaunchSpec) -> int: ...

    def liveness(self, instance_id: str, pid: int | None) -> tuple[Liveness, int | None]: ...

    async def run_status(self, instance_id: str) -> str: ...

    async def io_errors(self, instance_id: str) -> dict[str, str]:
        """Disks whose last I/O failed: {node or device: "nospace" | "failed"}."""
        ...

    async def resume(self, instance_id: str) -> None:
        """Let a guest QEMU stopped (an I/O error, a pause) run again."""
        ...

    async def pause(self, instance_id: str) -> None:
        """Stop the guest's vCPUs (QMP `stop`): the process and its memory stay."""
        ...

    async def powerdown(self, instance_id: str) -> None: ...

    async def reset(self, instance_id: str) -> None: ...

    async def hold_on_poweroff(self, instance_id: str, hold: bool) -> None:
        """hold: the guest's power-off leaves QEMU alive, paused in runstate `shutdown` (QMP
        set-action shutdown=pause), for a clean reboot; not hold: a power-off ends QEMU."""
        ...

    async def change_seed(self, instance_id: str, path: str) -> None:
        """Put the seed ISO at `path` (rewritten) in the running instance's seed CD-ROM."""
        ...

    async def wait_exit(self, instance_id: str, pid: int, timeout: float) -> bool: ...

    async def quit(self, instance_id: str, pid: int) -> None: ...

    def kill(self, instance_id: str, pid: int) -> None: ...

    def cleanup(self, instance_id: str, keep_logs: bool = True) -> None: ...

    # User mode's egress NIC (passt): one line for the details, how it was launched, and
    # the repair a reconcile or recovery runs (a dead passt restarted, an orphan stopped).
    def egress_status(self, instance_id: str) -> str: ...

    def egress_mode(self, instance_id: str) -> str: ...

    def repair_egress(self, instance_id: str, pid: int | None) -> str: ...

    # Monitoring: cumulative counters of one running instance (vCPU time, RSS, disk I/O,
    # guest memory, NIC bytes); the sampler turns deltas into rates. A libvirt driver would
    # read the same from virDomainListGetStats.
    async def sample(self, instance_id: str, pid: int) -> GuestCounters: ...

    async def release_sampling(self, instance_id: str | None = None) -> None: ...

    # Storage on a running instance (backend/disks, snapshots, backups). Node names are
    # disk ids; a libvirt driver maps them to attachDevice/blockResize/snapshot/backup.
    async def attach_disk(self, instance_id: str, drive: DriveSpec) -> None: ...

    async def detach_disk(self, instance_id: str, drive: DriveSpec, timeout: float) -> None: ...

    async def resize_disk(self, instance_id: str, node: str, size_bytes: int) -> None: ...

    # Recovery of a killed attach/detach: (device present, node present), and an unplug
    # that takes out whatever part is still in.
    async def disk_plugged(self, instance_id: str, node: str) -> tuple[bool, bool]: ...

    async def unplug_disk(self, instance_id: str, drive: DriveSpec, timeout: float) -> None: ...

    async def abort_backup(self, instance_id: str, disk_ids: list[str]) -> None: ...

    async def snapshot_disks(self, instance_id: str, items: list[tuple[str, str]]) -> None: ...

    async def delete_disk_snapshot(self, instance_id: str, node: str, tag: str) -> None: ...

    async def backup_disks(
        self, instance_id: str, pairs: list[BackupPair], progress: Progress | None
    ) -> None: ...

    # Networking on a running instance (backend/network). User mode: host port forwards
    # (QEMU hostfwd). Bridge mode: the host's bridge, taps, dnsmasq and nftables, through
    # backend/network/bridge.py; a libvirt driver would map these to its network and nwfilter.
    async def add_forward(self, instance_id: str, forward: ForwardSpec) -> None: ...

    async def remove_forward(self, instance_id: str, forward: ForwardSpec) -> None: ...
