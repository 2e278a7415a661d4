"""The start path imports only what it reads: opening the inventory and listing instances
(the dashboard's first frame, `lecs instance list`) loads no operation code.

Each module named here is imported on first use of an operation (backend/drivers/qemu/local.py,
backend/compute/instances.py, backend/network/instance_net.py, …); a top-level import of one of them
on the read path would put its cost back on every start. No QEMU is started.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from backend import Cloud
from sample_data.demo import load_bulk

REPO = Path(__file__).resolve().parent.parent

HEAVY = (
    "sqlite_utils",  # writes and migrations only (Store.db)
    "qemu.qmp",
    "psutil",  # liveness of a recorded pid only; the demo inventory runs nothing
    "blake3",
    "pycdlib",
    "httpx",
    "backend.drivers.qemu.argv",
    "backend.drivers.qemu.blockdev",
    "backend.drivers.qemu.monitor",
    "backend.drivers.qemu.volume",
    "backend.drivers.qemu.img",
    "backend.network.enforce",
    "backend.network.nft",
    "backend.drivers.qemu.bridge",
    "backend.network.rules",
    "backend.network.usermode",
    "backend.network.cloudinit",
    "backend.network.groups",
    "backend.network.keypairs",
    "backend.network.networks",
    "backend.images.service",  # Cloud.images is built on first use (the tiny image's check is
    # one query in Cloud.open)
    "backend.compute.system_disk",  # create only (backend/compute/instances.py)
    "backend.inventory.validate",  # names and sizes of what is made or renamed
    "backend.images.transfer",
    "backend.images.capture",
    "backend.storage.keystore",
    "backend.monitoring",
    "backend.inventory.schema",  # migrations run only on an inventory that is behind
    "backend.monitoring.schema",
    "textual",
    "rich",
)

LIST = """
import asyncio, sys
from backend import Cloud

cloud = asyncio.run(Cloud.open())
print(len(cloud.instances.list(reconcile=True)))
print(" ".join(sorted(sys.modules)))
"""


def start(tmp_path: Path, script: str) -> list[str]:
    """Run `script` in a fresh process over an inventory of 50 demo instances; its lines."""
    home = tmp_path / "home"
    load_bulk(home, 50)
    # A first open may register the tiny guest, and reconciling settles the demo's "running"
    # instances (their pids are not QEMUs here): writes, which the start below must not need.
    first = asyncio.run(Cloud.open(str(home)))
    first.instances.reconcile()
    first.close()
    env = {**os.environ, "LECS_HOME": str(home)}
    env.pop("LECS_RUNTIME_DIR", None)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=REPO, env=env, timeout=120)
    return result.stdout.splitlines()


def test_open_and_list_import_no_operation_code(tmp_path: Path) -> None:
    count, modules = start(tmp_path, LIST)
    assert int(count) >= 50
    loaded = set(modules.split())
    assert "backend.compute.reader" in loaded  # the read path did run
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"the start path imported {heavy}"


FIRST_FRAME = """
import asyncio, sys
from backend import Cloud
from app.tui.app import LecsApp

seen = []


class FirstFrame(LecsApp):
    def on_ready(self):  # runs before LecsApp.on_ready: what the first frame had
        seen.append(" ".join(sorted(sys.modules)))
        seen.append(" ".join(sorted(path for path, _ in self.stylesheet.source)))
        self.exit()


cloud = asyncio.run(Cloud.open())
FirstFrame(cloud).run(headless=True, size=(80, 24))
cloud.close()
print("\\n".join(seen))
"""

# Off the dashboard's first frame: every screen and dialog (imported by the action that opens
# it), the panes not shown first, the palette's commands (on the first ctrl+p), the key help.
NOT_AT_FIRST_FRAME = (
    "app.tui.screens",
    "app.tui.commands",
    "app.tui.keys",
    "app.tui.widgets.dialog_notice",
    "app.tui.widgets.terminal",
    "app.tui.widgets.plots",
    "app.tui.widgets.form_rules",
    "app.tui.panes.images",
    "app.tui.panes.disks",
    "app.tui.panes.security_groups",
    "app.tui.panes.metrics",
    "app.tui.panes.events",
    "textual_plotext",
    "plotext",
)


def test_dashboard_first_frame_imports_only_what_it_shows(tmp_path: Path) -> None:
    modules, css = start(tmp_path, FIRST_FRAME)[-2:]
    loaded = set(modules.split())
    assert "app.tui.panes.instances" in loaded  # the first frame did show
    early = sorted(m for m in loaded if any(m == h or m.startswith(h + ".")
                                            for h in NOT_AT_FIRST_FRAME + HEAVY
                                            if h not in ("textual", "rich")))
    assert early == [], f"the dashboard's first frame imported {early}"
    sheets = [Path(p).name for p in css.split() if p.endswith(".tcss")]
    assert sheets == ["lecs.tcss"]  # themes/dialogs.tcss is read after the first frame
