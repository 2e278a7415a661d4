"""The dashboard's keys for issue #15 on a real inventory: rename (e), resize (T) and
rebuild (B) picked from lists with confirms that say what changes, console output (l),
pause/resume (z) on a real guest, and the palette's commands for them."""

from __future__ import annotations

import pytest
from textual.widgets import Select

from app.tui.app import LecsApp
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.console_log import ConsoleLogScreen
from app.tui.screens.instance_name import InstanceNameScreen
from app.tui.screens.instance_pick import InstancePickScreen
from backend import Cloud
from backend.inventory.records import InstanceState
from tests.test_dashboard import wait_for

pytestmark = pytest.mark.qemu


async def test_rename_resize_rebuild_console_log_pause(cloud: Cloud) -> None:
    inst = await cloud.instances.create("dash-op", "tiny", "t1.nano", start=False)
    old_system = inst.disks[0].id
    app = LecsApp(cloud)
    now = lambda: cloud.instances.get(inst.id, reconcile=False)  # noqa: E731
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.instances))
        await pilot.press("e")
        assert isinstance(app.screen, InstanceNameScreen)
        await pilot.press(*["backspace"] * 10, *"dash-new", "enter")
        await wait_for(pilot, lambda: now().name == "dash-new")

        await pilot.press("T")
        assert isinstance(app.screen, InstancePickScreen)
        app.screen.query_one("#choice", Select).value = "s1.medium"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.question)
        assert "from t1.nano (1 vCPU, 128 MiB) to s1.medium (2 vCPU, 1024 MiB)" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: now().type == "s1.medium")

        await pilot.press("B")
        assert isinstance(app.screen, InstancePickScreen)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Its system disk dash-op-system is replaced" in app.screen.question
        assert "deleted with everything on it" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: now().disks[0].id != old_system)

        await pilot.press("L")
        assert isinstance(app.screen, ConsoleLogScreen)
        assert "last boot" in app.screen.heading
        await pilot.press("escape")

        await cloud.instances.start(inst.id, wait=True, timeout=90)
        await wait_for(pilot, lambda: app.find(inst.id) is not None
                       and app.find(inst.id).state is InstanceState.RUNNING)  # type: ignore
        await pilot.press("z")
        assert isinstance(app.screen, ConfirmScreen) and "Pause dash-new?" in \
            app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: now().state is InstanceState.PAUSED)
        await wait_for(pilot, lambda: app.find(inst.id).state  # type: ignore[union-attr]
                       is InstanceState.PAUSED)
        row = app.current_pane.table.current_row
        assert row is not None and row.cells[2] == "paused"
        await pilot.press("z")  # resume: no question
        await wait_for(pilot, lambda: now().state is InstanceState.RUNNING)

        titles = [c[0] for c in app._palette_commands()]
        for label in ("Pause dash-new", "Rename dash-new", "Resize dash-new",
                      "Rebuild dash-new", "Clone dash-new", "Console log dash-new"):
            assert label in titles
    actions = [e.action for e in cloud.audit.list(resource=inst.id)]
    for action in ("instance.rename", "instance.resize", "instance.rebuild", "instance.pause",
                   "instance.resume"):
        assert action in actions
