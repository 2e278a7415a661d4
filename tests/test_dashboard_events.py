"""Issue #13 item 2: the Events pane follows new events while its cursor is at the top, says
"N new" otherwise, and enter shows an event whole."""

from __future__ import annotations

from textual.widgets import Static

from app.tui.app import LecsApp
from app.tui.screens.event_detail import EventDetailScreen
from backend import Cloud
from sample_data.demo import demo_clock, demo_facts
from tests.test_dashboard import wait_for

LONG = {"name": "web-9", "user_data": "x" * 300, "tags": {"env": "prod", "team": "lab"}}


def demo_app(cloud: Cloud) -> LecsApp:
    return LecsApp(cloud, clock=demo_clock, facts=demo_facts(), reconcile=False,
                   poll_interval=0.1)


def title(app: LecsApp) -> str:
    return str(app.current_pane.query_one(".pane-title", Static).render())


async def test_new_events_show_on_top_or_are_counted(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        table = app.current_pane.table
        await wait_for(pilot, lambda: len(table.rows) == 22)
        demo_cloud.audit.record("instance.create", "i-new1", {"name": "new-1"})
        await wait_for(pilot, lambda: len(table.rows) == 23)
        assert table.cursor == 0 and table.view[0].cells[2] == "i-new1"  # followed
        assert int(table.scroll_offset.y) == 0 and "new" not in title(app).split("·")[-1]

        await pilot.press("j", "j")
        demo_cloud.audit.record("instance.create", "i-new2", {"name": "new-2"})
        demo_cloud.audit.record("instance.create", "i-new3", {"name": "new-3"})
        await wait_for(pilot, lambda: len(table.rows) == 25)
        assert table.current_row is not None and table.current_row.cells[2] != "i-new3"
        assert table.unseen == 2 and "2 new" in title(app)
        await pilot.press("g")
        assert table.view[0].cells[2] == "i-new3" and table.unseen == 0
        assert "new" not in title(app).split("·")[-1]


async def test_enter_shows_the_event_whole(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        table = app.current_pane.table
        demo_cloud.audit.record("instance.create", "i-long", LONG, duration_ms=1200)
        await wait_for(pilot, lambda: table.rows and table.view[0].cells[2] == "i-long")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EventDetailScreen))
        text = str(app.screen.query_one("#event-text", Static).render())
        assert "x" * 60 in text.replace("\n", "")  # the parameter, not cut at the column
        assert '"team": "lab"' in text and "instance.create" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, EventDetailScreen)
