"""Pilot tests of the storage panes: Disks (create, attach, snapshot, detach, delete) and Images
(import with progress and cancel, create from instance, delete refused while in use).

The demo inventory needs no QEMU (qemu-img only); one test boots the tiny guest for real.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, Static

from app.tui.app import LecsApp, keys_markdown
from app.tui.commands.palette import LecsCommands
from app.tui.panes.disks import DisksPane
from app.tui.panes.images import ImagesPane
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.disk_attach import AttachDiskScreen
from app.tui.screens.disk_create import CreateDiskScreen
from app.tui.screens.disk_detail import DiskDetailScreen, tree_prefixes
from app.tui.screens.disk_resize import ResizeDiskScreen
from app.tui.screens.image_create import CreateImageScreen
from app.tui.screens.import_image import ImportImageScreen
from app.tui.screens.snapshot_create import SnapshotCreateScreen
from backend import Cloud
from backend.inventory.errors import NotFoundError
from backend.inventory.records import DiskState, ImageState, InstanceState
from tests.test_dashboard import demo_app, plain, wait_for
from tests.test_disks import GIB_SECTORS, wait_block


def notices(app: LecsApp) -> list[str]:
    """Record every notification's text (they expire from the screen; the list does not)."""
    seen: list[str] = []
    notify = app.notify

    def spy(message: str, **kwargs: Any) -> None:
        seen.append(message)
        notify(message, **kwargs)

    app.notify = spy  # type: ignore[method-assign]
    return seen


def rows(app: LecsApp, screen_table: bool = False) -> dict[str, tuple[str, ...]]:
    from app.tui.widgets.vtable import VirtualTable

    table = app.screen.query_one(VirtualTable) if screen_table else app.current_pane.table
    return {r.cells[0]: r.cells for r in table.view}


def error_text(app: LecsApp, field: str) -> str:
    return str(app.screen.query_one(f"#{field}-error").render())


def test_tree_prefixes() -> None:
    assert tree_prefixes([0, 1, 2, 1, 0, 1]) == ["", "├─ ", "│  └─ ", "└─ ", "", "└─ "]
    assert tree_prefixes([0, 1, 1, 2]) == ["", "├─ ", "└─ ", "   └─ "]


# ---- demo inventory: no QEMU -----------------------------------------------------------
async def test_disks_pane_lists_every_disk_and_the_snapshot_tree(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        disks = rows(app)
        assert len(disks) == 11  # 7 system disks and 4 data disks, attached or not
        assert disks["scratch"][4:7] == ("data", "available", "-")
        assert disks["db-1-data"][5:10] == ("in-use", "db-1", "no", "yes", "4")
        await pilot.press("slash", *"role:data", "enter")
        assert sorted(rows(app)) == ["archive-2025", "db-1-data", "scratch", "web-1-logs"]
        await pilot.press("down", "enter")  # db-1-data
        assert isinstance(app.screen, DiskDetailScreen)
        tree = rows(app, screen_table=True)
        assert list(tree) == ["db-1-data-nightly-1230", "├─ db-1-data-before-pg17",
                              "│  └─ db-1-data-after-pg17", "└─ db-1-data-nightly-0101"]
        assert tree["└─ db-1-data-nightly-0101"][1] == "●"  # the head
        props = plain(app.screen.query_one("#disk-props", Static))
        assert "db-1 (stopped)" in props and "yes (LUKS)" in props
        await pilot.press("escape")
        assert not isinstance(app.screen, DiskDetailScreen)


async def test_storage_keys_in_help_and_palette(demo_cloud: Cloud) -> None:
    text = keys_markdown()
    for binding in [*DisksPane.BINDINGS, *DiskDetailScreen.BINDINGS, *ImagesPane.BINDINGS]:
        assert binding.tooltip in text  # type: ignore[union-attr]
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)):
        provider = LecsCommands(app.screen)
        await provider.startup()
        hits = [hit.text async for hit in provider.search("db-1-data")]
        for command in ("Snapshot disk db-1-data", "Detach disk db-1-data",
                        "Roll back to snapshot db-1-data-before-pg17",
                        "Delete snapshot db-1-data-nightly-1230"):
            assert command in hits
        hits = [hit.text async for hit in provider.search("scratch")]
        assert "Attach disk scratch" in hits and "Delete disk scratch" in hits
        hits = [hit.text async for hit in provider.search("back up web")]
        assert "Back up web-1" in hits


async def test_create_disk_through_the_modal(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "n")
        assert isinstance(app.screen, CreateDiskScreen)
        await pilot.press(*"bad name")
        assert "invalid disk name" in error_text(app, "name")
        await pilot.press("ctrl+u", *"scratch")
        assert "exists already" in error_text(app, "name")
        await pilot.press("ctrl+u", *"vault", "tab", "0")
        assert "between 1 and 16384" in error_text(app, "size")
        await pilot.press("enter")  # refused: still open
        assert isinstance(app.screen, CreateDiskScreen)
        await pilot.press("backspace", "2", "tab", "space")  # 2 GiB, encrypted
        assert app.screen.query_one("#encrypted", Checkbox).value
        await pilot.press("ctrl+s")
        assert not isinstance(app.screen, CreateDiskScreen)
        await wait_for(pilot, lambda: rows(app).get("vault", ("",) * 6)[5] == "available")
        assert rows(app)["vault"][2] == "2 GiB" and rows(app)["vault"][8] == "yes"
    disk = demo_cloud.disks.get("vault")
    assert disk.encrypted and disk.size_gib == 2 and disk.state is DiskState.AVAILABLE


async def test_resize_modal_only_grows(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "slash", *"scratch", "enter", "r")
        assert isinstance(app.screen, ResizeDiskScreen)
        await pilot.press("ctrl+u", *"40", "enter")
        assert "disks only grow: enter more than 50 GiB" in error_text(app, "size")
        assert isinstance(app.screen, ResizeDiskScreen)
        await pilot.press("escape")
        assert demo_cloud.disks.get("scratch").size_gib == 50


async def test_attach_needs_a_free_disk(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    seen = notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3", "slash", *"web-1-logs", "enter", "a")
        assert not isinstance(app.screen, AttachDiskScreen)
        assert "attached to web-1: detach it first" in seen[-1]
        await pilot.press("escape", "slash", *"scratch", "enter", "a")
        assert isinstance(app.screen, AttachDiskScreen)
        assert [i.name for i in app.screen.instances] == ["db-1", "lab-sandbox", "web-1",
                                                         "web-2"]  # running or stopped
        await pilot.press("escape")


async def test_images_pane_delete_in_use_and_create_dialog(demo_cloud: Cloud) -> None:
    app = demo_app(demo_cloud)
    seen = notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")  # cursor on alpine-3.19, used by cache-1 and monitoring
        await pilot.press("D")
        assert not isinstance(app.screen, ConfirmScreen)  # refused: no question asked
        await wait_for(pilot, lambda: any("in use by" in s for s in seen))
        assert seen[-1].startswith("image 'alpine-3.19' is in use by cache-1")
        assert demo_cloud.images.get("alpine-3.19").state is ImageState.AVAILABLE
        await pilot.press("c")
        assert isinstance(app.screen, CreateImageScreen)
        assert [i.name for i in app.screen.instances] == ["db-1", "lab-sandbox"]  # stopped
        await pilot.press(*"tiny", "enter")
        assert "exists already" in error_text(app, "name")
        await pilot.press("escape")


async def test_import_from_a_file_with_progress(demo_cloud: Cloud, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # short relative paths: quicker to type
    source = tmp_path / "blob.raw"
    source.write_bytes(bytes(range(256)) * (8 << 12))  # 8 MiB, raw
    app = demo_app(demo_cloud)
    fractions: list[float | None] = []
    async with app.run_test(size=(120, 40)) as pilot:
        changed = app.ops.changed

        def spy() -> None:
            fractions.extend(op.fraction for op in app.ops.running.values())
            if changed:
                changed()

        app.ops.changed = spy
        await pilot.press("2", "n")
        assert isinstance(app.screen, ImportImageScreen)
        await pilot.press(*"missing.qcow2", "enter")
        assert "does not exist" in error_text(app, "path")
        await pilot.press("ctrl+u", *"blob.raw", "tab", "tab", *"Raw blob", "tab",
                          *"sha256:abc")
        await pilot.press("enter")
        assert "verified for downloads" in error_text(app, "checksum")
        await pilot.press("ctrl+u", "ctrl+s")  # the name defaults to the file's stem
        assert not isinstance(app.screen, ImportImageScreen)
        await wait_for(pilot, lambda: "blob" in rows(app) and not app.ops.running)
        assert rows(app)["blob"][2:6] == ("raw", "8.0 MiB", "Raw blob", "available")
    assert 1.0 in fractions  # progress reported, and it finished
    assert demo_cloud.images.get("blob").checksum


class SlowImage(http.server.BaseHTTPRequestHandler):
    """64 MiB, sent slowly: long enough to see progress and cancel."""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", str(64 << 20))
        self.end_headers()
        try:
            for _ in range(64):
                self.wfile.write(b"\0" * (1 << 20))
                time.sleep(0.1)
        except OSError:
            pass  # the client went away: cancelled

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowImage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/images/slow-1.qcow2"
    server.shutdown()
    server.server_close()


async def test_url_import_shows_progress_and_cancels(demo_cloud: Cloud, slow_server: str
                                                     ) -> None:
    app = demo_app(demo_cloud)
    seen = notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "n", *slow_server, "ctrl+s")
        await wait_for(pilot, lambda: "slow-1" in rows(app) and any(
            (op.fraction or 0) > 0.02 for op in app.ops.running.values()))
        assert rows(app)["slow-1"][5] == "creating"
        await pilot.pause(0.3)
        bar = plain(app.query_one("#ops", Static))
        assert "import slow-1" in bar and "download" in bar and "✕" in bar
        await pilot.press("slash", *"slow", "enter", "X")
        await wait_for(pilot, lambda: not app.ops.running)
        assert "import slow-1: cancelled" in seen
        await wait_for(pilot, lambda: "slow-1" not in rows(app))
    with pytest.raises(NotFoundError):
        demo_cloud.images.get("slow-1")
    assert not any(demo_cloud.paths.images.glob("*/download.part"))


# ---- a real guest ----------------------------------------------------------------------
@pytest.mark.qemu
async def test_data_disk_lifecycle_on_a_running_guest(cloud: Cloud) -> None:
    inst = await cloud.instances.create("st-1", "tiny", "t1.micro")
    assert inst.state is InstanceState.RUNNING
    app = LecsApp(cloud)
    seen = notices(app)
    disk_row = lambda: rows(app).get("st-data", ("",) * 7)  # noqa: E731
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("3", "n", *"st-data", "tab", "1", "ctrl+s")
        await wait_for(pilot, lambda: disk_row()[5] == "available")
        await cloud.instances.wait_ready(inst.id, 60)  # a booted guest takes the hot-plug

        await pilot.press("slash", *"st-data", "enter", "a")  # attach: live, st-1 runs
        assert isinstance(app.screen, AttachDiskScreen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: disk_row()[5:7] == ("in-use", "st-1"))
        await wait_block(inst.runtime_dir, "vdb", GIB_SECTORS)  # the guest sees 1 GiB

        await pilot.press("s")  # snapshot, taken live
        assert isinstance(app.screen, SnapshotCreateScreen)
        await pilot.press(*"st-snap-1", "enter")
        await wait_for(pilot, lambda: disk_row()[9] == "1")
        assert cloud.snapshots.get("st-snap-1").online

        await pilot.press("i", "R")  # rollback while running: the engine refuses
        assert isinstance(app.screen, DiskDetailScreen)
        await wait_for(pilot, lambda: any("rollback needs it stopped" in s for s in seen))
        await pilot.press("escape")

        await pilot.press("b")  # back up st-1's disks together, live
        await wait_for(pilot, lambda: bool(cloud.backups.list("st-1")) and not app.ops.running)
        assert [len(b.disks) for b in cloud.backups.list("st-1")] == [2]

        await pilot.press("x")  # detach (asks first)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: disk_row()[5:7] == ("available", "-"))

        await pilot.press("i", "D", "y")  # delete the snapshot, offline now
        await wait_for(pilot, lambda: not cloud.snapshots.list("st-data"))
        await pilot.press("escape", "D")  # delete the disk (asks first)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: "st-data" not in rows(app))
    assert not any("failed" in s for s in seen if "rollback" not in s), seen
    actions = [e.action for e in cloud.audit.list(limit=50)]
    for action in ("disk.create", "disk.attach", "snapshot.create", "snapshot.rollback",
                   "backup.create", "disk.detach", "snapshot.delete", "disk.delete"):
        assert action in actions


@pytest.mark.qemu
async def test_image_from_a_stopped_instance(cloud: Cloud) -> None:
    await cloud.instances.create("st-2", "tiny", "t1.nano", start=False)
    app = LecsApp(cloud)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "c")
        assert isinstance(app.screen, CreateImageScreen)
        await pilot.press(*"st-golden", "enter")
        await wait_for(pilot, lambda: rows(app).get("st-golden", ("",) * 6)[5] == "available")
    image = cloud.images.get("st-golden")
    assert image.source.startswith("instance:") and image.format == "kernel"
