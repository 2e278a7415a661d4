"""The crash test's CI subset: lecs SIGKILLed at every crash point (the first passage of each)
of the operations that meet each recovery handler (scripts/crashtest's CI), recovered by the
next process, checked, retried. `scripts/crashtest` without --ci runs every case."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.qemu


@pytest.mark.timeout(1500)
def test_crashtest_ci_subset_leaves_no_lasting_problem(tiny_guest: Path) -> None:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "crashtest"), "--ci"],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=1450, cwd=REPO)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "instance create" in result.stdout and "trials in" in result.stdout
