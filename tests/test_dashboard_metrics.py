"""The Metrics pane, alarm rules in the dashboard, and the live CPU column.

Demo-inventory tests read the recorded samples on the demo clock with the sampler off; the
last test boots one real tiny guest under the app's own sampler.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from app.tui.app import LecsApp
from app.tui.commands.palette import LecsCommands
from app.tui.panes.metrics import MetricsPane
from app.tui.screens.alarm_create import AlarmCreateScreen, AlarmSpec, check
from app.tui.screens.confirm import ConfirmScreen
from app.tui.widgets.plots import MetricPlot, time_ticks
from app.tui.widgets.sparklines import rate, resample, spark
from backend import Cloud
from backend.inventory.errors import ValidationError
from backend.inventory.paths import Paths
from backend.inventory.records import InstanceState
from backend.monitoring.records import AlarmState
from sample_data.demo import DEMO_NOW, demo_clock, demo_facts, follow_demo_clock, load_demo
from tests.test_dashboard import wait_for

WEB1, WEB2 = "i-web1aaaaaa", "i-web2bbbbbb"


@pytest.fixture
def demo_cloud(home: Path) -> Iterator[Cloud]:
    load_demo(home)
    cloud = Cloud(Paths.from_env(str(home)))
    follow_demo_clock(cloud)
    yield cloud
    cloud.close()


def demo_app(cloud: Cloud) -> LecsApp:
    return LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False, sampler=False)


def metrics(app: LecsApp) -> MetricsPane:
    pane = app.current_pane
    assert isinstance(pane, MetricsPane)
    return pane


def cells(app: LecsApp, key: str) -> dict[str, str]:
    table = app.current_pane.table
    row = next(r for r in table.rows if r.key == key)
    return {c.key: cell for c, cell in zip(table.columns, row.cells, strict=True)}


# ---- pure parts ------------------------------------------------------------------------
def test_sparklines_and_formats() -> None:
    assert resample([(0, 10.0), (1, 30.0), (5, None), (9, 100.0)], 0, 10, 5) == [
        20.0, None, None, None, 100.0]
    assert spark([0.0, None, 50.0, 100.0], top=100.0) == "▁ ▅█"
    assert spark([None, None]) == ""  # n/a stays blank, never a row of zeros
    assert (rate(None), rate(512.0), rate(3 * 1024 * 1024)) == ("n/a", "512 B/s", "3.0M/s")
    assert time_ticks(300) == ([-300, -240, -180, -120, -60, 0],
                               ["-5m", "-4m", "-3m", "-2m", "-1m", "now"])
    assert time_ticks(3600)[1] == ["-60m", "-50m", "-40m", "-30m", "-20m", "-10m", "now"]
    assert time_ticks(86400)[1] == ["-24h", "-20h", "-16h", "-12h", "-8h", "-4h", "now"]


BAD_RULES = [  # field, change, the backend's words (tests/test_alarms.py has the same table)
    ("threshold", {"threshold": "lots"}, "bad threshold 'lots'"),
    ("threshold", {"threshold": "nan"}, "bad threshold"),
    ("threshold", {"threshold": "101"}, "must be 0 to 100"),
    ("period", {"period": "5x"}, "bad period '5x'"),
    ("period", {"period": "0"}, "bad period"),
    ("periods", {"periods": "0"}, "bad periods"),
    ("periods", {"period": "30m", "periods": "3"}, "at most 3600s"),
    ("suppression", {"suppression": "-1"}, "bad suppression"),
    ("name", {"name": "a b"}, "invalid alarm name"),
    ("name", {"name": "hot"}, "exists already"),
]


@pytest.mark.parametrize(("field", "change", "text"), BAD_RULES)
def test_modal_checks_say_what_the_backend_says(bare_cloud: Cloud, field: str,
                                                change: dict[str, str], text: str) -> None:
    bare_cloud.alarms.create("hot", "host", "host_mem_util", ">", 95)
    rule = {"name": "cool", "resource": "host", "metric": "host_cpu_util", "comparison": ">",
            "threshold": "80", "period": "60s", "periods": "1", "statistic": "avg",
            "suppression": "0"}
    assert not any(check(AlarmSpec(**rule), {"hot"}).values())
    rule.update(change)
    errors = check(AlarmSpec(**rule), {"hot"})
    assert text in errors[field] and [f for f, e in errors.items() if e] == [field]
    with pytest.raises(Exception) as refused:
        bare_cloud.alarms.create(rule["name"], rule["resource"], rule["metric"],
                                 rule["comparison"], rule["threshold"], rule["period"],
                                 rule["periods"], rule["statistic"], rule["suppression"])
    assert str(refused.value) == errors[field]  # word for word
    assert isinstance(refused.value, ValidationError) or field == "name"


# ---- the demo inventory: recorded samples, sampler off ---------------------------------
async def test_metrics_pane_over_recorded_samples(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(160, 48)) as pilot:
        assert not demo_cloud.metrics.status().here  # nothing samples, nothing ticks
        assert cells(app, WEB1)["cpu"] == "36.4%"  # the Instances table's live column
        assert cells(app, "i-db01cccccc")["cpu"] == "-"
        await pilot.press("5")
        pane = metrics(app)
        assert pane.selected == WEB1  # the first running instance
        web1, web2 = cells(app, WEB1), cells(app, WEB2)
        assert web1["cpu"] == "36.4%" and web1["mem"] == "45.5%" and web1["spark"].strip()
        assert web2["mem"] == "n/a" and web2["net_in"] == "n/a"  # n/a, never 0
        cpu = pane.plot("cpu")
        assert cpu.chart is not None and cpu.chart.has_data and cpu.builds >= 1
        assert len(cpu.chart.lines[0].points) == 300  # 5 min at 1 s
        await pilot.press("w")
        assert pane.window[1] == "1 h"
        assert cpu.chart.window == 3600
        await pilot.press("w")
        assert cpu.chart.window == 86400 and cpu.chart.has_data  # from the 1-min rollups
        await pilot.press("down")  # web-2: user-mode NIC, no balloon stats
        await pilot.pause()
        net = pane.plot("net")
        assert net.chart is not None and not net.chart.has_data
        assert "n/a" in net.chart.empty
        assert "QEMU RSS" in pane.plot("mem").chart.title  # type: ignore[union-attr]
        host = str(pane.query_one("#metrics-host").render())
        assert "21.2%" in host and "LOAD" in host


async def test_only_visible_plots_redraw(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        plots = list(app.query(MetricPlot))
        before = [p.builds for p in plots]
        assert all(before)
        pane = metrics(app)
        for _ in range(3):  # the same data: nothing is redrawn
            pane.reload()
            await pilot.pause()
        assert [p.builds for p in plots] == before
        await pilot.resize_terminal(140, 44)  # a resize redraws at the new size
        await pilot.pause()
        resized = [p.builds for p in plots]
        assert all(b > a for a, b in zip(before, resized, strict=True))
        await pilot.press("a")  # the alarm list replaces the charts
        assert pane.showing_alarms and app.focused is pane.alarms_table
        await pilot.press("w")  # new data for the charts, but they are hidden
        await pilot.pause()
        assert [p.builds for p in plots] == resized
        await pilot.press("a")
        await pilot.pause()
        assert all(p.builds > b for p, b in zip(plots, resized, strict=True))


async def test_alarm_modal_list_delete_and_notice(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5", "n")
        screen = app.screen
        assert isinstance(screen, AlarmCreateScreen)
        assert screen.query_one("#resource", Select).value == WEB1
        await pilot.press("ctrl+u", *"web-1-cpu-high")  # a demo rule has that name
        assert "exists already" in str(screen.query_one("#name-error").render())
        await pilot.press("ctrl+u", *"hot", *["tab"] * 5, "ctrl+u", *"150")
        assert "must be 0 to 100" in str(screen.query_one("#threshold-error").render())
        await pilot.press("ctrl+s")  # refused: still open, the bad field focused
        assert app.screen is screen and app.focused is screen.query_one("#threshold", Input)
        await pilot.press("ctrl+u", "0", "tab", "ctrl+u", *"2m", "enter")
        assert not isinstance(app.screen, AlarmCreateScreen)
        pane = metrics(app)
        await wait_for(pilot, lambda: "hot" in [r.cells[0] for r in pane.alarms_table.rows])
        alarm = demo_cloud.alarms.get("hot")
        assert (alarm.resource, alarm.metric, alarm.threshold, alarm.period) == (
            WEB1, "cpu_util", 0.0, 120.0)
        assert alarm.state is AlarmState.INSUFFICIENT_DATA
        demo_cloud.alarms.evaluate(DEMO_NOW)  # what the sampler does after each tick
        await pilot.pause()
        titles = [n.title for n in app._notifications]
        assert "alarm hot: ALARM" in titles
        await wait_for(pilot, lambda: any(r.cells[:2] == ("hot", "ALARM")
                                          for r in pane.alarms_table.rows))
        await pilot.press("a")  # to the alarm list, then to the rule, then delete
        pane.alarms_table.move_to(alarm.id)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: "hot" not in [r.cells[0] for r in pane.alarms_table.rows])
        assert "hot" not in [a.name for a in demo_cloud.alarms.list()]


async def test_palette_and_filter_on_the_metrics_pane(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        provider = LecsCommands(app.screen)
        await provider.startup()
        hits = {hit.text: hit.command async for hit in provider.search("metrics window 24")}
        hits["Metrics window: 24 h"]()  # from any pane: shows Metrics, then sets the window
        await wait_for(pilot, lambda: app.pane_name == "metrics"
                       and metrics(app).window[1] == "24 h")
        await pilot.press("slash", *"web-2", "enter")
        pane = metrics(app)
        assert [r.key for r in pane.table.view] == [WEB2]
        pane.reload()  # live updates keep the filter
        assert [r.key for r in pane.table.view] == [WEB2]
        assert pane.plot("cpu").chart.title == "cpu · web-2"  # type: ignore[union-attr]


# ---- a real guest, the app's own sampler ----------------------------------------------
@pytest.mark.qemu
async def test_live_metrics_and_alarm_on_a_real_guest(cloud: Cloud) -> None:
    inst = await cloud.instances.create("mon-ui", "tiny", "t1.nano", wait=True,
                                        wait_timeout=90)
    app = LecsApp(cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        assert cloud.metrics.status().here and cloud.metrics.status().interval == 1.0
        await pilot.press("6")  # a pane without live data: the sampler slows down
        assert cloud.metrics.status().interval == 10.0
        await pilot.press("5")
        assert cloud.metrics.status().interval == 1.0
        pane = metrics(app)
        assert [r.cells[0] for r in pane.table.rows] == ["mon-ui"]
        cpu = pane.plot("cpu")
        await wait_for(pilot, lambda: cpu.chart is not None and cpu.chart.has_data, 30)
        assert re.fullmatch(r"\d+\.\d%", cells(app, inst.id)["cpu"])
        await pilot.press("1")
        await wait_for(pilot, lambda: re.fullmatch(r"\d+\.\d%", cells(app, inst.id)["cpu"])
                       is not None, 15)
        await pilot.press("5", "n")
        assert isinstance(app.screen, AlarmCreateScreen)
        await pilot.press("ctrl+u", *"ui-busy", *["tab"] * 4, "enter", "down", "enter")
        assert app.screen.query_one("#comparison", Select).value == ">="
        await pilot.press("tab", "ctrl+u", "0", "tab", "ctrl+u", *"2s", "enter")
        assert not isinstance(app.screen, AlarmCreateScreen)
        await wait_for(pilot, lambda: cloud.alarms.get("ui-busy").state is AlarmState.ALARM, 20)
        await wait_for(pilot, lambda: "alarm ui-busy: ALARM" in
                       [n.title for n in app._notifications], 5)
        await wait_for(pilot, lambda: any(r.cells[:2] == ("ui-busy", "ALARM")
                                          for r in pane.alarms_table.rows), 5)
    assert not cloud.metrics.status().here  # stopped on exit
    assert cloud.instances.get(inst.id).state is InstanceState.RUNNING
