"""Pilot tests of the dashboard: the demo inventory (no QEMU) and one real guest's lifecycle."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from app.tui.app import LecsApp, keys_markdown
from app.tui.commands.palette import LecsCommands
from app.tui.panes.instances import InstancesPane
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.create_instance import CreateInstanceScreen
from app.tui.screens.help import HelpScreen
from app.tui.screens.instance_detail import InstanceDetailScreen
from app.tui.widgets import query
from app.tui.widgets.vtable import Row
from backend import Cloud
from backend.inventory.records import InstanceState
from sample_data.demo import demo_clock, demo_facts

REPO = Path(__file__).resolve().parent.parent


def demo_app(cloud: Cloud) -> LecsApp:
    return LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False)


async def wait_for(pilot: object, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        await pilot.pause(0.1)  # type: ignore[attr-defined]


def plain(widget: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def names(app: LecsApp) -> list[str]:
    return [row.cells[0] for row in app.current_pane.table.view]


# ---- the filter language ---------------------------------------------------------------
def test_query_terms() -> None:
    rows = [
        Row("a", ("web-1", "running"), fields={"state": "running"}, tags={"env": "prod"}),
        Row("b", ("db-1", "stopped"), fields={"state": "stopped"}, tags={"env": "dev"}),
        Row("c", ("web-2", "stopped"), fields={"state": "stopped"}, tags={}),
    ]
    assert [r.key for r in query.apply(rows, "web")] == ["a", "c"]
    assert [r.key for r in query.apply(rows, "state:running")] == ["a"]
    assert [r.key for r in query.apply(rows, "tag:env=dev")] == ["b"]
    assert [r.key for r in query.apply(rows, "tag:env")] == ["a", "b"]
    assert [r.key for r in query.apply(rows, "WEB state:stop")] == ["c"]
    assert [r.key for r in query.apply(rows, "")] == ["a", "b", "c"]


# ---- demo inventory, no QEMU -----------------------------------------------------------
async def test_filter_rows(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        assert len(names(app)) == 7
        await pilot.press("slash", *"web")
        assert names(app) == ["web-1", "web-2"]
        await pilot.press("enter")
        assert app.focused is app.current_pane.table
        assert "filter: web" in str(app.current_pane.query_one(".pane-title").render())
        await pilot.press("slash", "ctrl+u", *"state:stopped")
        assert names(app) == ["db-1", "lab-sandbox"]
        await pilot.press("ctrl+u", *"tag:role=db")
        assert names(app) == ["db-1"]
        await pilot.press("escape")
        assert len(names(app)) == 7
        assert app.focused is app.current_pane.table


async def test_switch_panes_by_digits_and_jump(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, pane in (("2", "images"), ("3", "disks"), ("4", "security-groups"),
                          ("5", "metrics"), ("6", "events"), ("1", "instances")):
            await pilot.press(key)
            assert app.current_pane.NAME == pane
        await pilot.press("colon", *"disks", "enter")
        assert app.current_pane.NAME == "disks"
        assert app.focused is app.current_pane.table
        await pilot.press("colon", *"sg", "enter")
        assert app.current_pane.NAME == "security-groups"
        await pilot.press("colon", *"ev", "enter")
        assert app.current_pane.NAME == "events"
        assert names(app)[0] == "01-01 11:59:58"  # newest first
        await pilot.press("colon", *"nonsense", "enter")
        assert app.current_pane.NAME == "events"


async def test_help_lists_every_binding(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = keys_markdown()
        for binding in [*LecsApp.BINDINGS, *InstancesPane.BINDINGS]:
            assert binding.tooltip in text  # type: ignore[union-attr]
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def test_keys_doc_is_current() -> None:
    assert (REPO / "docs" / "keys.md").read_text() == keys_markdown() + "\n"
    readme = (REPO / "README.md").read_text()
    start, end = readme.index("<!-- keys:start"), readme.index("<!-- keys:end -->")
    section = readme[readme.index("\n", start) + 1:end].strip()
    assert section == keys_markdown().replace("## Keys", "## Keys (the dashboard)", 1).strip()


async def test_marks_and_confirm_cancel(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.current_pane.table
        await pilot.press("space", "space")
        assert table.marked == {"i-cache1dddd", "i-ci07eeeeee"}
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert len(demo_cloud.instances.list(reconcile=False)) == 7
        await pilot.press("escape")
        assert table.marked == set()


async def test_create_modal_validates_inline(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, CreateInstanceScreen)
        await pilot.press(*"bad name")
        error = str(app.screen.query_one("#name-error").render())
        assert "invalid instance name" in error
        await pilot.press("ctrl+u", *"web-1")
        assert "exists already" in str(app.screen.query_one("#name-error").render())
        await pilot.press("tab", "tab", "tab", *"novalue")
        assert "expected KEY=VALUE" in str(app.screen.query_one("#tags-error").render())
        await pilot.press("enter")  # refused: still open
        assert isinstance(app.screen, CreateInstanceScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, CreateInstanceScreen)


async def test_detail_view_and_palette(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i")  # cursor is on cache-1
        assert isinstance(app.screen, InstanceDetailScreen)
        props = plain(app.screen.query_one("#detail-props", Static))
        assert "died unexpectedly" in props
        await pilot.press("escape")
        provider = LecsCommands(app.screen)
        await provider.startup()
        hits = [hit.text async for hit in provider.search("stop web-1")]
        assert "Stop web-1" in hits
        assert "Force stop web-1" in hits


async def test_long_operation_shows_progress(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    release = asyncio.Event()

    async def slow_import(name: str, progress: Callable[[float, str], None]) -> None:
        progress(0.25, name)
        await release.wait()

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        app.run_op("image.import", "big-image", slow_import, "big-image", progress=True)
        await wait_for(pilot, lambda: bool(app.ops.running))
        await pilot.pause(0.3)
        bar = app.query_one("#ops", Static)
        assert bar.display
        assert "import big-image" in plain(bar) and "25%" in plain(bar)
        top = app.current_pane.table.view[0]
        assert top.cells[1:4] == ("image.import", "big-image", "running")
        release.set()
        await wait_for(pilot, lambda: not app.ops.running)
        assert not bar.display
        assert app.current_pane.table.view[0].cells[3] != "running"


async def test_mouse_switches_panes_and_moves_the_cursor(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        bar = app.query_one("#panebar", Static)
        x = plain(bar).index("Events")
        await pilot.click("#panebar", offset=(x + 2, 0))
        assert app.current_pane.NAME == "events"
        await pilot.press("1")
        await pilot.click("#instances-table", offset=(4, 3))  # header, then rows 0, 1, 2
        assert app.current_pane.table.current_key == "i-db01cccccc"


def test_no_color_picks_the_high_contrast_theme(demo_cloud: Cloud,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = demo_app(demo_cloud)
    assert app.no_color and app.theme == "lecs-high-contrast"
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("LECS_THEME", "light")
    assert demo_app(demo_cloud).theme == "lecs-light"


# ---- a real guest ----------------------------------------------------------------------
@pytest.mark.qemu
async def test_instance_lifecycle_through_the_dashboard(cloud: Cloud) -> None:
    app = LecsApp(cloud)
    state = lambda: {i.name: i.state for i in app.instances}.get("dash-1")  # noqa: E731
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, CreateInstanceScreen)
        await pilot.press(*"dash-1", "tab", "tab", "tab", *"env=test", "enter")
        assert not isinstance(app.screen, CreateInstanceScreen)
        await wait_for(pilot, lambda: state() is InstanceState.RUNNING)  # no keypress
        row = app.current_pane.table.current_row
        assert row is not None and row.cells[2] in ("booting", "ready", "configured")  # running
        assert row.cells[8] == "env=test"
        inst = cloud.instances.get("dash-1")
        await cloud.instances.wait_ready(inst.id, 60)

        def level() -> str:
            row = app.current_pane.table.current_row
            return row.cells[2] if row else ""

        await wait_for(pilot, lambda: level() == "configured")  # the guest's marker, read
    # quitting leaves the VM running; a new dashboard finds it
    assert cloud.instances.get("dash-1").state is InstanceState.RUNNING
    app = LecsApp(cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        assert state() is InstanceState.RUNNING
        await pilot.press("slash", *"dash", "enter", "x")
        await wait_for(pilot, lambda: state() is InstanceState.STOPPED)
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: state() is None)
        assert names(app) == []
    assert [e.action for e in cloud.audit.list(resource=inst.id)][:2] == [
        "instance.delete", "instance.stop"]


async def test_theme_switch_restyles_the_running_app(demo_cloud: Cloud) -> None:
    """ctrl+t re-parses the CSS with the new theme's variables (app/themes.ThemedStylesheet
    keeps parsed rules only while the variables stay the same)."""
    from app.tui.themes import DARK, LIGHT

    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.current_pane.table
        dark = table.styles.background
        assert app.theme == DARK.name
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == LIGHT.name
        light = table.styles.background
        assert light != dark
        assert light.hex.upper() in {LIGHT.background, LIGHT.surface, LIGHT.panel}
        await pilot.press("ctrl+t", "ctrl+t")  # high contrast, then dark again
        await pilot.pause()
        assert app.theme == DARK.name and table.styles.background == dark
