"""`Metrics`: the monitoring facade (`cloud.metrics`); see backend/monitoring/__init__.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from backend.drivers.protocol import Driver
from backend.inventory.audit import Audit
from backend.inventory.errors import ConflictError, NotFoundError
from backend.inventory.journal import Journal
from backend.inventory.paths import Paths
from backend.inventory.store import Store
from backend.monitoring.alarms import Alarms
from backend.monitoring.catalogue import HOST, METRICS, MetricInfo, metric, parse_duration
from backend.monitoring.history import History, Point
from backend.monitoring.host import HostSampler
from backend.monitoring.records import MetricSample, Statistic
from backend.monitoring.sampler import Sampler, StatusHook


@dataclass(slots=True, frozen=True)
class SamplerStatus:
    here: bool  # this process samples (and writes history)
    holder_pid: int | None  # the process that samples, None if none does
    interval: float
    ticks: int
    last_tick: float | None
    tick_seconds: float
    errors: dict[str, str]


class Metrics:
    def __init__(self, store: Store, driver: Driver, paths: Paths, audit: Audit,
                 journal: Journal, clock: Callable[[], float] = time.time,
                 on_status: StatusHook | None = None) -> None:
        self.store = store
        self.clock = clock
        self.history = History(store, clock)
        self.alarms = Alarms(store, audit, self.history, journal, clock)
        self.sampler = Sampler(store, driver, self.history, HostSampler(paths.home),
                               self.alarms, paths.runtime / "locks", clock,
                               on_status=on_status)

    # ---- reading (the Metrics pane, the CLI) ---------------------------------------
    @staticmethod
    def catalogue(scope: str | None = None) -> list[MetricInfo]:
        return [m for m in METRICS.values() if scope is None or m.scope == scope]

    def _resource(self, ref: str) -> str:
        if ref == HOST:
            return HOST
        row = self.store.row("SELECT id FROM instances WHERE id = ? OR name = ?", [ref, ref])
        if row is None:
            raise NotFoundError(f"instance {ref!r} not found (or use 'host')")
        return str(row["id"])

    def series(self, resource: str, metric_name: str, since: float | str = 300,
               step: float | str | None = None, stat: str = "avg",
               until: float | None = None) -> list[Point]:
        """[(t, value)] of one metric over the last `since` seconds, oldest first."""
        resource_id = self._resource(resource)
        metric(metric_name, resource_id)
        window = parse_duration(since, "--since")
        seconds = None if step is None else parse_duration(step, "step", maximum=window)
        return self.history.series(resource_id, metric_name, window, seconds, Statistic(stat),
                                   until)

    def latest(self, max_age: float | None = None) -> dict[str, MetricSample]:
        """Newest sample per resource (instance ids and "host"), for live columns."""
        if self.sampler.leading and max_age is None:
            return dict(self.sampler.latest)
        age = max_age if max_age is not None else 3 * self.sampler.interval + 10.0
        return self.history.latest(age)

    def host(self) -> MetricSample | None:
        return self.latest().get(HOST)

    def status(self) -> SamplerStatus:
        s = self.sampler
        return SamplerStatus(s.leading, s.holder(), s.interval, s.ticks, s.last_tick,
                             s.tick_seconds, dict(s.errors))

    # ---- sampling ------------------------------------------------------------------
    def start(self, interval: float = 10.0, require_lead: bool = False) -> None:
        """Run the sampler in this process's event loop (leader or follower, see sampler).

        With `require_lead`, refuse (ConflictError) while another process samples.
        """
        if require_lead and not self.sampler.acquire():
            raise ConflictError(f"process {self.sampler.holder()} is sampling this inventory")
        self.sampler.start(interval)

    def set_interval(self, seconds: float) -> None:
        self.sampler.set_interval(seconds)

    async def stop(self) -> None:
        await self.sampler.stop()

    async def sample_now(self, span: float = 1.0) -> dict[str, MetricSample]:
        """Two readings `span` seconds apart, written to history: for a CLI with no sampler.

        Refused while another process samples (its history is the better source).
        """
        if self.sampler.active:
            return self.latest()
        if not self.sampler.acquire():
            raise ConflictError(f"process {self.sampler.holder()} is sampling this inventory")
        try:  # alarms are not judged on two readings: that flipped them at every look
            await self.sampler.tick(judge=False)
            await asyncio.sleep(span)
            await self.sampler.tick(judge=False)
            self.history.flush()
            return dict(self.sampler.latest)
        finally:
            await self.sampler.stop()

    def close(self) -> None:
        """Flush what is buffered and give up the sampler lock (sync; see `stop`)."""
        self.history.close()
        self.sampler.release()
