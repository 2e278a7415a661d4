"""Block work on a running QEMU over QMP: hot attach/detach, online resize, internal
snapshots and backup jobs. Each call opens its own short QMP session on the instance's
`qmp.sock`; long jobs are polled in fresh sessions so the monitor stays free meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qemu.qmp import EventListener, Message

from backend.drivers.qemu import monitor
from backend.drivers.qemu.argv import DriveSpec, blockdev_options
from backend.inventory import journal
from backend.inventory.errors import QemuError

Progress = Callable[[int, int], None]  # bytes done, bytes total


async def _undo(mon: monitor.Monitor, steps: list[tuple[str, dict[str, Any]]]) -> None:
    for command, arguments in reversed(steps):
        try:
            await mon.execute(command, arguments)
        except QemuError:
            pass


async def _open_nodes(mon: monitor.Monitor, drives: list[DriveSpec]) -> list[tuple[str, Any]]:
    """object-add the secrets and blockdev-add the nodes; returns the undo steps."""
    undo: list[tuple[str, Any]] = []
    try:
        for drive in drives:
            if drive.secret:
                await mon.execute("object-add", {"qom-type": "secret", "id": drive.secret_id,
                                                 "file": drive.secret})
                undo.append(("object-del", {"id": drive.secret_id}))
            await mon.execute("blockdev-add", blockdev_options(drive))
            undo.append(("blockdev-del", {"node-name": drive.node}))
    except QemuError:
        await _undo(mon, undo)
        raise
    return undo


async def attach(sock: Path, drive: DriveSpec) -> None:
    """blockdev-add the disk (after its secret, if encrypted), then device_add virtio-blk."""
    async with monitor.session(sock) as mon:
        undo = await _open_nodes(mon, [drive])
        journal.step("node")
        try:
            await mon.execute("device_add", {"driver": "virtio-blk-pci", "id": drive.device_id,
                                             "drive": drive.node, "serial": drive.serial})
        except QemuError:
            await _undo(mon, undo)
            raise


async def detach(sock: Path, drive: DriveSpec, timeout: float = 30.0) -> None:
    """device_del, wait for the guest to let go (DEVICE_DELETED naming our device: QEMU
    sends a first one for the virtio backend's QOM path), then blockdev-del and object-del."""
    device = drive.device_id

    def ours(msg: Message) -> bool:
        data = msg.get("data") or {}
        return isinstance(data, dict) and data.get("device") == device

    async with monitor.session(sock) as mon:
        listener = EventListener("DEVICE_DELETED", event_filter=ours)
        with mon.client.listen(listener):
            try:
                await mon.execute("device_del", {"id": device})
            except QemuError as exc:
                if "DeviceNotFound" not in str(exc):  # gone already (an earlier unplug)
                    raise
            else:
                try:
                    await asyncio.wait_for(listener.get(), timeout)
                except TimeoutError:
                    raise QemuError(
                        f"the guest did not release {drive.node} within {timeout:.0f}s"
                        " (no ACPI hotplug support?); it stays attached"
                    ) from None
        journal.step("device-deleted")
        await mon.execute("blockdev-del", {"node-name": drive.node})
        if drive.secret:
            await _undo(mon, [("object-del", {"id": drive.secret_id})])


async def resize(sock: Path, node: str, size_bytes: int) -> None:
    async with monitor.session(sock) as mon:
        await mon.execute("block_resize", {"node-name": node, "size": size_bytes})


async def snapshot_internal(sock: Path, items: list[tuple[str, str]]) -> None:
    """Internal qcow2 snapshots of running disks, (node, tag) pairs, in one `transaction`.

    Why this mechanism: `blockdev-snapshot-internal-sync` drains the node's in-flight
    guest I/O and records the snapshot inside the qcow2 file while the guest is held at
    that point, so the snapshot is crash-consistent (what a power cut would leave), and a
    `transaction` makes several disks' snapshots one atomic point in time. The disk stays
    one file with no overlay chain to manage, so rollback is `qemu-img snapshot -a` on the
    stopped disk and delete is a metadata update. External `blockdev-snapshot-sync` would
    change the active file under the guest and need block-commit to delete; `snapshot-save`
    also saves RAM and is VM-wide, which is not an EVS disk snapshot.
    """
    actions = [{"type": "blockdev-snapshot-internal-sync", "data": {"device": n, "name": t}}
               for n, t in items]
    async with monitor.session(sock) as mon:
        await mon.execute("transaction", {"actions": actions})


async def delete_internal(sock: Path, node: str, tag: str) -> None:
    async with monitor.session(sock) as mon:
        await mon.execute("blockdev-snapshot-delete-internal-sync", {"device": node, "name": tag})


@dataclass(frozen=True, slots=True)
class BackupPair:
    source: str  # the running disk's node name
    target: DriveSpec  # a fresh qcow2 of the same size (encrypted with its own key if need be)
    sync: str = "full"  # "top": only the source's top layer, into a target on its backing

    @property
    def job(self) -> str:
        return f"job-{self.source}"


async def backup(
    sock: Path, pairs: list[BackupPair], progress: Progress | None = None, poll: float = 0.2
) -> None:
    """Full backup of several running disks, crash-consistent across them.

    The targets are opened as nodes, then one QMP `transaction` starts a `blockdev-backup`
    (sync=full) job per disk: all jobs take their point in time together (copy-before-write
    keeps that image while the guest writes on), and `completion-mode: grouped` fails them
    together. The jobs are polled in short sessions; on any exit the targets are closed.
    """
    async with monitor.session(sock) as mon:
        undo = await _open_nodes(mon, [p.target for p in pairs])
        actions = [{"type": "blockdev-backup", "data": {
            "device": p.source, "target": p.target.node, "sync": p.sync, "job-id": p.job,
            "auto-dismiss": False}} for p in pairs]
        try:
            await mon.execute("transaction", {"actions": actions,
                                              "properties": {"completion-mode": "grouped"}})
        except QemuError:
            await _undo(mon, undo)
            raise
    journal.step("jobs")
    jobs = {p.job for p in pairs}
    try:
        error = await _wait_jobs(sock, jobs, progress, poll)
    finally:
        await _finish_jobs(sock, jobs, undo)
    if error:
        raise QemuError(f"backup job failed: {error}")


async def _wait_jobs(sock: Path, jobs: set[str], progress: Progress | None, poll: float) -> str:
    while True:
        async with monitor.session(sock) as mon:
            found = [j for j in await mon.execute("query-jobs") if j["id"] in jobs]
        if progress:
            progress(sum(j["current-progress"] for j in found),
                     sum(j["total-progress"] for j in found))
        errors = [f"{j['id']}: {j['error']}" for j in found if j.get("error")]
        if len(found) < len(jobs):
            return "a job vanished"
        if all(j["status"] == "concluded" for j in found):
            return "; ".join(errors)
        await asyncio.sleep(poll)


async def _finish_jobs(sock: Path, jobs: set[str], undo: list[tuple[str, Any]]) -> None:
    """Cancel what still runs, dismiss what concluded, close the target nodes."""
    async with monitor.session(sock) as mon:
        for _ in range(100):
            found = [j for j in await mon.execute("query-jobs") if j["id"] in jobs]
            for job in found:
                if job["status"] == "concluded":
                    await _undo(mon, [("job-dismiss", {"id": job["id"]})])
                elif job["status"] not in ("aborting", "null"):
                    await _undo(mon, [("job-cancel", {"id": job["id"]})])
            if not found:
                break
            await asyncio.sleep(0.05)
        await _undo(mon, undo)


async def plugged(sock: Path, node: str) -> tuple[bool, bool]:
    """(device present, block node present) for a disk id on a running QEMU (recovery)."""
    async with monitor.session(sock) as mon:
        devices = await mon.execute("query-block")
        nodes = await mon.execute("query-named-block-nodes", {"flat": True})
    device = any(d.get("qdev") == f"dev-{node}" or d.get("device") == f"dev-{node}"
                 or (d.get("inserted") or {}).get("node-name") == node for d in devices)
    return device, any(n.get("node-name") == node for n in nodes)


async def unplug_quietly(sock: Path, drive: DriveSpec, timeout: float) -> None:
    """Take a disk out of a running QEMU as far as it is in, ignoring what is gone already."""
    device, node = await plugged(sock, drive.node)
    if device:
        await detach(sock, drive, timeout)
        return
    async with monitor.session(sock) as mon:
        steps: list[tuple[str, dict[str, Any]]] = []
        if drive.secret:
            steps.append(("object-del", {"id": drive.secret_id}))
        if node:
            steps.append(("blockdev-del", {"node-name": drive.node}))
        await _undo(mon, steps)


async def abort_backup(sock: Path, disk_ids: list[str]) -> None:
    """Recovery of a killed live backup: cancel its jobs, close its target nodes."""
    jobs = {f"job-{d}" for d in disk_ids}
    undo: list[tuple[str, Any]] = []
    for d in disk_ids:
        undo += [("object-del", {"id": f"sec-t-{d}"}), ("blockdev-del", {"node-name": f"t-{d}"})]
    await _finish_jobs(sock, jobs, undo)
