"""Records a driver hands back to the services above it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class GuestCounters:
    """Cumulative counters a driver reads for one running instance; rates come from deltas."""

    t: float  # monotonic seconds when read
    vcpu_seconds: tuple[float, ...]  # CPU time of each vCPU thread
    rss_bytes: int | None = None
    disk_rd_bytes: int | None = None
    disk_wr_bytes: int | None = None
    disk_rd_ops: int | None = None
    disk_wr_ops: int | None = None
    mem_total_bytes: int | None = None  # guest view (virtio-balloon stats), None if unreported
    mem_available_bytes: int | None = None
    net_in_bytes: int | None = None  # guest view; None where the network mode has no counters
    net_out_bytes: int | None = None
    run_status: str | None = None  # QEMU's runstate (`query-status`): running, io-error, …
