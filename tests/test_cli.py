"""The CLI as a user runs it: separate processes, --json, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.qemu_probe import qemu_pids, qmp_status


def lecs(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LECS_HOME=str(home))
    result = subprocess.run(
        [sys.executable, "-m", "app.main", *args], capture_output=True, text=True, env=env,
        stdin=subprocess.DEVNULL, timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode in (1, 2)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert text in result.stderr


def test_type_list_json(home: Path) -> None:
    types = json.loads(lecs(home, "type", "list", "--json").stdout)
    names = [t["name"] for t in types]
    assert "t1.micro" in names and "c1.large" in names
    micro = next(t for t in types if t["name"] == "t1.micro")
    assert micro == {"name": "t1.micro", "vcpus": 1, "memory_mib": 256,
                     "description": micro["description"]}


def test_errors_are_one_line_with_exit_codes(home: Path) -> None:
    assert_one_line_error(lecs(home, "instance", "create", "x", "--image", "nope", "--type",
                               "t1.micro", check=False), "image 'nope' not found")
    assert_one_line_error(lecs(home, "instance", "create", "a b", "--image", "tiny", "--type",
                               "t1.micro", check=False), "invalid instance name")
    assert_one_line_error(lecs(home, "instance", "stop", "ghost", check=False),
                          "instance 'ghost' not found")
    assert_one_line_error(lecs(home, "instance", "frobnicate", check=False), "invalid choice")
    assert_one_line_error(lecs(home, "image", "import", "/no/such.qcow2", "--name", "x",
                               check=False), "does not exist")
    events = json.loads(lecs(home, "event", "list", "--json").stdout)
    assert [e["result"] for e in events[:3]] == ["failure"] * 3


def test_doctor_names_the_accelerator(home: Path) -> None:
    out = lecs(home, "doctor", "--json", check=False).stdout
    checks = {c["check"]: c for c in json.loads(out)}
    assert checks["accelerator"]["detail"].split(":")[0] in {"KVM", "TCG"}
    assert checks["inventory"]["ok"]


def test_doctor_says_whether_the_cloud_image_is_built(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optional (doctor still passes without it): where it is and its login user, or how to
    build it."""
    monkeypatch.setenv("LECS_CLOUD_IMAGE_DIR", str(tmp_path / "cloud"))
    missing = lecs(home, "doctor", "--json", check=False)
    checks = {c["check"]: c for c in json.loads(missing.stdout)}
    line = checks["debian cloud image"]
    assert not line["ok"] and not line["required"]
    assert "sample_data/build_cloud_image.py" in line["detail"]
    (tmp_path / "cloud").mkdir()
    (tmp_path / "cloud" / "debian-12.qcow2").write_bytes(b"QFI\xfb")
    (tmp_path / "cloud" / "manifest.json").write_text(
        json.dumps({"image": "debian-12.qcow2", "login_user": "debian"}))
    built = json.loads(lecs(home, "doctor", "--json", check=False).stdout)
    line = {c["check"]: c for c in built}["debian cloud image"]
    assert line["ok"] and "--login-user debian" in line["detail"]


@pytest.mark.qemu
def test_create_list_delete_across_processes(home: Path, tiny_guest: Path) -> None:
    started = time.monotonic()
    created = json.loads(lecs(home, "instance", "create", "web1", "--image", "tiny", "--type",
                              "t1.micro", "--tag", "team=lab", "--json").stdout)
    took = time.monotonic() - started
    assert created["state"] == "running" and took < 10
    rundir = created["runtime_dir"]
    try:
        import asyncio

        assert asyncio.run(qmp_status(rundir)) == "running"
        listed = json.loads(lecs(home, "instance", "list", "--json").stdout)
        assert [(i["name"], i["state"], i["tags"]) for i in listed] == [
            ("web1", "running", {"team": "lab"})]
        refused = lecs(home, "instance", "delete", "web1", check=False)
        assert_one_line_error(refused, "without --yes")
        lecs(home, "instance", "delete", "web1", "--yes")
        assert qemu_pids(rundir) == []
        assert not Path(rundir).exists()
        assert list((home / "disks").iterdir()) == []
        assert json.loads(lecs(home, "instance", "list", "--json").stdout) == []
    finally:
        for pid in qemu_pids(rundir):
            os.kill(pid, 9)


def test_output_into_a_closed_pipe_is_quiet(home: Path) -> None:
    env = dict(os.environ, LECS_HOME=str(home))
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads: the first write gets EPIPE
    result = subprocess.run([sys.executable, "-m", "app.main", "type", "list", "--json"],
                            stdout=writer, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL, timeout=60)
    os.close(writer)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
