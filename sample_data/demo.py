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
import sys
from pathlib import Path
from typing import Any

from backend.catalogue import Catalogue
from backend.models import HostFacts
from backend.paths import Paths
from backend.store import Store

DATA = Path(__file__).resolve().parent / "demo_inventory.json"
DISK_DIR = "~/.local/share/lecs/disks"


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


Rows = tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]


def _instance_rows(inst: dict[str, Any]) -> Rows:
    row = {k: inst[k] for k in ("id", "name", "type", "image_id", "state", "created_at",
                                "started_at", "pid", "accel", "last_error")}
    disk_id = "d-" + inst["id"][2:]
    disk = {
        "id": disk_id, "name": f"{inst['name']}-system", "size_gib": inst["disk_gib"],
        "format": "qcow2", "role": "system",
        "state": "error" if inst["state"] == "error" else "in-use",
        "path": f"{DISK_DIR}/{disk_id}.qcow2", "instance_id": inst["id"],
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
    with store.transaction() as db:
        for image in data["images"]:
            fmt = image["format"]
            db.table("images").insert({
                **image, "path": "" if fmt == "kernel" else f"~/images/{image['id']}/disk.{fmt}",
                "kernel": f"~/images/{image['id']}/kernel" if fmt == "kernel" else "",
                "initrd": f"~/images/{image['id']}/initrd" if fmt == "kernel" else "",
                "cmdline": "console=ttyS0 panic=-1 quiet" if fmt == "kernel" else "",
            })
        for inst in data["instances"]:
            row, disk, forwards, tags = _instance_rows(inst)
            db.table("instances").insert(row)
            db.table("disks").insert(disk)
            db.table("forwards").insert_all(forwards)
            if tags:
                db.table("tags").insert_all(tags)
        db.table("events").insert_all(
            [{**e, "parameters": json.dumps(e["parameters"], sort_keys=True)}
             for e in data["events"]]
        )
    path = store.path
    store.close()
    return path


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
            row, disk, fwd, tag = _instance_rows(inst)
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

    from app.ui import LecsApp
    from backend import Cloud

    os.environ["TZ"] = "UTC"
    time.tzset()
    home = Path(tempfile.mkdtemp(prefix="lecs-demo-")) / "home"
    load_demo(home)
    cloud = Cloud(Paths.from_env(str(home)))
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
