"""Static checks run with the tests: ruff, and the import contract (backend never sees the UI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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


def test_layers_contract_fails_on_a_back_edge(tmp_path: Path) -> None:
    """The contract is not vacuous: one import from the inventory up to a service breaks it."""
    import shutil as sh

    for part in ("backend", "app"):
        sh.copytree(REPO / part, tmp_path / part, ignore=sh.ignore_patterns("__pycache__"))
    sh.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    ids = tmp_path / "backend" / "inventory" / "ids.py"
    ids.write_text(ids.read_text() + "\nfrom backend.compute import states  # noqa: E402\n")
    result = subprocess.run([_tool("lint-imports")], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert "backend.inventory.ids -> backend.compute.states" in result.stdout
