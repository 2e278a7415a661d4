"""Metrics of the machine lecs runs on: CPU, memory, disk space, load, disk I/O (psutil)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from backend.monitoring.catalogue import HOST
from backend.monitoring.records import MetricSample


class HostSampler:
    """Rates and CPU % come from deltas between calls; the first call leaves them None."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._cpu: tuple[float, float] | None = None  # (busy, total) CPU seconds
        self._io: tuple[float, int, int] | None = None  # (monotonic, read, written) bytes

    def _cpu_util(self) -> float | None:
        times = psutil.cpu_times()
        total = sum(times)
        idle = times.idle + getattr(times, "iowait", 0.0)
        busy = total - idle
        prev, self._cpu = self._cpu, (busy, total)
        if prev is None or total <= prev[1]:
            return None
        return max(0.0, min(100.0, 100.0 * (busy - prev[0]) / (total - prev[1])))

    def _io_rates(self) -> tuple[float | None, float | None]:
        counters = psutil.disk_io_counters()
        if counters is None:
            return None, None
        now = time.monotonic()
        prev, self._io = self._io, (now, counters.read_bytes, counters.write_bytes)
        if prev is None or now <= prev[0]:
            return None, None
        span = now - prev[0]
        return (max(0.0, (counters.read_bytes - prev[1]) / span),
                max(0.0, (counters.write_bytes - prev[2]) / span))

    def sample(self, t: float) -> MetricSample:
        read, write = self._io_rates()
        try:
            disk: float | None = psutil.disk_usage(str(self.home)).percent
        except OSError:
            disk = None
        return MetricSample(HOST, t, {
            "host_cpu_util": self._cpu_util(),
            "host_mem_util": psutil.virtual_memory().percent,
            "host_disk_util": disk,
            "host_load_1m": os.getloadavg()[0],
            "host_disk_read_bytes_rate": read,
            "host_disk_write_bytes_rate": write,
        })
