"""What the Metrics pane shows, read from `cloud.metrics` / `cloud.alarms` and turned into
table rows, host-panel text and charts (no widgets here; the pane puts them on screen).

Every read goes through the backend's public API; the series come back as lists that are
copied into tuples here, so a chart never shares data with the backend.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from app.tui.widgets.cells import state_style
from app.tui.widgets.columns import Column, Row
from app.tui.widgets.plots import Chart, Line
from app.tui.widgets.sparklines import Point, byte_size, percent, rate, resample, spark
from app.tui.widgets.words import counted
from backend import Cloud
from backend.compute.records import Instance
from backend.inventory.errors import LecsError
from backend.inventory.records import HostFacts, InstanceState
from backend.monitoring.catalogue import HOST, METRICS
from backend.monitoring.records import Alarm, AlarmState, MetricSample

WINDOWS: tuple[tuple[float, str], ...] = ((300.0, "5 min"), (3600.0, "1 h"), (86400.0, "24 h"))
SPARK_WIDTH = 20
MIB = 1024.0 * 1024.0

FLEET_COLUMNS = [
    Column("name", "INSTANCE", 8, 24),
    Column("state", "STATE", 8, 10),
    Column("cpu", "CPU", 5, 6, align_right=True),
    Column("spark", "CPU TREND", SPARK_WIDTH, SPARK_WIDTH, priority=1),
    Column("mem", "MEM", 5, 6, priority=2, align_right=True),
    Column("disk_r", "DISK READ", 9, 10, priority=4, align_right=True),
    Column("disk_w", "DISK WRITE", 9, 10, priority=3, align_right=True),
    Column("net_in", "NET IN", 8, 10, priority=6, align_right=True),
    Column("net_out", "NET OUT", 8, 10, priority=5, align_right=True),
]
ALARM_COLUMNS = [
    Column("name", "ALARM", 6, 24),
    Column("state", "STATE", 5, 17),
    Column("resource", "RESOURCE", 8, 16, priority=3),
    Column("rule", "RULE", 12, 44, priority=1),
    Column("value", "VALUE", 6, 10, priority=2, align_right=True),
    Column("changed", "SINCE", 8, 8, priority=4),
    Column("reason", "REASON", 8, 60, priority=5, flex=True),
]
STATE_NAMES = {AlarmState.OK: "OK", AlarmState.ALARM: "ALARM",
               AlarmState.INSUFFICIENT_DATA: "INSUFFICIENT_DATA"}
ALARM_STYLE = {AlarmState.OK: "ok", AlarmState.ALARM: "bad",
               AlarmState.INSUFFICIENT_DATA: "busy"}


def value_text(value: float | None, unit: str) -> str:
    """A metric value for a cell: n/a stays n/a, never 0."""
    if unit == "%":
        return percent(value)
    if unit == "B/s":
        return rate(value)
    if unit == "B":
        return byte_size(value)
    return "n/a" if value is None else f"{value:.2f}"


SAMPLED = (InstanceState.RUNNING, InstanceState.PAUSED)  # a paused QEMU is sampled: CPU ~0


def fleet_row(inst: Instance, sample: MetricSample | None, trend: Sequence[float | None]) -> Row:
    live = sample.values if sample is not None and inst.state in SAMPLED else None

    def cell(metric: str) -> str:
        return "-" if live is None else value_text(live.get(metric), METRICS[metric].unit)

    cells = (inst.name, inst.state.value, cell("cpu_util"), spark(trend, top=100.0),
             cell("mem_util"), cell("disk_read_bytes_rate"), cell("disk_write_bytes_rate"),
             cell("network_incoming_bytes_rate"), cell("network_outgoing_bytes_rate"))
    styles = ("", state_style(inst.state), "", "ok", "", "", "", "", "")
    return Row(inst.id, cells, styles, {"name": inst.name, "state": inst.state.value},
               inst.tags)


def series(cloud: Cloud, resource: str, metric: str, window: float, now: float,
           step: float | None = None) -> tuple[Point, ...]:
    try:
        return tuple(cloud.metrics.series(resource, metric, window, step, until=now))
    except LecsError:  # the instance went away between the list and this read
        return ()


def trend(cloud: Cloud, resource: str, metric: str, window: float,
          now: float) -> list[float | None]:
    points = series(cloud, resource, metric, window, now, max(1.0, window / SPARK_WIDTH))
    return resample(points, now - window, now, SPARK_WIDTH)


def fleet(cloud: Cloud, instances: Sequence[Instance], latest: dict[str, MetricSample],
          window: float, now: float) -> list[Row]:
    """One row per instance; trends are read for running instances only (the others have
    no new samples, and a fleet of stopped instances must not cost a query each)."""
    rows = []
    for inst in instances:
        line = (trend(cloud, inst.id, "cpu_util", window, now)
                if inst.state in SAMPLED else [])
        rows.append(fleet_row(inst, latest.get(inst.id), line))
    return rows


def host_text(cloud: Cloud, facts: HostFacts | None, instances: Sequence[Instance],
              sample: MetricSample | None, window: float, now: float) -> str:
    values = sample.values if sample is not None else {}

    def get(metric: str) -> str:
        return value_text(values.get(metric), METRICS[metric].unit) if sample else "-"

    cpu = spark(trend(cloud, HOST, "host_cpu_util", window, now), top=100.0)
    mem = spark(trend(cloud, HOST, "host_mem_util", window, now), top=100.0)
    running = [i for i in instances if i.state is InstanceState.RUNNING]
    memory = sum(i.memory_mib for i in running)
    head = "[b]Host[/b]"
    size = f"{memory} MiB" if memory < 1024 else f"{memory / 1024:.1f} GiB"
    given = f"{counted(len(running), 'VM')} up · {sum(i.vcpus for i in running)} vCPU · {size}"
    if facts is not None:
        head += f" {facts.hostname} · {facts.cpu_count} CPU · {facts.memory_mib / 1024:.1f} GiB"
        if facts.memory_mib:
            given += f" ({memory / facts.memory_mib:.0%})"
    load = "n/a" if values.get("host_load_1m") is None else f"{values['host_load_1m']:.2f}"
    return "\n".join([
        head,
        f"CPU  [b]{get('host_cpu_util'):>6}[/b] [$success]{cpu}[/]",
        f"MEM  [b]{get('host_mem_util'):>6}[/b] [$success]{mem}[/]",
        f"DISK [b]{get('host_disk_util'):>6}[/b] used (LECS_HOME)",
        f"LOAD [b]{load if sample else '-':>6}[/b] (1 min)",
        f"I/O  r {get('host_disk_read_bytes_rate')} · w {get('host_disk_write_bytes_rate')}",
        f"[dim]{given}[/]",
    ])


def charts(cloud: Cloud, inst: Instance, window: float, label: str, now: float) -> list[Chart]:
    """CPU, memory, disk and network of one instance over the window (oldest first)."""
    def get(metric: str) -> tuple[Point, ...]:
        return series(cloud, inst.id, metric, window, now)

    none = f"no samples in the last {label}"
    if inst.state is not InstanceState.RUNNING:
        none += f" ({inst.state.value})"
    cpu = get("cpu_util")
    sampled = bool(cpu)
    mem = get("mem_util")
    name = inst.name
    memory = Chart(f"memory · {name}", (Line("guest", mem),), now, window, "%", none)
    if sampled and not any(v is not None for _t, v in mem):
        rss = tuple((t, None if v is None else v / MIB) for t, v in get("qemu_rss_bytes"))
        memory = Chart(f"memory · {name} · guest n/a, QEMU RSS", (Line("rss", rss),), now,
                       window, "MiB", "memory n/a: the guest reports no balloon stats")
    net_empty = "network n/a: user-mode networking has no NIC counters" if sampled else none
    return [
        Chart(f"cpu · {name}", (Line("cpu", cpu),), now, window, "%", none),
        memory,
        Chart(f"disk · {name}", (Line("read", get("disk_read_bytes_rate")),
                       Line("write", get("disk_write_bytes_rate"), "accent")),
              now, window, "B/s", none),
        Chart(f"network · {name}", (Line("in", get("network_incoming_bytes_rate")),
                          Line("out", get("network_outgoing_bytes_rate"), "accent")),
              now, window, "B/s", net_empty),
    ]


def rule_text(alarm: Alarm) -> str:
    text = (f"{alarm.statistic.value}({alarm.metric}) {alarm.comparison.value} "
            f"{alarm.threshold:g} · {alarm.period:g}s")
    return text + (f" × {alarm.periods}" if alarm.periods > 1 else "")


def alarm_row(alarm: Alarm, names: dict[str, str]) -> Row:
    unit = METRICS[alarm.metric].unit if alarm.metric in METRICS else ""
    state = STATE_NAMES[alarm.state]
    cells = (alarm.name, state, names.get(alarm.resource, alarm.resource), rule_text(alarm),
             value_text(alarm.last_value, unit),
             time.strftime("%H:%M:%S", time.localtime(alarm.state_changed_at)), alarm.reason)
    styles = ("", ALARM_STYLE[alarm.state], "", "", "", "muted", "muted")
    return Row(alarm.id, cells, styles, {"name": alarm.name, "state": state.lower()})
