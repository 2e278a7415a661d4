"""The engine never imports the UI; a CLI verb never imports Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = ["backend", "backend.cloud", "backend.compute.instances", "backend.images.service",
           "backend.inventory.store", "backend.drivers.qemu.local", "backend.drivers.qemu.monitor",
           "backend.drivers.qemu.argv", "backend.compute.watch", "app.cli.parser"]


@pytest.mark.parametrize("module", MODULES)
def test_headless_module_leaves_textual_and_rich_out(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "", f"{module} pulled in {result.stdout.strip()}"


def test_backend_sources_do_not_import_the_ui() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "backend"
    for source in root.rglob("*.py"):
        text = source.read_text()
        for banned in ("import textual", "from textual", "import rich", "from rich",
                       "from app", "import app"):
            assert banned not in text, f"{source} contains {banned!r}"
