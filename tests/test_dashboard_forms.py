"""Issue #13 item 6: one rule for every form (app/tui/widgets/form_rules.py): a grey
placeholder is the default a blank field takes, and every error says what is wrong in a line
that fits the dialog (blank, too long, …)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Input, Label

from app.tui.app import LecsApp
from app.tui.screens.alarm_create import AlarmCreateScreen
from app.tui.screens.create_instance import CreateInstanceScreen
from app.tui.screens.disk_create import CreateDiskScreen, DiskSpec
from app.tui.screens.image_create import CreateImageScreen, ImageFromInstance
from app.tui.screens.import_image import ImportImageScreen, ImportSpec
from app.tui.screens.keypair_import import ImportKeyScreen
from app.tui.screens.snapshot_create import SnapshotCreateScreen
from backend import Cloud
from sample_data.demo import demo_clock, demo_facts
from tests.test_dashboard import wait_for

LONG = "n" * 70
ERROR_WIDTH = 64  # a 72-wide dialog less its border and padding


def demo_app(cloud: Cloud) -> LecsApp:
    return LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False, sampler=False)


async def opened(pilot: Any, app: LecsApp, screen: Screen[Any]) -> Any:
    results: list[object] = []
    app.push_screen(screen, results.append)
    await wait_for(pilot, lambda: app.screen is screen and bool(screen.query(Input)))
    await pilot.pause()
    return results


def error_of(screen: Screen[Any], field: str) -> Label:
    return screen.query_one(f"#{field}-error", Label)


def assert_fits(label: Label, *words: str) -> None:
    text = str(label.render())
    assert all(w in text for w in words), text
    assert len(text) <= ERROR_WIDTH and "\n" not in text, text
    assert label.region.width >= len(text), (label.region, text)  # shown whole


def screens(cloud: Cloud) -> dict[str, tuple[Screen[Any], str]]:
    instances = cloud.instances.list(reconcile=False)
    return {
        "import": (ImportImageScreen(set()), "name"),
        "image": (CreateImageScreen(instances, set()), "name"),
        "disk": (CreateDiskScreen(set()), "name"),
        "snapshot": (SnapshotCreateScreen("scratch", False, set()), "name"),
        "instance": (CreateInstanceScreen(cloud.images.list(), cloud.types.list(), set()),
                     "name"),
        "keypair": (ImportKeyScreen(set(), generate=True), "name"),
        "alarm": (AlarmCreateScreen([("host (this machine)", "host")], "host", set()), "name"),
    }


@pytest.mark.parametrize("form", ["import", "image", "disk", "snapshot", "instance", "keypair",
                                  "alarm"])
async def test_a_long_name_says_too_long_in_one_line(demo_cloud: Cloud, form: str) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, field = screens(demo_cloud)[form]
        await opened(pilot, app, screen)
        screen.query_one(f"#{field}", Input).value = LONG
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen  # refused
        assert_fits(error_of(screen, field), "too long", "70")


async def test_blank_fields_take_the_grey_default(demo_cloud: Cloud, tmp_path: Path) -> None:
    image_file = tmp_path / "alpine-virt-3.20.qcow2"
    image_file.write_bytes(b"QFI\xfb" + bytes(508))
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        # Import: the name's default follows the file; an optional field has no fake default
        screen = ImportImageScreen({"alpine-virt-3"})
        results = await opened(pilot, app, screen)
        for field in ("os", "checksum"):
            assert screen.query_one(f"#{field}", Input).placeholder == ""
        screen.query_one("#path", Input).value = str(image_file)
        await pilot.pause()
        assert screen.query_one("#name", Input).placeholder == "alpine-virt-3-2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(results))
        assert results == [ImportSpec(str(image_file), "alpine-virt-3-2", "", None)]

        # Create image from instance: the grey name is taken, not refused
        stopped = next(i for i in demo_cloud.instances.list(reconcile=False)
                       if i.state.value == "stopped")
        screen2 = CreateImageScreen(demo_cloud.instances.list(reconcile=False), set(),
                                    stopped.id)
        results = await opened(pilot, app, screen2)
        grey = screen2.query_one("#name", Input).placeholder
        assert grey == f"{stopped.name}-image"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(results))
        assert results == [ImageFromInstance(stopped.id, grey)]

        # Create disk: blank size is the grey 10 GiB, not "invalid disk size '?'"
        screen3 = CreateDiskScreen({"data-1"})
        results = await opened(pilot, app, screen3)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(results))
        assert results == [DiskSpec("data-1-2", 10, False, False)]


async def test_required_fields_say_so(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ImportImageScreen(set())
        await opened(pilot, app, screen)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        assert_fits(error_of(screen, "path"), "required")
        assert_fits(error_of(screen, "name"), "required")
