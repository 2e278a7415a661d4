"""The serial console inside the dashboard, typing into a real guest's shell."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from app.tui.app import LecsApp
from app.tui.screens.console import ConsoleScreen
from app.tui.widgets.terminal import Terminal
from backend import Cloud
from tests.test_dashboard import wait_for

pytestmark = pytest.mark.qemu


def screen_has(term: Terminal, text: str) -> bool:
    return any(text in line for line in term.lines)


@asynccontextmanager
async def console(cloud: Cloud, name: str) -> AsyncIterator[tuple[LecsApp, Any, Terminal]]:
    """A booted guest, the dashboard over it, and `c`: its console open."""
    inst = await cloud.instances.create(name, "tiny", "t1.nano")
    await cloud.instances.wait_ready(inst.id, 60)
    app = LecsApp(cloud)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, ConsoleScreen)
        yield app, pilot, app.screen.query_one(Terminal)


async def test_console_runs_a_command_in_the_guest(cloud: Cloud) -> None:
    async with console(cloud, "con-1") as (app, pilot, term):
        await wait_for(pilot, lambda: term.send is not None, 10)
        await pilot.press("enter")
        await pilot.press(*"echo lecs-$((6*7))", "enter")
        await wait_for(pilot, lambda: screen_has(term, "lecs-42"), 20)
        assert screen_has(term, "echo lecs-$((6*7))")  # the shell echoed what we typed
        await pilot.press("ctrl+right_square_bracket")
        assert not isinstance(app.screen, ConsoleScreen)
        assert app.current_pane.NAME == "instances"
        # the console can be attached again after a detach
        await pilot.press("enter")
        assert isinstance(app.screen, ConsoleScreen)
        term = app.screen.query_one(Terminal)
        await wait_for(pilot, lambda: term.send is not None, 10)
        await pilot.press(*"echo again-$((1+1))", "enter")
        await wait_for(pilot, lambda: screen_has(term, "again-2"), 20)
        await pilot.press("ctrl+right_square_bracket")


async def test_console_shows_the_prompt_on_open_and_only_its_keys(cloud: Cloud) -> None:
    """Issue #13 item 9: not blank until enter; no `? Help  q Quit` (those keys are the
    guest's here)."""
    async with console(cloud, "con-2") as (app, pilot, term):
        await wait_for(pilot, lambda: any(line.strip() for line in term.lines), 15)
        shown = {key for key, b in app.screen.active_bindings.items() if b.binding.show}
        assert shown == {"ctrl+right_square_bracket"}, shown
        await pilot.press("q")  # typed to the guest, the dashboard stays
        assert app.is_running and isinstance(app.screen, ConsoleScreen)
        await pilot.press("ctrl+right_square_bracket")
