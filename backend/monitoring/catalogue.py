"""The metrics lecs collects (after Huawei Cloud Eye's SYS.ECS basic metrics), and durations."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from backend.inventory.errors import ValidationError

HOST = "host"  # the resource name of the machine lecs runs on


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    unit: str  # "%", "B", "B/s", "req/s", "" (load)
    scope: str  # "instance" | "host"
    description: str

    @property
    def percent(self) -> bool:
        return self.unit == "%"


INSTANCE_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("cpu_util", "%", "instance",
               "vCPU threads' CPU time as % of the instance's vCPUs"),
    MetricInfo("mem_util", "%", "instance",
               "guest memory in use (virtio-balloon stats); n/a if the guest does not report"),
    MetricInfo("qemu_rss_bytes", "B", "instance", "resident memory of the QEMU process"),
    MetricInfo("disk_read_bytes_rate", "B/s", "instance", "bytes read by the guest's disks"),
    MetricInfo("disk_write_bytes_rate", "B/s", "instance", "bytes written by the guest's disks"),
    MetricInfo("disk_read_requests_rate", "req/s", "instance", "read requests of the guest"),
    MetricInfo("disk_write_requests_rate", "req/s", "instance", "write requests of the guest"),
    MetricInfo("network_incoming_bytes_rate", "B/s", "instance",
               "bytes into the guest NIC; n/a in user-mode networking"),
    MetricInfo("network_outgoing_bytes_rate", "B/s", "instance",
               "bytes out of the guest NIC; n/a in user-mode networking"),
)

HOST_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("host_cpu_util", "%", "host", "CPU use of the whole host"),
    MetricInfo("host_mem_util", "%", "host", "memory in use on the host"),
    MetricInfo("host_disk_util", "%", "host", "space used on the filesystem of LECS_HOME"),
    MetricInfo("host_load_1m", "", "host", "1-minute load average"),
    MetricInfo("host_disk_read_bytes_rate", "B/s", "host", "bytes read by all host disks"),
    MetricInfo("host_disk_write_bytes_rate", "B/s", "host", "bytes written by all host disks"),
)

METRICS: dict[str, MetricInfo] = {m.name: m for m in INSTANCE_METRICS + HOST_METRICS}
# Column order of the history tables; the names are SQL identifiers, checked against METRICS.
COLUMNS: tuple[str, ...] = tuple(METRICS)


def scope_metrics(resource: str) -> tuple[str, ...]:
    """Names of the metrics that apply to `resource` ("host" or an instance id)."""
    return tuple(m.name for m in (HOST_METRICS if resource == HOST else INSTANCE_METRICS))


def metric(name: str, resource: str | None = None) -> MetricInfo:
    """The MetricInfo for `name`; with `resource`, also check that it applies to it."""
    info = METRICS.get(name)
    if info is None:
        raise ValidationError(
            f"unknown metric {name!r}; known: {', '.join(METRICS)}"
        )
    if resource is not None:
        wanted = "host" if resource == HOST else "instance"
        if info.scope != wanted:
            kind = {"host": "a host", "instance": "an instance"}
            raise ValidationError(
                f"metric {name!r} is {kind[info.scope]} metric; "
                f"{resource!r} takes {kind[wanted]} metric")
    return info


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | float, what: str = "duration", maximum: float = 30 * 86400,
                   minimum: float = 1.0) -> float:
    """'90s', '10m', '1h', '2d' or a number of seconds -> seconds, within [minimum, maximum]."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        found = _DURATION.match(str(text))
        if not found:
            raise ValidationError(
                f"bad {what} {text!r}: use a number with s, m, h or d (e.g. 90s, 10m, 1h)"
            )
        seconds = float(found.group(1)) * _UNIT[(found.group(2) or "s").lower()]
    if not math.isfinite(seconds) or seconds < minimum or seconds > maximum:
        raise ValidationError(
            f"bad {what} {text!r}: must be between {minimum:g}s and {maximum / 86400:g} days"
        )
    return seconds
