"""lecs never harms a healthy VM: a QEMU that does not answer QMP for a while (here: stopped
with SIGSTOP) stays `running` after a failed reboot, `start` refuses to launch a second QEMU
over it, and a killed start's live QEMU is adopted, not killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.qemu_probe import qemu_pids

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.qemu


def lecs(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, LECS_HOME=str(home), **env)
    return subprocess.run([sys.executable, "-m", "app.main", *args], env=full, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120, cwd=REPO)


def show(home: Path, name: str) -> dict[str, object]:
    return dict(json.loads(lecs(home, "instance", "show", name, "--json").stdout))


def test_a_qemu_slow_to_answer_is_not_killed(home: Path, tiny_guest: Path) -> None:
    assert lecs(home, "instance", "create", "h1", "--image", "tiny", "--type",
                "t1.nano").returncode == 0
    inst = show(home, "h1")
    pid = int(str(inst["pid"]))
    os.kill(pid, signal.SIGSTOP)  # alive, but answers nothing
    try:
        rebooted = lecs(home, "instance", "reboot", "h1")
        assert rebooted.returncode == 1 and "internal error" not in rebooted.stderr
        shown = show(home, "h1")  # alive (pid proven) but silent: "not answering", not error
        assert shown["state"] == "running" and str(shown["qmp"]).startswith("not answering")
        text = lecs(home, "instance", "show", "h1").stdout
        state = next(line for line in text.splitlines() if line.startswith("state:"))
        assert state.startswith("state:     running (") and ", not answering" in state
        started = lecs(home, "instance", "start", "h1")
        assert started.returncode == 1 and "it is running" in started.stderr
        assert qemu_pids(str(inst["runtime_dir"])) == [pid]  # no second QEMU
    finally:
        os.kill(pid, signal.SIGCONT)
    assert qemu_pids(str(inst["runtime_dir"])) == [pid]
    assert lecs(home, "instance", "delete", "h1", "--yes").returncode == 0
    assert qemu_pids(str(inst["runtime_dir"])) == []


def test_a_killed_start_leaves_its_qemu_adopted(home: Path, tiny_guest: Path) -> None:
    assert lecs(home, "instance", "create", "h2", "--image", "tiny", "--type", "t1.nano",
                "--no-start").returncode == 0
    crashed = lecs(home, "instance", "start", "h2", LECS_CRASH="instance.start:launched")
    assert crashed.returncode == -signal.SIGKILL
    inst = show(home, "h2")  # this open recovered the start
    assert inst["state"] == "running"
    assert qemu_pids(str(inst["runtime_dir"])) == [inst["pid"]]
    assert lecs(home, "instance", "force-stop", "h2").returncode == 0
    assert qemu_pids(str(inst["runtime_dir"])) == []
    assert lecs(home, "instance", "delete", "h2", "--yes").returncode == 0
