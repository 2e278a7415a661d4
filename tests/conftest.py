"""Fixtures: a temp LECS_HOME with a real SQLite file, and the tiny guest on real QEMU."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend import Cloud
from backend.inventory.paths import Paths, guest_dir
from sample_data.demo import load_demo

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_guest() -> Path:
    """Build the tiny guest (cached; rebuilt when sample_data/guest changed); return its dir."""
    directory = guest_dir()
    subprocess.run(
        [sys.executable, str(REPO / "sample_data" / "build_guest.py")], check=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )
    assert (directory / "manifest.json").exists()
    return directory


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "home"
    monkeypatch.setenv("LECS_HOME", str(path))
    monkeypatch.delenv("LECS_RUNTIME_DIR", raising=False)
    yield path
    _kill_all(Paths.from_env(str(path)))  # a CLI test's instances (QEMU, passt) go with it


def _kill_all(paths: Paths) -> None:
    """Leave no QEMU behind, whatever a test did."""
    import psutil

    marker = str(paths.runtime) + os.sep
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in arg for arg in proc.info["cmdline"] or []):
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
async def cloud(home: Path, tiny_guest: Path) -> AsyncIterator[Cloud]:
    c = await Cloud.open(str(home))
    c.instances.stop_timeout = 15.0
    yield c
    for inst in c.instances.list(reconcile=False):
        try:
            await c.instances.delete(inst.id)
        except Exception:
            pass
    _kill_all(c.paths)
    c.close()


@pytest.fixture
async def bare_cloud(home: Path) -> AsyncIterator[Cloud]:
    """An inventory without the tiny guest: for validation tests that need no QEMU."""
    c = Cloud(Paths.from_env(str(home)))
    yield c
    c.close()


@pytest.fixture
def demo_cloud(home: Path) -> Iterator[Cloud]:
    """The demo inventory of sample_data/ (no QEMU behind it), for dashboard tests."""
    load_demo(home)
    cloud = Cloud(Paths.from_env(str(home)))
    yield cloud
    cloud.close()
