"""Counters of local QEMU processes for `LocalDriver.sample` (QMP + psutil).

One long-lived QMP session per instance on its second monitor, `events.sock`, so sampling
never competes with operations on `qmp.sock`. QEMU serves one client per monitor socket; if
another process holds `events.sock` (a second sampler), connecting times out and this falls
back to a short session on `qmp.sock` per sample, retrying `events.sock` now and then.
Per sample: `query-blockstats` and the balloon's `guest-stats` over QMP, and the vCPU threads'
CPU time from psutil (`query-cpus-fast` thread ids, read once per session).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qemu.qmp import QMPClient

from backend.drivers.qemu import monitor
from backend.drivers.records import GuestCounters
from backend.inventory.errors import QemuError

if TYPE_CHECKING:
    import psutil

BALLOON = "/machine/peripheral/balloon0"
CONNECT_TIMEOUT = 1.0
CALL_TIMEOUT = 3.0
RETRY_EVENTS_AFTER = 30.0
_TAP = re.compile(r"type=tap,.*?ifname=([\w.-]+)")


@dataclass(slots=True)
class _Session:
    pid: int
    proc: psutil.Process
    client: QMPClient | None  # None: short sessions on qmp.sock
    vcpu_tids: tuple[int, ...] = ()
    tap: str | None = None
    balloon: bool = True
    opened: float = field(default_factory=time.monotonic)


async def _disconnect(client: QMPClient | None) -> None:
    if client is None:
        return
    try:
        await client.disconnect()
    except Exception:  # the peer may be gone already; nothing left to release
        pass


def _blocks(reply: list[dict[str, Any]]) -> tuple[int, int, int, int]:
    rd_b = wr_b = rd_o = wr_o = 0
    for entry in reply:
        stats = entry.get("stats", {})
        rd_b += int(stats.get("rd_bytes", 0))
        wr_b += int(stats.get("wr_bytes", 0))
        rd_o += int(stats.get("rd_operations", 0))
        wr_o += int(stats.get("wr_operations", 0))
    return rd_b, wr_b, rd_o, wr_o


def balloon_memory(reply: dict[str, Any]) -> tuple[int | None, int | None]:
    """(total, available) bytes from `guest-stats`, or (None, None) if the guest never reported."""
    stats = reply.get("stats") or {}
    total = int(stats.get("stat-total-memory", -1))
    avail = int(stats.get("stat-available-memory", -1))
    if avail < 0:
        avail = int(stats.get("stat-free-memory", -1))
    if not reply.get("last-update") or total <= 0 or avail < 0:
        return None, None
    return total, min(avail, total)


def tap_name(info_network: str) -> str | None:
    """The tap interface behind the guest NIC in HMP `info network`, if the mode is tap."""
    found = _TAP.search(info_network)
    return found.group(1) if found else None


def net_dev_counters(text: str, ifname: str) -> tuple[int | None, int | None]:
    """Guest view (in, out) of `ifname` in /proc/net/dev text: the tap transmits what the
    guest receives and receives what the guest sends."""
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() == ifname:
            fields = rest.split()
            if len(fields) >= 9:
                return int(fields[8]), int(fields[0])
    return None, None


def _tap_counters(pid: int, ifname: str) -> tuple[int | None, int | None]:
    """Read through QEMU's /proc entry: the tap lives in QEMU's network namespace."""
    try:
        return net_dev_counters(Path(f"/proc/{pid}/net/dev").read_text(), ifname)
    except (OSError, ValueError):
        return None, None


class LocalCollector:
    def __init__(self, rundir: Callable[[str], Path], stats_interval: int = 1) -> None:
        self.rundir = rundir
        self.stats_interval = stats_interval
        self._sessions: dict[str, _Session] = {}

    async def _call(self, sess: _Session, instance_id: str, command: str,
                    args: dict[str, Any] | None = None) -> Any:
        if sess.client is not None:
            return await asyncio.wait_for(sess.client.execute(command, args), CALL_TIMEOUT)
        async with monitor.session(self.rundir(instance_id) / "qmp.sock", CALL_TIMEOUT) as mon:
            return await mon.execute(command, args)

    async def _open(self, instance_id: str, pid: int) -> _Session:
        import psutil  # on the first sample: off the dashboard's start-up path

        try:
            proc = psutil.Process(pid)
        except psutil.Error as exc:
            raise QemuError(f"QEMU pid {pid} is gone: {exc}") from None
        client = QMPClient(f"lecs-sampler-{instance_id}")
        held: QMPClient | None = client
        try:
            await asyncio.wait_for(
                client.connect(str(self.rundir(instance_id) / "events.sock")), CONNECT_TIMEOUT)
        except Exception:  # held by another sampler, or QEMU is going away
            await _disconnect(client)
            held = None
        sess = _Session(pid=pid, proc=proc, client=held)
        try:
            cpus = await self._call(sess, instance_id, "query-cpus-fast")
        except Exception as exc:
            await _disconnect(held)
            raise QemuError(f"QMP of {instance_id} does not answer: {exc}") from None
        sess.vcpu_tids = tuple(int(c["thread-id"]) for c in cpus)
        try:
            hmp = await self._call(sess, instance_id, "human-monitor-command",
                                   {"command-line": "info network"})
            sess.tap = tap_name(str(hmp))
        except Exception:  # HMP passthrough missing: treat the NIC as counter-less
            sess.tap = None
        try:
            await self._call(sess, instance_id, "qom-set", {
                "path": BALLOON, "property": "guest-stats-polling-interval",
                "value": self.stats_interval})
        except Exception:  # no balloon device: mem_util stays n/a
            sess.balloon = False
        return sess

    async def sample(self, instance_id: str, pid: int) -> GuestCounters:
        sess = self._sessions.get(instance_id)
        stale = sess is not None and (
            sess.pid != pid or (sess.client is None
                                and time.monotonic() - sess.opened > RETRY_EVENTS_AFTER))
        if sess is None or stale:
            await self.forget(instance_id)
            sess = self._sessions[instance_id] = await self._open(instance_id, pid)
        try:
            status = await self._call(sess, instance_id, "query-status")
            blocks = _blocks(await self._call(sess, instance_id, "query-blockstats"))
            total = avail = None
            if sess.balloon:
                total, avail = balloon_memory(await self._call(
                    sess, instance_id, "qom-get", {"path": BALLOON, "property": "guest-stats"}))
            threads = {t.id: t.user_time + t.system_time for t in sess.proc.threads()}
            rss = sess.proc.memory_info().rss
        except Exception as exc:
            await self.forget(instance_id)
            raise QemuError(f"sampling {instance_id} failed: {exc or type(exc).__name__}") from None
        seen: set[int] = set()
        vcpus = []
        for tid in sess.vcpu_tids:  # TCG round-robin runs every vCPU on one thread
            vcpus.append(0.0 if tid in seen else threads.get(tid, 0.0))
            seen.add(tid)
        net_in, net_out = _tap_counters(pid, sess.tap) if sess.tap else (None, None)
        return GuestCounters(
            t=time.monotonic(), vcpu_seconds=tuple(vcpus), rss_bytes=rss,
            disk_rd_bytes=blocks[0], disk_wr_bytes=blocks[1], disk_rd_ops=blocks[2],
            disk_wr_ops=blocks[3], mem_total_bytes=total, mem_available_bytes=avail,
            net_in_bytes=net_in, net_out_bytes=net_out, run_status=str(status.get("status")))

    async def forget(self, instance_id: str | None = None) -> None:
        """Close the session of one instance (or of all): QEMU frees its monitor at once."""
        ids = list(self._sessions) if instance_id is None else [instance_id]
        for key in ids:
            sess = self._sessions.pop(key, None)
            if sess is not None:
                await _disconnect(sess.client)

    def holding(self) -> list[str]:
        return [k for k, s in self._sessions.items() if s.client is not None]

