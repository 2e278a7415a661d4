"""Cloud Eye's basic metrics as ECS answers them: DescribeInstanceMonitorData and
DescribeDiskMonitorData, from the sampler's history (`lecs serve` samples always)."""

from __future__ import annotations

import calendar
import time
from typing import Any

from backend.api.actions.disks import find_disk
from backend.api.actions.instances import find as find_instance
from backend.api.errors import invalid_parameter
from backend.api.params import Params
from backend.api.registry import Call, action
from backend.api.translate import engine

MAX_POINTS = 400  # ECS: at most 400 points per request
PERIODS = ("60", "600", "3600")
# ECS field → (lecs metric, factor per period): CPU in %, BPS in B/s, Intranet* in kbit.
INSTANCE_FIELDS = {
    "CPU": ("cpu_util", None), "BPSRead": ("disk_read_bytes_rate", None),
    "BPSWrite": ("disk_write_bytes_rate", None), "IOPSRead": ("disk_read_requests_rate", None),
    "IOPSWrite": ("disk_write_requests_rate", None),
    "IntranetRX": ("network_incoming_bytes_rate", 8 / 1000),
    "IntranetTX": ("network_outgoing_bytes_rate", 8 / 1000),
}
DISK_FIELDS = {k: v for k, v in INSTANCE_FIELDS.items() if k.startswith(("BPS", "IOPS"))}


def _time(p: Params, name: str) -> float:
    text = p.need(name, max_len=32)
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ"):
        try:
            return float(calendar.timegm(time.strptime(text, fmt)))
        except ValueError:
            continue
    raise invalid_parameter(name, "must be UTC such as 2026-12-06T12:00:00Z")


def _window(p: Params) -> tuple[float, float, int]:
    start, end = _time(p, "StartTime"), _time(p, "EndTime")
    period = int(p.choice("Period", PERIODS, "60") or "60")
    if end <= start:
        raise invalid_parameter("EndTime", "must be after StartTime")
    if (end - start) / period > MAX_POINTS:
        raise invalid_parameter("EndTime", f"asks for more than {MAX_POINTS} points")
    return start, end, period


def _points(call: Call, instance_id: str, fields: dict[str, tuple[str, float | None]],
            start: float, end: float, period: int) -> list[dict[str, Any]]:
    rows: dict[float, dict[str, Any]] = {}
    with engine("instance"):
        for field, (metric, factor) in fields.items():
            for t, value in call.cloud.metrics.series(instance_id, metric, end - start,
                                                      period, until=end):
                if value is None:
                    continue
                row = rows.setdefault(t, {"TimeStamp": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))})
                row[field] = round(value * factor * period) if factor else round(value)
    return [rows[t] for t in sorted(rows)]


@action("DescribeInstanceMonitorData", params=("RegionId", "InstanceId", "StartTime", "EndTime",
                                               "Period"))
async def describe_instance_monitor_data(call: Call) -> dict[str, Any]:
    p = Params(call)
    inst = find_instance(call.cloud, p.need("InstanceId"), reconcile=False)
    start, end, period = _window(p)
    p.done()
    points = _points(call, inst.id, INSTANCE_FIELDS, start, end, period)
    return {"MonitorData": {"InstanceMonitorData": [{"InstanceId": inst.id, **pt}
                                                     for pt in points]}}


@action("DescribeDiskMonitorData", params=("RegionId", "DiskId", "StartTime", "EndTime", "Period"))
async def describe_disk_monitor_data(call: Call) -> dict[str, Any]:
    """lecs measures an instance's disks together: a disk's figures are its instance's when
    it is that instance's only disk; otherwise refused (never another disk's traffic)."""
    p = Params(call)
    disk = find_disk(call.cloud, p.need("DiskId"))
    start, end, period = _window(p)
    p.done()
    if not disk.instance_id:
        return {"TotalCount": 0, "MonitorData": {"DiskMonitorData": []}}
    if len(call.cloud.disks.list(disk.instance_id)) > 1:
        raise invalid_parameter("DiskId", "cannot be measured alone: lecs measures an"
                                " instance's disks together (DescribeInstanceMonitorData)")
    points = _points(call, disk.instance_id, DISK_FIELDS, start, end, period)
    for pt in points:
        pt["IOPSTotal"] = pt.get("IOPSRead", 0) + pt.get("IOPSWrite", 0)
        pt["BPSTotal"] = pt.get("BPSRead", 0) + pt.get("BPSWrite", 0)
    return {"TotalCount": len(points),
            "MonitorData": {"DiskMonitorData": [{"DiskId": disk.id, **pt} for pt in points]}}
