"""A demo inventory for screenshots, snapshot tests and benchmarks: no QEMU needed.

`load_demo(home)` writes `demo_inventory.json` into the SQLite inventory at `home` with
fixed timestamps, so a dashboard opened with `clock=DEMO_NOW` and `facts=demo_facts()` and
`reconcile=False` draws the same screen on every machine. `load_bulk(home, n)` adds `n`
generated instances (for benchmarks).

    python sample_data/demo.py /tmp/lecs-demo   # then: LECS_HOME=/tmp/lecs-demo lecs
    python sample_data/demo.py --screenshot docs/screenshot.svg
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.compute.catalogue import Catalogue
from backend.inventory.journal import Journal
from backend.inventory.paths import Paths
from backend.inventory.records import HostFacts
from backend.inventory.store import Store
from backend.monitoring.records import Alarm, AlarmState

if TYPE_CHECKING:
    from backend import Cloud

DATA = Path(__file__).resolve().parent / "demo_inventory.json"


def inventory() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


DEMO_NOW: float = float(inventory()["now"])


def demo_clock() -> float:
    return DEMO_NOW


def demo_facts() -> HostFacts:
    return HostFacts(**inventory()["host"])


def _open(home: Path) -> Store:
    paths = Paths.from_env(str(home))
    paths.ensure()
    store = Store(paths.db)
    Catalogue(store)  # seeds the instance types the instances refer to
    return store


def placeholder(path: Path) -> str:
    """An empty file (0600, in a 0700 dir) where the demo's rows say a disk or image file is:
    reads check every row's files against reality, and the demo's are there (no QEMU ever
    opens them). Returns the path as the row records it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    return str(path)


Rows = tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]


def _instance_rows(inst: dict[str, Any], disks: Path) -> Rows:
    row = {k: inst[k] for k in ("id", "name", "type", "image_id", "state", "created_at",
                                "started_at", "pid", "accel", "last_error")}
    row.update({k: inst[k] for k in ("key_pair", "egress_restricted") if k in inst})
    disk_id = "d-" + inst["id"][2:]
    disk = {
        "id": disk_id, "name": f"{inst['name']}-system", "size_gib": inst["disk_gib"],
        "format": "qcow2", "role": "system",
        "state": "error" if inst["state"] == "error" else "in-use",
        "path": placeholder(disks / f"{disk_id}.qcow2"), "instance_id": inst["id"],
        "delete_with_instance": 1, "encrypted": 0, "created_at": inst["created_at"],
        "backing_image_id": None if inst["image_id"].startswith("img-0tiny") else inst["image_id"],
        "position": 0,
    }
    forwards = [{"instance_id": inst["id"], **f} for f in inst["forwards"]]
    tags = [{"resource_id": inst["id"], "key": k, "value": v} for k, v in inst["tags"].items()]
    return row, disk, forwards, tags


def load_demo(home: Path) -> Path:
    """Write the demo inventory into LECS_HOME `home`; returns the database path."""
    data = inventory()
    store = _open(Path(home))
    paths = Paths.from_env(str(home))
    with store.transaction() as db:
        for image in data["images"]:
            fmt, where = image["format"], paths.images / image["id"]
            kernel = fmt == "kernel"
            db.table("images").insert({
                **image, "path": "" if kernel else placeholder(where / f"disk.{fmt}"),
                "kernel": placeholder(where / "kernel") if kernel else "",
                "initrd": placeholder(where / "initrd") if kernel else "",
                "cmdline": "console=ttyS0 panic=-1 quiet" if kernel else "",
            })
        for inst in data["instances"]:
            row, disk, forwards, tags = _instance_rows(inst, paths.disks)
            db.table("instances").insert(row)
            db.table("disks").insert(disk)
            db.table("forwards").insert_all(forwards)
            if tags:
                db.table("tags").insert_all(tags)
        db.table("events").insert_all(
            [{**e, "parameters": json.dumps(e["parameters"], sort_keys=True)}
             for e in data["events"]]
        )
        _network_rows(db, data)
        db.table("disks").insert_all(  # data disks, some attached
            [{**d, "path": placeholder(paths.disks / Path(d["path"]).name)}
             for d in data.get("disks", [])])
        db.table("snapshots").insert_all(data.get("snapshots", []))  # a tree on db-1-data
    _metric_rows(store)
    path = store.path
    store.close()
    return path


def _network_rows(db: Any, data: dict[str, Any]) -> None:
    """Security groups (with `default`, so none is made at run time), rules, key pairs."""
    positions: dict[str, int] = {}  # each instance's groups in the order listed
    for group in data.get("security_groups", []):
        fields = {k: group[k] for k in ("id", "name", "description", "created_at")}
        db.table("security_groups").insert(fields)
        db.table("sg_rules").insert_all(
            [{**r, "group_id": group["id"], "created_at": group["created_at"]}
             for r in group["rules"]])
        for instance_id in group["instances"]:
            position = positions[instance_id] = positions.get(instance_id, -1) + 1
            db.table("instance_sgs").insert({"instance_id": instance_id,
                                             "group_id": group["id"], "position": position})
    if data.get("keypairs"):
        db.table("keypairs").insert_all(data["keypairs"])


# ---- recorded metrics: 24 h of samples for web-1, web-2 and the host, and alarm rules -----
def _wave(t: float, base: float, swing: float, period: float, top: float = 100.0) -> float:
    """A deterministic signal, clipped to [0, top]: a day's swell, and in the last hour a
    wave and a ripple (older samples stand for 5 minutes each: a slower wave instead)."""
    value = base * (1 + 0.3 * math.sin(2 * math.pi * t / 86400))
    if t < DEMO_NOW - 3600:
        value += swing / 2 * math.sin(2 * math.pi * t / 5400)
    else:
        value += swing * math.sin(2 * math.pi * t / period) \
            + swing / 3 * math.sin(2 * math.pi * t / 97.0)
    return round(min(top, max(0.0, value)), 2)


def _demo_values(resource: str, t: float) -> dict[str, float | None]:
    if resource == "host":
        return {"host_cpu_util": _wave(t, 22, 12, 1800), "host_mem_util": _wave(t, 58, 4, 7200),
                "host_disk_util": 61.4, "host_load_1m": round(_wave(t, 90, 40, 1800) / 100, 2),
                "host_disk_read_bytes_rate": _wave(t, 2e5, 2e5, 600, 1e9),
                "host_disk_write_bytes_rate": _wave(t, 9e5, 6e5, 900, 1e9)}
    web1 = resource == "i-web1aaaaaa"
    return {  # web-1: bridge NIC and balloon stats; web-2: user-mode, no guest memory stats
        "cpu_util": _wave(t, 38, 22, 600) if web1 else _wave(t, 9, 6, 1200),
        "mem_util": _wave(t, 46, 8, 3600) if web1 else None,
        "qemu_rss_bytes": (182 if web1 else 96) * 1048576.0,
        "disk_read_bytes_rate": _wave(t, 3e4, 3e4, 300, 1e9),
        "disk_write_bytes_rate": _wave(t, 2.4e5 if web1 else 6e4, 2e5, 450, 1e9),
        "disk_read_requests_rate": 4.0, "disk_write_requests_rate": 12.0,
        "network_incoming_bytes_rate": _wave(t, 5e4, 4e4, 240, 1e9) if web1 else None,
        "network_outgoing_bytes_rate": _wave(t, 1.2e5, 9e4, 360, 1e9) if web1 else None,
    }


DEMO_ALARMS = (  # name, resource, metric, comparison, threshold, period, periods, statistic
    ("web-1-cpu-high", "i-web1aaaaaa", "cpu_util", ">", 80.0, 60.0, 3, "avg"),
    ("web-1-disk-write", "i-web1aaaaaa", "disk_write_bytes_rate", ">=", 1e5, 60.0, 1, "avg"),
    ("db-1-cpu", "i-db01cccccc", "cpu_util", ">", 90.0, 300.0, 1, "max"),
    ("host-mem", "host", "host_mem_util", ">", 90.0, 300.0, 2, "avg"),
)


def _metric_rows(store: Store) -> None:
    """Samples at fixed times before DEMO_NOW (every 5 min for 24 h, every 5 s for the last
    hour, every second for the last 5 min) through the real History (raw, rollups,
    retention), and the alarm rules in the state the backend judges them at DEMO_NOW. Read
    them on the demo clock: `follow_demo_clock(cloud)`."""
    from backend.inventory.audit import Audit
    from backend.monitoring.alarms import Alarms
    from backend.monitoring.history import History
    from backend.monitoring.records import Comparison, MetricSample, Statistic

    history = History(store, demo_clock, max_buffer=10**6)
    times = [*range(-86400, -3600, 300), *range(-3600, -300, 5), *range(-300, 0)]
    history.add(MetricSample(r, DEMO_NOW + dt, _demo_values(r, DEMO_NOW + dt))
                for r in ("i-web1aaaaaa", "i-web2bbbbbb", "host") for dt in times)
    history.flush()
    judge = Alarms(store, Audit(store), history, Journal(store), demo_clock).judge
    with store.transaction() as db:
        for n, (name, res, metric, cmp, limit, period, periods, stat) in enumerate(DEMO_ALARMS):
            alarm = Alarm(f"al-demo{n:04d}", name, res, metric, Statistic(stat), Comparison(cmp),
                          limit, period, periods, 0.0, AlarmState.INSUFFICIENT_DATA, "",
                          DEMO_NOW - 7200, DEMO_NOW - 86400)
            state, value, reason = judge(alarm, DEMO_NOW)
            db.table("alarms").insert({
                "id": alarm.id, "name": name, "resource": res, "metric": metric,
                "statistic": stat, "comparison": cmp, "threshold": limit, "period": period,
                "periods": periods, "suppression": 0.0, "state": state.value,
                "reason": reason, "state_changed_at": DEMO_NOW - 600 * (n + 1),
                "created_at": DEMO_NOW - 86400, "last_value": value, "last_notified_at": None})


def follow_demo_clock(cloud: Cloud) -> None:
    """Read metric history (and judge alarms) on the demo clock, so the recorded samples
    are the last 24 hours (snapshot tests, the screenshot)."""
    cloud.metrics.clock = cloud.metrics.history.clock = cloud.alarms.clock = demo_clock


STATES = ("stopped", "stopped", "stopped", "error", "stopped")
TYPES = ("t1.nano", "t1.micro", "t1.small", "s1.medium", "c1.medium")
ENVS = ("prod", "staging", "dev", "lab")


def load_bulk(home: Path, count: int, prefix: str = "vm") -> None:
    """Add `count` generated (not running) instances that use the demo's images."""
    data = inventory()
    store = _open(Path(home))
    if not store.row("SELECT id FROM images WHERE id = ?", [data["images"][0]["id"]]):
        store.close()
        load_demo(home)
        store = _open(Path(home))
    image_ids = [i["id"] for i in data["images"][:3]]
    disk_dir = Paths.from_env(str(home)).disks
    base_port = 20000
    with store.transaction() as db:
        rows: list[dict[str, Any]] = []
        disks: list[dict[str, Any]] = []
        forwards: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        for n in range(count):
            inst = {
                "id": f"i-{prefix}{n:08d}"[:12], "name": f"{prefix}-{n:05d}",
                "type": TYPES[n % len(TYPES)], "image_id": image_ids[n % len(image_ids)],
                "state": STATES[n % len(STATES)], "created_at": DEMO_NOW - n * 60,
                "started_at": None, "pid": None, "accel": "tcg",
                "last_error": "QEMU exited with status 1" if STATES[n % 5] == "error" else "",
                "tags": {"env": ENVS[n % len(ENVS)], "shard": str(n % 16)},
                "forwards": [
                    {"protocol": "tcp", "host_addr": "127.0.0.1",
                     "host_port": base_port + 2 * n, "guest_port": 22},
                ],
                "disk_gib": 1,
            }
            row, disk, fwd, tag = _instance_rows(inst, disk_dir)
            rows.append(row)
            disks.append(disk)
            forwards += fwd
            tags += tag
        db.table("instances").insert_all(rows, batch_size=1000)
        db.table("disks").insert_all(disks, batch_size=1000)
        db.table("forwards").insert_all(forwards, batch_size=1000)
        db.table("tags").insert_all(tags, batch_size=1000)
    store.close()


def screenshot(out: Path, size: tuple[int, int] = (120, 30)) -> None:
    """Write the README screenshot: the dashboard over the demo inventory, as SVG."""
    import os
    import tempfile
    import time

    from app.tui.app import LecsApp
    from backend import Cloud

    os.environ["TZ"] = "UTC"
    time.tzset()
    home = Path(tempfile.mkdtemp(prefix="lecs-demo-")) / "home"
    load_demo(home)
    cloud = Cloud(Paths.from_env(str(home)))
    follow_demo_clock(cloud)
    app = LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False)

    async def shoot(pilot: Any) -> None:
        await pilot.press("down", "down", "down", "down", "down")  # cursor on web-1
        await pilot.pause()
        out.write_text(app.export_screenshot(title="lecs"))
        app.exit()

    app.run(headless=True, size=size, auto_pilot=shoot)
    cloud.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--screenshot"]:
        screenshot(Path(sys.argv[2] if len(sys.argv) > 2 else "docs/screenshot.svg"))
    else:
        print(load_demo(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lecs-demo")))
