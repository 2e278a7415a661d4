"""Issue #13 item 5: at 80×24 a notification never covers an open dialog's controls: it shows
on one line above the dialog, and as a toast again once the dialog is closed."""

from __future__ import annotations

import html
import re

from textual.widget import Widget
from textual.widgets import Static
from textual.widgets._toast import Toast

from app.tui.app import LecsApp
from app.tui.screens.import_image import ImportImageScreen
from app.tui.screens.tags import TagsScreen
from backend import Cloud
from sample_data.demo import demo_clock, demo_facts
from tests.test_dashboard import wait_for

LONG = "the disk image file could not be read: permission denied, check its mode " * 2


def demo_app(cloud: Cloud) -> LecsApp:
    return LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False, sampler=False)


def covering(app: LecsApp, dialog: Widget) -> list[Toast]:
    """The toasts drawn over the dialog."""
    return [t for t in app.screen.query(Toast) if t.visible and t.region.overlaps(dialog.region)]


def screen_text(app: LecsApp) -> str:
    """The frame as it is drawn (what the operator sees), as plain text."""
    svg = app.export_screenshot()
    texts = re.findall(r"<text [^>]*>(.*?)</text>", svg)
    return html.unescape("".join(texts)).replace("\xa0", " ")


async def test_toasts_stay_off_the_import_dialog(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.push_screen(ImportImageScreen(set()))
        await wait_for(pilot, lambda: isinstance(app.screen, ImportImageScreen))
        await pilot.pause()
        for n in range(3):
            app.notify(LONG, title=f"image.import failed {n}", severity="error", timeout=30)
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "Import (ctrl+s)" in text and "Cancel" in text  # the buttons are not covered
        assert "Checksum to verify" in text
        notice = app.screen.query_one("#dialog-notice", Static)
        dialog = app.screen.query_one("#import-dialog")
        assert "image.import failed 2" in str(notice.render())
        assert not notice.region.overlaps(dialog.region) and not covering(app, dialog)
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert "image.import failed 2" in screen_text(app)  # the toast, on the panes


async def test_toasts_stay_off_the_tags_input(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        app.push_screen(TagsScreen("web-1", {"env": "prod", "role": "web"}))
        await wait_for(pilot, lambda: isinstance(app.screen, TagsScreen))
        for n in range(4):
            app.notify(LONG, title=f"notice {n}", timeout=30)
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "env=prod role=web" in text and "enter saves" in text
        assert not covering(app, app.screen.query_one("#tags-dialog"))
