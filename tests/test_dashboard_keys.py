"""Every key of every pane, and of each dialog or screen those keys open, pressed in an empty
and in a full inventory, right after start: the dashboard stays up, and nothing had to be
caught by the guard (app/tui/widgets/guard.py) — a caught error is a bug shown to the user.
A handler that raises becomes a notification and a logged traceback, and the app carries on."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from textual.binding import Binding

from app.tui.app import PANE_MODULES, LecsApp
from backend import Cloud
from sample_data.demo import demo_clock, demo_facts

SKIP = {"q", "ctrl+q", "s", "ctrl+c"}  # quit; ssh suspends the terminal for a real ssh
DIGITS = {name: str(n) for n, name in enumerate(PANE_MODULES, start=1)}


@pytest.fixture
def settle_on_queues_not_cpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pilot waits, after every key, until the process spent < 1 ms of CPU in 20 ms
    (textual._wait.wait_for_idle): ~90 ms a key on a loaded machine, ~2 s a press with its
    pane digit and pause, ~800 waits a run. Here a key has landed when every widget of the
    screen has handled what was queued before it (Pilot._wait_for_screen, which press and
    pause still do) and the workers it started have ended (_settle below)."""
    async def yield_to_the_loop(min_sleep: float = 0, max_sleep: float = 1) -> None:
        await asyncio.sleep(0)

    for module in ("textual.app", "textual.pilot"):
        monkeypatch.setattr(f"{module}.wait_for_idle", yield_to_the_loop)
    yield


async def _settle(app: LecsApp, pilot: object) -> None:
    """Every message handled and every worker a key started ended (its errors guarded)."""
    await pilot.pause()  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


def _keys(bindings: Sequence[object]) -> list[str]:
    keys: list[str] = []
    for b in bindings:
        key = b.key if isinstance(b, Binding) else str(b[0])  # type: ignore[index]
        keys += [k.strip() for k in key.split(",") if k.strip() not in SKIP]
    return keys


def _pane_keys(name: str) -> list[str]:
    module, cls = PANE_MODULES[name]
    return _keys(getattr(importlib.import_module(module), cls).BINDINGS)


async def _close_screens(app: LecsApp, pilot: object) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def _press_everything(app: LecsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        for name, digit in DIGITS.items():
            for key in _pane_keys(name) + _keys(LecsApp.BINDINGS):
                await pilot.press(digit)  # the pane's key right after showing it
                await _settle(app, pilot)
                focused = app.focused
                assert app.pane_name == name and focused is not None, f"{name}: not shown"
                assert app.current_pane in focused.ancestors_with_self, f"{name}: not focused"
                await pilot.press(key)
                await _settle(app, pilot)
                assert app.is_running, f"{name}: {key} ended the app"
                if len(app.screen_stack) > 1:  # a dialog or screen: its own keys too
                    top = app.screen_stack[-1]
                    for inner in _keys(top.BINDINGS):
                        if inner in ("escape", "n") or len(app.screen_stack) < 2:
                            continue
                        await pilot.press(inner)
                        await _settle(app, pilot)
                        assert app.is_running, f"{name}: {key} then {inner} ended the app"
                await _close_screens(app, pilot)
                await pilot.press("escape")
        await _settle(app, pilot)
        assert app.guarded_errors == []
    assert app.return_code in (None, 0)


@pytest.mark.usefixtures("settle_on_queues_not_cpu")
async def test_every_key_in_the_full_demo_inventory(demo_cloud: Cloud) -> None:
    app = LecsApp(demo_cloud, clock=demo_clock, facts=demo_facts(), reconcile=False)
    await _press_everything(app)


@pytest.mark.usefixtures("settle_on_queues_not_cpu")
async def test_every_key_in_an_empty_inventory(bare_cloud: Cloud) -> None:
    await _press_everything(LecsApp(bare_cloud, reconcile=False))


async def test_a_raising_handler_is_a_notice_not_the_end(demo_cloud: Cloud, home: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.tui.panes.images import ImagesPane

    def broken(self: ImagesPane) -> None:
        raise RuntimeError("boom in refresh")

    monkeypatch.setattr(ImagesPane, "refresh_data", broken)
    app = LecsApp(demo_cloud, clock=demo_clock, facts=demo_facts(), reconcile=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await pilot.pause(0.2)
        await pilot.press("1", "2", "/", "x", "enter")
        await pilot.pause(0.2)
        assert app.is_running
        assert app.guarded_errors and "boom in refresh" in app.guarded_errors[0]
        assert any("boom in refresh" in n.message for n in app._notifications)
        await pilot.press("1")
        await pilot.pause(0.1)
        assert app.pane_name == "instances"  # still answering keys
    log = home / "logs" / "dashboard.log"
    assert "RuntimeError: boom in refresh" in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o600"
