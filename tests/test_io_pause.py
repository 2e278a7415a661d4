"""A full host disk pauses the guest (QEMU io-error): lecs shows it paused with the reason,
never as error or stopped, keeps its hands off the healthy QEMU, and resumes it once space
is back (issue #11: never harm a healthy VM). Real QEMU on a small real tmpfs (root)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend import Cloud
from backend.inventory.records import InstanceState as S
from backend.inventory.store import keep_reserve
from tests.qemu_probe import qemu_pids, qmp_status, serial_run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs (root only)")


@pytest.fixture
def small_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=112m,mode=0700", "tmpfs", str(mount)],
                   check=True)
    home = mount / "home"
    monkeypatch.setenv("LECS_HOME", str(home))
    monkeypatch.delenv("LECS_RUNTIME_DIR", raising=False)
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def lecs(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LECS_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "app.main", *args], capture_output=True,
                          text=True, env=env, timeout=90, stdin=subprocess.DEVNULL)


async def wait_status(rundir: str, wanted: str, timeout: float = 90) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    status = ""
    while loop.time() < deadline:
        status = await qmp_status(rundir)
        if status == wanted:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"QEMU is {status!r}, not {wanted!r}")


async def test_full_disk_pauses_and_space_back_resumes(small_home: Path, tiny_guest: Path) -> None:
    cloud = await Cloud.open(str(small_home))
    try:
        inst = await cloud.instances.create("filler", "tiny", "t1.micro", wait=True,
                                            wait_timeout=90)
        run, pid = inst.runtime_dir, inst.pid
        filler = small_home / "filler.bin"
        with filler.open("wb") as f:  # leave about 2 MiB for the guest to fill
            os.posix_fallocate(f.fileno(), 0, shutil.disk_usage(small_home).free - (2 << 20))
        await serial_run(run, "(dd if=/dev/urandom of=/dev/vda bs=1M count=24 conv=fsync"
                              " 2>/dev/null; echo ok > /tmp/done) & echo BG=$((40+1))", "BG=41")
        await wait_status(run, "io-error")

        # the sampler sees QEMU's runstate and the row follows (as a new process would, the
        # store first gives up its reserve so that the inventory can still be written)
        keep_reserve(small_home)
        await cloud.metrics.sampler.tick()
        paused = cloud.instances.get("filler", reconcile=False)
        assert paused.state is S.PAUSED and paused.pid == pid
        assert "no space left on the host's disk" in paused.last_error
        assert "filler-system" in paused.last_error

        # other processes see it paused, with the reason; nothing treats it as dead
        shown = lecs(small_home, "instance", "show", "filler")
        assert shown.returncode == 0, shown.stderr
        assert "state:     paused" in shown.stdout and "no space left" in shown.stdout
        listed = json.loads(lecs(small_home, "instance", "list", "--json").stdout)
        assert [(i["name"], i["state"], i["pid"]) for i in listed] == [("filler", "paused", pid)]
        stop = lecs(small_home, "instance", "stop", "filler")
        assert stop.returncode == 1 and stop.stderr.count("\n") == 1
        assert "it is paused" in stop.stderr
        assert qemu_pids(run) == [pid] and await qmp_status(run) == "io-error"

        # still full: a look does not resume it
        assert not await cloud.instances.follow_status(inst.id)
        assert cloud.instances.get("filler", reconcile=False).state is S.PAUSED

        # space is back: the next lecs process resumes the guest, which finishes its writes
        filler.unlink()
        again = json.loads(lecs(small_home, "instance", "show", "filler", "--json").stdout)
        assert again["state"] == "running" and again["last_error"] == ""
        assert again["qmp"] == "ok"
        assert await qmp_status(run) == "running" and qemu_pids(run) == [pid]
        await serial_run(run, "while [ ! -e /tmp/done ]; do sleep 1; done; echo FIN=$((40+2))",
                         "FIN=42", timeout=90)
        moves = [e.parameters.get("to") for e in cloud.audit.list(limit=50)
                 if e.action == "instance.reconcile" and e.resource == inst.id]
        assert moves[:2] == ["running", "paused"]  # newest first
    finally:
        await cloud.driver.release_sampling()
        for i in cloud.instances.list(reconcile=False):
            try:
                await cloud.instances.force_stop(i.id)
            except Exception:
                pass
        cloud.close()
