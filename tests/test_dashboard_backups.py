"""Issue #13 item 7: backups are listed, restored and deleted in the dashboard (B on Disks),
through run_op (audited, with progress), each after a confirm that says what changes."""

from __future__ import annotations

from typing import Any

import pytest

from app.tui.app import LecsApp
from app.tui.screens.confirm import ConfirmScreen
from backend import Cloud
from tests.test_dashboard import wait_for

pytestmark = pytest.mark.qemu


async def test_backups_listed_restored_and_deleted(cloud: Cloud) -> None:
    inst = await cloud.instances.create("bk-1", "tiny", "t1.nano", start=False)
    first = await cloud.backups.create(inst.id, "bk-1-first")
    second = await cloud.backups.create(inst.id, "bk-1-second")
    app = LecsApp(cloud)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: bool(app.current_pane.table.rows))
        app.current_pane.table.move_to(next(d.id for d in cloud.disks.list()
                                            if d.instance_id == inst.id))
        await pilot.press("B")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BackupsScreen", 5)
        screen: Any = app.screen  # (app/tui/screens/backup_list.py)
        await wait_for(pilot, lambda: len(screen.table.rows) == 2)
        assert [r.cells[0] for r in screen.table.view] == ["bk-1-second", "bk-1-first"]
        assert screen.table.current_key == second.id  # that instance's newest

        await pilot.press("R")
        assert isinstance(app.screen, ConfirmScreen)
        question = app.screen.question
        assert "Restore bk-1 from backup bk-1-second" in question
        assert "Its disk (bk-1-system) is overwritten" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: any(e.action == "backup.restore" and e.result == "success"
                                          for e in cloud.audit.list(limit=20)), 60)

        await pilot.press("down", "D")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question.startswith("Delete backup bk-1-first of bk-1 (1 disk,")
        await pilot.press("y")
        await wait_for(pilot, lambda: [b.id for b in cloud.backups.list()] == [second.id], 30)
        await wait_for(pilot, lambda: [r.key for r in screen.table.rows] == [second.id])
        assert first.id not in {r.key for r in screen.table.rows}
