"""`lecs metric …` and `lecs alarm …` (registered by app.cli.parser.build_parser).

Who samples: the dashboard runs the sampler in its own process; `lecs metric watch` is the
foreground collector for when no dashboard is open (run it under nohup or a user service to
keep history); `lecs metric show` reads history and, when nobody samples and the instance
has no recent sample, takes two readings a second apart first (and says so).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from app import render
from app.cli.output import confirm, destructive, noun, out, verb
from backend import Cloud
from backend.inventory.records import InstanceState
from backend.monitoring.catalogue import HOST, parse_duration, scope_metrics
from backend.monitoring.records import Alarm, MetricSample

FRESH_S = 5.0  # a latest value older than this is sampled afresh when no sampler runs


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "B":
        return render.size(int(value))
    if unit == "B/s":
        return render.size(int(value)) + "/s"
    if unit == "req/s":
        return f"{value:.1f}/s"
    return f"{value:.2f}"


def _resource(cloud: Cloud, ref: str) -> tuple[str, str, str]:
    """(id, display name, state) of an instance, or the host ("running")."""
    if ref == HOST:
        return HOST, HOST, InstanceState.RUNNING.value
    inst = cloud.instances.get(ref)
    return inst.id, inst.name, inst.state.value


def _summary(cloud: Cloud, resource: str, name: str, since: float,
             latest: MetricSample | None) -> dict[str, Any]:
    info = {m.name: m for m in cloud.metrics.catalogue()}[name]
    points = cloud.metrics.series(resource, name, since)
    values = [v for _t, v in points if v is not None]
    highs = [v for _t, v in cloud.metrics.series(resource, name, since, stat="max")
             if v is not None]
    lows = [v for _t, v in cloud.metrics.series(resource, name, since, stat="min")
            if v is not None]
    return {
        "unit": info.unit,
        "latest": None if latest is None else latest.values.get(name),
        "avg": sum(values) / len(values) if values else None,
        "max": max(highs) if highs else None,
        "min": min(lows) if lows else None,
        "series": [[t, v] for t, v in points],
    }


async def metric_show(cloud: Cloud, args: argparse.Namespace) -> None:
    since = parse_duration(args.since, "--since")
    resource, name, state = _resource(cloud, args.instance)
    running = state in (InstanceState.RUNNING, InstanceState.PAUSED)  # a paused QEMU is sampled
    status = cloud.metrics.status()
    latest = cloud.metrics.latest().get(resource)
    note = ""
    stale = latest is None or time.time() - latest.t > FRESH_S
    if status.holder_pid is None and running and stale:
        await cloud.metrics.sample_now(1.0)
        latest = cloud.metrics.latest(max_age=FRESH_S).get(resource)
        note = ("no sampler is running: sampled just now; keep `lecs serve`, the dashboard or "
                "`lecs metric watch` running for history")
    elif not running:
        note = "instance is not running: history only"
    if state == InstanceState.PAUSED:
        note = "; ".join(x for x in (f"instance is paused: its vCPUs are stopped (lecs instance"
                                     f" resume {name})", note) if x)
    sampled = None if latest is None else latest.t
    metrics = {m: _summary(cloud, resource, m, since, latest) for m in scope_metrics(resource)}
    sampler = {"pid": status.holder_pid, "interval": status.interval}
    value = {"resource": resource, "name": name, "state": state, "since": since, "sampler": sampler,
             "sampled_at": sampled, "note": note, "metrics": metrics}

    def text() -> str:
        who = f"pid {status.holder_pid}" if status.holder_pid else "none"
        head = f"{name} ({resource}, {state}) · last {render.duration(since)} · sampler: {who}"
        if sampled is not None:
            age = max(0.0, time.time() - sampled)
            head += f" · latest sampled {render.when(sampled)} ({age:.0f}s ago)"
        rows = [[m, fmt(d["latest"], d["unit"]), fmt(d["avg"], d["unit"]),
                 fmt(d["min"], d["unit"]), fmt(d["max"], d["unit"]), len(d["series"])]
                for m, d in metrics.items()]
        table = render.table(["METRIC", "LATEST", "AVG", "MIN", "MAX", "POINTS"], rows)
        return "\n".join(x for x in (head, table, note and f"note: {note}") if x)

    out(args, value, text)


async def metric_list(cloud: Cloud, args: argparse.Namespace) -> None:
    items = cloud.metrics.catalogue()
    out(args, items, lambda: render.table(
        ["METRIC", "SCOPE", "UNIT", "DESCRIPTION"],
        [[m.name, m.scope, m.unit or "-", m.description] for m in items]))


async def metric_watch(cloud: Cloud, args: argparse.Namespace) -> None:
    interval = parse_duration(args.interval, "--interval", maximum=3600, minimum=0.2)
    cloud.metrics.start(interval, require_lead=True)
    seen = 0
    try:
        while args.count is None or seen < args.count:
            await asyncio.sleep(0.05)
            status = cloud.metrics.status()
            if status.ticks == seen:
                continue
            seen = status.ticks
            names = {i.id: i.name for i in cloud.instances.list(reconcile=False)}
            latest = cloud.metrics.latest()
            if args.json:
                line = {"tick": seen, "samples": list(latest.values())}  # one JSON per line
                print(json.dumps(render.to_jsonable(line), sort_keys=True), flush=True)
                continue
            stamp = time.strftime("%H:%M:%S")
            for rid, s in sorted(latest.items()):
                v = s.values
                if rid == HOST:
                    line = (f"cpu {fmt(v['host_cpu_util'], '%')}  "
                            f"mem {fmt(v['host_mem_util'], '%')}  "
                            f"load {fmt(v['host_load_1m'], '')}")
                else:
                    line = (f"cpu {fmt(v['cpu_util'], '%')}  mem {fmt(v['mem_util'], '%')}  "
                            f"disk r {fmt(v['disk_read_bytes_rate'], 'B/s')} "
                            f"w {fmt(v['disk_write_bytes_rate'], 'B/s')}")
                print(f"{stamp}  {names.get(rid, rid):<16} {line}", flush=True)
    finally:
        await cloud.metrics.stop()


# ---- alarm ----------------------------------------------------------------------------
def _rule(a: Alarm) -> str:
    return (f"{a.statistic.value}({a.metric}) {a.comparison.value} {a.threshold:g} "
            f"for {a.periods}x{render.duration(a.period)}")


async def alarm_list(cloud: Cloud, args: argparse.Namespace) -> None:
    alarms = cloud.alarms.list(args.resource)
    names = {i.id: i.name for i in cloud.instances.list(reconcile=False)}
    out(args, alarms, lambda: render.table(  # as the dashboard shows them: names, OK / ALARM
        ["NAME", "RESOURCE", "RULE", "STATE", "SINCE", "REASON"],
        [[a.name, names.get(a.resource, a.resource), _rule(a), a.state.value.upper(),
          render.when(a.state_changed_at), a.reason] for a in alarms]))


async def alarm_show(cloud: Cloud, args: argparse.Namespace) -> None:
    alarm = cloud.alarms.get(args.alarm)
    out(args, alarm, lambda: "\n".join(
        f"{k}: {v}" for k, v in render.to_jsonable(alarm).items()))


def _suggested_name(cloud: Cloud, resource: str, metric: str) -> str:
    """`web1-cpu_util`, then `web1-cpu_util-2`, … (the dashboard's form suggests the same)."""
    taken = {a.name for a in cloud.alarms.list()}
    base = f"{resource}-{metric}"
    return next(n for i in range(1, 10_000) if (n := base if i == 1 else f"{base}-{i}")
                not in taken)


async def alarm_create(cloud: Cloud, args: argparse.Namespace) -> None:
    name = args.name or _suggested_name(cloud, args.resource, args.metric)
    alarm = cloud.alarms.create(
        name, args.resource, args.metric, args.comparison, args.threshold,
        period=args.period, periods=args.periods, statistic=args.statistic,
        suppression=args.suppression)
    out(args, alarm, lambda: f"created alarm {alarm.name} ({alarm.id}): {_rule(alarm)}")


async def alarm_delete(cloud: Cloud, args: argparse.Namespace) -> None:
    found = cloud.alarms.get(args.alarm)
    confirm(args, f"delete alarm rule {found.name} ({found.id})")
    alarm = cloud.alarms.delete(found.id)
    out(args, {"deleted": alarm.id, "name": alarm.name}, lambda: f"deleted alarm {alarm.name}")


def register(nouns: Any) -> None:
    me = noun(nouns, "metric", "metrics of instances and the host")
    p = verb(me, "show", metric_show, "latest values and avg/min/max over a window")
    p.add_argument("instance", help="instance name or id, or 'host'")
    p.add_argument("--since", default="10m", help="window, e.g. 90s, 10m, 1h, 7d (default 10m)")
    verb(me, "list", metric_list, "the metrics lecs collects")
    p = verb(me, "watch", metric_watch, "sample in the foreground (keeps history and alarms)")
    p.add_argument("--interval", default="1s", help="seconds between samples (default 1s)")
    p.add_argument("--count", type=int, help="stop after this many samples")

    al = noun(nouns, "alarm", "alarm rules on metrics")
    verb(al, "list", alarm_list, "list alarm rules and their state").add_argument(
        "--resource", help="only alarms of this instance (or 'host')")
    verb(al, "show", alarm_show, "show an alarm rule").add_argument("alarm")
    p = verb(al, "create", alarm_create, "create an alarm rule")
    p.add_argument("name", nargs="?", help="default: RESOURCE-METRIC")
    p.add_argument("--resource", required=True, help="instance name or id, or 'host'")
    p.add_argument("--metric", required=True, help="e.g. cpu_util (see `lecs metric list`)")
    p.add_argument("--comparison", required=True, help=">, >=, <, <= (or gt, ge, lt, le)")
    p.add_argument("--threshold", required=True)
    p.add_argument("--statistic", default="avg", help="avg, max or min (default avg)")
    p.add_argument("--period", default="60s", help="seconds per period (default 60s)")
    p.add_argument("--periods", default="1", help="consecutive periods to breach (default 1)")
    p.add_argument("--suppression", default="0",
                   help="repeat the notice this often while in alarm (default 0: once)")
    destructive(verb(al, "delete", alarm_delete, "delete an alarm rule")).add_argument("alarm")
