"""Snapshots of every dashboard pane at 80×24 and 160×48 over the demo inventory, per theme.

(Disk snapshots, the storage feature, are tested in tests/test_disk_snapshots.py.)

The demo inventory has fixed timestamps; the app gets a fixed clock and fixed host facts and
does not reconcile (the demo's "running" instances have no QEMU), the metrics sampler is off
and the recorded samples are read on the demo clock, and times print in UTC, so nothing
ticks. Review a changed SVG before `pytest --snapshot-update`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from app.tui.app import LecsApp
from backend import Cloud
from backend.inventory.paths import Paths
from sample_data.demo import demo_clock, demo_facts, follow_demo_clock, load_demo

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
PANES = {"instances": "1", "images": "2", "disks": "3", "security-groups": "4",
         "metrics": "5", "events": "6"}


@pytest.fixture
def demo_cloud(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("LECS_THEME", raising=False)
    monkeypatch.setenv("LECS_RUNTIME_DIR", "/tmp/lecs-snapshots-runtime")  # shown in details
    old_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    load_demo(home)
    cloud = Cloud(Paths.from_env(str(home)))
    follow_demo_clock(cloud)  # the demo's recorded metrics are "the last 24 h"
    yield cloud
    cloud.close()
    if old_tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old_tz
    time.tzset()


def demo_app(cloud: Cloud, theme: str = "lecs-dark") -> LecsApp:
    app = LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False, sampler=False)
    app.theme = theme
    return app


async def still_inputs(pilot: Pilot[Any]) -> None:
    """Stop input cursors blinking so the frame is the same every time."""
    await pilot.pause()
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pane", PANES)
def test_pane(snap_compare: Any, demo_cloud: Cloud, pane: str, size: str) -> None:
    assert snap_compare(demo_app(demo_cloud), press=[PANES[pane]], terminal_size=SIZES[size])


@pytest.mark.parametrize(("theme", "pane", "size"), [
    ("lecs-light", "instances", "80x24"),
    ("lecs-light", "events", "160x48"),
    ("lecs-high-contrast", "instances", "160x48"),
    ("lecs-high-contrast", "images", "80x24"),
])
def test_theme(snap_compare: Any, demo_cloud: Cloud, theme: str, pane: str, size: str) -> None:
    app = demo_app(demo_cloud, theme)
    assert snap_compare(app, press=[PANES[pane]], terminal_size=SIZES[size])


def test_filter_and_marks(snap_compare: Any, demo_cloud: Cloud) -> None:
    keys = ["slash", *"tag:env=prod", "enter", "space", "down", "space"]
    assert snap_compare(demo_app(demo_cloud), press=keys, terminal_size=(80, 24))


def test_help(snap_compare: Any, demo_cloud: Cloud) -> None:
    assert snap_compare(demo_app(demo_cloud), press=["question_mark"], terminal_size=(80, 24))


def test_create_modal(snap_compare: Any, demo_cloud: Cloud) -> None:
    keys = ["n", *"web 1"]
    assert snap_compare(demo_app(demo_cloud), press=keys, terminal_size=(80, 24),
                        run_before=still_inputs)


def test_confirm_delete(snap_compare: Any, demo_cloud: Cloud) -> None:
    keys = ["space", "space", "D"]
    assert snap_compare(demo_app(demo_cloud, "lecs-light"), press=keys, terminal_size=(80, 24))


def test_instance_detail(snap_compare: Any, demo_cloud: Cloud) -> None:
    keys = ["G", "i"]  # the last row: web-2, running
    assert snap_compare(demo_app(demo_cloud), press=keys, terminal_size=(160, 48))


METRICS_VIEWS = {  # the Metrics pane over the demo's recorded samples and alarm rules
    "window-1h": (["5", "w"], (120, 40), "lecs-dark"),
    "window-24h": (["5", "w", "w"], (120, 40), "lecs-dark"),
    "web-2-light": (["5", "down"], (160, 48), "lecs-light"),
    "alarm-list": (["5", "a"], (100, 30), "lecs-dark"),
}


@pytest.mark.parametrize("view", METRICS_VIEWS)
def test_metrics_view(snap_compare: Any, demo_cloud: Cloud, view: str) -> None:
    keys, size, theme = METRICS_VIEWS[view]
    assert snap_compare(demo_app(demo_cloud, theme), press=keys, terminal_size=size)


def test_metrics_new_alarm_modal(snap_compare: Any, demo_cloud: Cloud) -> None:
    keys = ["5", "n", "ctrl+u", *"hot", "tab", "tab", "tab", "tab", "tab", "ctrl+u", *"150"]
    assert snap_compare(demo_app(demo_cloud), press=keys, terminal_size=(80, 30),
                        run_before=still_inputs)


def test_disks_snapshot_tree(snap_compare: Any, demo_cloud: Cloud) -> None:
    keys = ["3", "down", "down", "down", "enter"]  # db-1-data: four snapshots, two branches
    assert snap_compare(demo_app(demo_cloud), press=keys, terminal_size=(80, 24))
