"""The sampler: one non-overlapping async loop over all running instances and the host.

Each tick asks the driver for every running instance's cumulative counters (concurrently),
turns deltas since the previous tick into rates, samples the host, hands the samples to
History (batched writes) and lets Alarms judge the rules. The next tick is scheduled only
after the last one finished, `interval` seconds after it started.

One sampler per inventory writes history: the loop holds an flock on
`<runtime>/locks/sampler.lock` (with its pid inside). A second lecs process that starts a
sampler (a second dashboard, `lecs metric watch`) follows: it does not sample, retries the
lock every tick and takes over when the holder exits; meanwhile `Metrics.latest()` reads the
leader's flushed samples from SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from backend.drivers.protocol import Driver
from backend.drivers.records import GuestCounters
from backend.inventory.locks import Locks
from backend.inventory.records import InstanceState
from backend.inventory.store import Store
from backend.monitoring.alarms import Alarms
from backend.monitoring.history import History
from backend.monitoring.host import HostSampler
from backend.monitoring.records import MetricSample

LOCK = "sampler"
StatusHook = Callable[[str, str], Awaitable[bool]]  # (instance id, QEMU runstate) -> changed
SAMPLED = (InstanceState.RUNNING.value, InstanceState.PAUSED.value)


def _rate(old: int | None, new: int | None, span: float) -> float | None:
    if old is None or new is None or new < old:
        return None
    return (new - old) / span


def rates(prev: GuestCounters, cur: GuestCounters) -> dict[str, float | None]:
    """Metric values of one instance from two readings of its counters."""
    span = max(cur.t - prev.t, 1e-6)
    vcpus = len(cur.vcpu_seconds) or 1
    cpu: float | None = None
    if len(prev.vcpu_seconds) == len(cur.vcpu_seconds):
        used = sum(cur.vcpu_seconds) - sum(prev.vcpu_seconds)
        cpu = max(0.0, min(100.0, 100.0 * used / (span * vcpus)))
    mem: float | None = None
    if cur.mem_total_bytes and cur.mem_available_bytes is not None:
        mem = 100.0 * (cur.mem_total_bytes - cur.mem_available_bytes) / cur.mem_total_bytes
    return {
        "cpu_util": cpu,
        "mem_util": mem,
        "qemu_rss_bytes": None if cur.rss_bytes is None else float(cur.rss_bytes),
        "disk_read_bytes_rate": _rate(prev.disk_rd_bytes, cur.disk_rd_bytes, span),
        "disk_write_bytes_rate": _rate(prev.disk_wr_bytes, cur.disk_wr_bytes, span),
        "disk_read_requests_rate": _rate(prev.disk_rd_ops, cur.disk_rd_ops, span),
        "disk_write_requests_rate": _rate(prev.disk_wr_ops, cur.disk_wr_ops, span),
        "network_incoming_bytes_rate": _rate(prev.net_in_bytes, cur.net_in_bytes, span),
        "network_outgoing_bytes_rate": _rate(prev.net_out_bytes, cur.net_out_bytes, span),
    }


class Sampler:
    def __init__(
        self, store: Store, driver: Driver, history: History, host: HostSampler,
        alarms: Alarms | None, lock_dir: Path, clock: Callable[[], float] = time.time,
        interval: float = 10.0, on_status: StatusHook | None = None,
    ) -> None:
        self.store = store
        self.driver = driver
        self.history = history
        self.host = host
        self.alarms = alarms
        self.locks = Locks(lock_dir)
        self.lock_path = lock_dir / f"{LOCK}.lock"
        self.clock = clock
        self.interval = interval
        self.on_status = on_status  # compute follows QEMU's runstate (paused on an I/O error)
        self.paused: set[str] = set()
        self.latest: dict[str, MetricSample] = {}
        self.errors: dict[str, str] = {}  # newest sampling error per instance
        self.ticks = 0
        self.last_tick: float | None = None  # wall clock of the newest tick
        self.tick_seconds = 0.0  # how long the newest tick took
        self._prev: dict[str, tuple[int, GuestCounters]] = {}
        self._fd: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # ---- leadership ----------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is None:
            self._fd = self.locks.try_hold(LOCK)
            if self._fd is not None:
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, str(os.getpid()).encode(), 0)
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            Locks.release(self._fd)
            self._fd = None

    def holder(self) -> int | None:
        """Pid of the process whose sampler writes history now (this one included)."""
        if self.leading:
            return os.getpid()
        fd = self.locks.try_hold(LOCK)
        if fd is not None:  # nobody holds it
            Locks.release(fd)
            return None
        try:
            text = self.lock_path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    # ---- one tick ------------------------------------------------------------------
    def _running(self) -> list[tuple[str, int]]:
        rows = self.store.rows(
            "SELECT id, pid, state FROM instances WHERE state IN (?, ?) AND pid IS NOT NULL",
            list(SAMPLED))
        self.paused = {r["id"] for r in rows if r["state"] == InstanceState.PAUSED}
        return [(r["id"], int(r["pid"])) for r in rows]

    async def _follow(self, instance_id: str, status: str | None) -> None:
        """Hand compute a runstate that differs from the row (paused, or running again)."""
        if self.on_status is None or status is None:
            return
        if status != "running" or instance_id in self.paused:
            try:
                await self.on_status(instance_id, status)
            except Exception as exc:  # looked at again next tick
                self.errors[instance_id] = str(exc) or type(exc).__name__

    async def _instance(self, instance_id: str, pid: int, now: float) -> MetricSample | None:
        counters = await self.driver.sample(instance_id, pid)
        await self._follow(instance_id, counters.run_status)
        prev = self._prev.get(instance_id)
        self._prev[instance_id] = (pid, counters)
        self.errors.pop(instance_id, None)
        if prev is None or prev[0] != pid:
            return None  # first reading of this QEMU: rates need a second one
        return MetricSample(instance_id, now, rates(prev[1], counters))

    async def tick(self, judge: bool = True) -> list[MetricSample]:
        """Sample every running instance and the host once; returns the new samples.
        `judge=False` (an on-demand sample): alarms are left to a continuous sampler."""
        started = time.monotonic()
        now = self.clock()
        running = self._running()
        results = await asyncio.gather(
            *(self._instance(iid, pid, now) for iid, pid in running), return_exceptions=True)
        samples: list[MetricSample] = []
        for (iid, _pid), result in zip(running, results, strict=True):
            if isinstance(result, BaseException):
                self.errors[iid] = str(result) or type(result).__name__
                self._prev.pop(iid, None)
            elif result is not None:
                samples.append(result)
        samples.append(self.host.sample(now))
        alive = {iid for iid, _pid in running}
        for gone in [iid for iid in self._prev if iid not in alive]:
            del self._prev[gone]
            await self.driver.release_sampling(gone)
        self.latest = {s.resource: s for s in samples}
        self.history.add(samples)
        if self.alarms is not None and judge:
            self.alarms.evaluate(now)
        self.ticks += 1
        self.last_tick = now
        self.tick_seconds = time.monotonic() - started
        return samples

    # ---- the loop ------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, interval: float | None = None) -> None:
        """Start the loop on the running event loop (idempotent)."""
        if interval is not None:
            self.set_interval(interval)
        if not self.active:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lecs-sampler")

    def set_interval(self, seconds: float) -> None:
        """E.g. 1 s while the dashboard shows metrics, 10 s otherwise; applies at once."""
        self.interval = max(0.05, float(seconds))
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            if self.acquire():
                try:
                    await self.tick()
                except Exception as exc:  # one bad tick must not end monitoring
                    self.errors["sampler"] = f"{type(exc).__name__}: {exc}"
            elif self.alarms is not None:  # another process judges: announce its changes
                try:
                    self.alarms.follow()
                except Exception as exc:
                    self.errors["sampler"] = f"{type(exc).__name__}: {exc}"
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), max(0.01, self.interval - (loop.time() - began)))

    async def stop(self) -> None:
        """Stop the loop, flush history, close QMP sessions and give up the lock."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.history.close()
        await self.driver.release_sampling()
        self._prev.clear()
        self.release()
