"""Issue #13 item 9: labels that say what they mean (counts agree, charts start at 0, footers
list only the keys that work) and a theme that is kept across restarts."""

from __future__ import annotations

import re
import stat

import pytest
from textual.widgets import Static

from app.tui.app import LecsApp
from app.tui.screens.confirm import ConfirmScreen
from app.tui.widgets.plots import MetricPlot
from backend import Cloud
from sample_data.demo import demo_clock, demo_facts, follow_demo_clock
from tests.test_dashboard import wait_for


def demo_app(cloud: Cloud) -> LecsApp:
    return LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False, sampler=False)


def footer_keys(app: LecsApp) -> dict[str, str]:
    """The keys the footer shows, with their descriptions."""
    return {key: b.binding.description for key, b in app.screen.active_bindings.items()
            if b.binding.show}


async def test_metrics_host_counts_and_chart_axis_from_zero(demo_cloud: Cloud) -> None:
    follow_demo_clock(demo_cloud)
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: "Host" in str(app.query_one("#metrics-host",
                                                                     Static).render()))
        host = str(app.query_one("#metrics-host", Static).render())
        assert "GIVE" not in host and "2 VMs up · 2 vCPU · 512 MiB" in host
        plot = app.query_one("#plot-cpu", MetricPlot)
        await wait_for(pilot, lambda: plot.chart is not None and plot.chart.has_data)
        await pilot.pause()
        axis = [line.split("┤")[0].strip() for line in str(plot.render()).splitlines()
                if "┤" in line]
        assert "0" in axis, axis  # the y axis starts at a labelled 0


async def test_delete_one_instance_is_singular(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.current_pane.table
        table.move_to("i-db01cccccc")
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Delete db-1? Its system disk is deleted with it."
        await pilot.press("n")
        await pilot.press("space", "space", "D")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Their system disks are deleted with them." in app.screen.question


async def test_prompt_footers_list_their_own_keys(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon")
        keys = footer_keys(app)
        assert keys.get("enter") == "Go to pane" and keys.get("escape") == "Cancel"
        assert not {"slash", "question_mark", "q"} & set(keys), keys
        await pilot.press(*"di", "enter")
        assert app.pane_name == "disks"
        await pilot.press("slash")
        keys = footer_keys(app)
        assert keys.get("enter") == "Keep filter" and "slash" not in keys
        await pilot.press(*"q?", "escape")  # q and ? are typed, not acted on
        assert app.is_running and app.current_pane.table.filter_text == ""
        assert "slash" in footer_keys(app)


async def test_theme_is_kept_across_restarts(demo_cloud: Cloud,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LECS_THEME", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "lecs-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "lecs-light"
    saved = demo_cloud.paths.home / "dashboard.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    again = demo_app(demo_cloud)
    async with again.run_test(size=(80, 24)):
        assert again.theme == "lecs-light"
    monkeypatch.setenv("LECS_THEME", "high-contrast")  # the environment still wins
    assert demo_app(demo_cloud).theme == "lecs-high-contrast"
    assert re.fullmatch(r'\{"theme": "lecs-light"\}\n', saved.read_text())


async def test_alarm_form_says_renotify_not_suppress_0(demo_cloud: Cloud) -> None:
    from textual.widgets import Input, Label

    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5", "n")
        await wait_for(pilot, lambda: bool(app.screen.query("#suppression")))
        labels = [str(label.render()) for label in app.screen.query(Label)]
        assert "Suppress" not in labels and "Renotify" in labels
        field = app.screen.query_one("#suppression", Input)
        assert (field.value, field.placeholder) == ("", "never")
