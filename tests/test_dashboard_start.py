"""Right after start, before a pane was ever shown: jumping to it, filtering it, pressing its
keys never ends the dashboard (a pane is mounted on first show, composed a moment later)."""

from __future__ import annotations

import pytest

from app.tui.app import LecsApp
from backend import Cloud
from sample_data.demo import demo_clock, demo_facts

PANES = {"instances": "instances", "images": "images", "disks": "disks",
         "sg": "security-groups", "metrics": "metrics", "events": "events"}


@pytest.mark.parametrize("pane", list(PANES))
async def test_jump_right_after_start(demo_cloud: Cloud, pane: str) -> None:
    app = LecsApp(demo_cloud, clock=demo_clock, facts=demo_facts(), reconcile=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *pane, "enter", "/", "x", "enter")
        await pilot.pause(0.3)
        assert app.is_running
        assert app.pane_name == PANES[pane]
        assert app.current_pane.composed
        assert app.current_pane.table.filter_text == "x"
    assert app.return_code in (None, 0)


async def test_every_pane_digit_at_once(demo_cloud: Cloud) -> None:
    app = LecsApp(demo_cloud, clock=demo_clock, facts=demo_facts(), reconcile=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "3", "4", "5", "6", "1", "/", "w", "enter", "3")
        await pilot.pause(0.3)
        assert app.is_running and app.pane_name == "disks"
    assert app.return_code in (None, 0)


async def test_first_frame_shows_no_unchecked_running_row(demo_cloud: Cloud) -> None:
    """The demo's `running` rows have no QEMU behind them: the first frame checks the rows that
    say QEMU is up (and only those) before it is drawn, so none of them shows as running; the
    `error` rows wait for the live thread's full reconcile, which comes right after."""
    said_up = [r["id"] for r in demo_cloud.store.rows(
        "SELECT id FROM instances WHERE state IN ('running', 'paused', 'starting')")]
    assert said_up  # the demo has some, or this test checks nothing
    first: dict[str, str] = {}

    class FirstFrame(LecsApp):
        def on_ready(self) -> None:
            first.update((i.id, i.state.value) for i in self.instances)
            super().on_ready()

    app = FirstFrame(demo_cloud, clock=demo_clock, facts=demo_facts(), sampler=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        assert app.live._started >= 1  # the full reconcile ran in the live thread
    assert all(first[i] not in ("running", "paused", "starting") for i in said_up), first
