"""Static checks run with the tests: ruff, and the import contract (backend never sees the UI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def test_ruff_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_linter_contract() -> None:
    result = subprocess.run([_tool("lint-imports")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_mypy_backend() -> None:
    result = subprocess.run([_tool("mypy")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


BACK_EDGES = [
    ("backend/inventory/ids.py", "from backend.compute import states",
     "backend.inventory.ids -> backend.compute.states"),
    ("backend/storage/disks.py", "from backend.compute import reconcile",
     "backend.storage.disks -> backend.compute.reconcile"),
    ("app/tui/panes/base.py", "from app.tui.app import LecsApp",
     "app.tui.panes.base -> app.tui.app"),
]


@pytest.mark.parametrize(("module", "line", "reported"), BACK_EDGES)
def test_layers_contract_fails_on_a_back_edge(tmp_path: Path, module: str, line: str,
                                              reported: str) -> None:
    """The contracts are not vacuous: one import up a layer (or across services) breaks one."""
    import shutil as sh

    for part in ("backend", "app"):
        sh.copytree(REPO / part, tmp_path / part, ignore=sh.ignore_patterns("__pycache__"))
    sh.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    source = tmp_path / module
    source.write_text(source.read_text() + f"\n{line}  # noqa: E402\n")
    result = subprocess.run([_tool("lint-imports")], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert reported in result.stdout
