"""Power operations as a user chains them (issue #13, item 12): a stop right after a reboot
presses the ACPI button again until the guest, still booting, handles it — a clean power-off,
not a quit after the timeout — and `reboot --wait` returns once the guest is up again.

Reboot is a clean OS reboot (issue #14, item 2): what the guest wrote survives it, synced or
not (the guest's shutdown syncs; a reset would lose the unsynced write), `--force` is a reset,
and a reboot killed while QEMU holds the powered-off guest leaves it running again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.qemu_probe import qemu_pids, qmp_status, serial_run
from tests.test_cli import lecs

pytestmark = pytest.mark.qemu


def test_stop_right_after_reboot_powers_off_cleanly(home: Path, tiny_guest: Path) -> None:
    made = json.loads(lecs(home, "instance", "create", "rb", "--image", "tiny", "--wait",
                           "--json").stdout)
    log = Path(made["runtime_dir"]) / "serial.log"
    lecs(home, "instance", "reboot", "rb", "--wait", "--timeout", "90")
    assert b"LECS-GUEST-READY" in log.read_bytes()  # --wait returned with the guest up

    lecs(home, "instance", "reboot", "rb")  # at once: the next press lands mid-boot
    stopped = json.loads(lecs(home, "instance", "stop", "rb", "--timeout", "90",
                              "--json").stdout)
    assert stopped["state"] == "stopped"
    text = log.read_bytes()
    assert b"power button, powering off" in text and b"reboot: Power down" in text
    event = json.loads(lecs(home, "event", "list", "--json", "--limit", "1").stdout)[0]
    assert event["action"] == "instance.stop" and event["parameters"]["timeout"] == 90


async def _shell_up(rundir: str, within: float = 90.0) -> None:
    """The guest, booting again, answers on its serial console."""
    for _ in range(int(within / 5)):
        try:
            await serial_run(rundir, "echo E$((6*7))", "E42", timeout=5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"no shell on the serial console within {within:.0f}s")


async def _until_gone(rundir: str, within: float = 10.0) -> None:
    for _ in range(int(within / 0.1)):
        if not qemu_pids(rundir):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"QEMU still runs {within:.0f}s after the guest powered off")


def _last_event(home: Path) -> dict[str, object]:
    return dict(json.loads(lecs(home, "event", "list", "--json", "--limit", "1").stdout)[0])


def test_reboot_is_clean_keeps_unsynced_writes_and_survives_a_kill(home: Path,
                                                                    tiny_guest: Path) -> None:
    made = json.loads(lecs(home, "instance", "create", "cr", "--image", "tiny",
                           "--wait=configured", "--timeout", "90", "--json").stdout)
    rundir, pid = made["runtime_dir"], made["pid"]
    log = Path(rundir) / "serial.log"
    # the blank system disk, raw: one block synced, the next one left in the page cache
    asyncio.run(serial_run(rundir, "printf 'synced-1' > /dev/vda && sync &&"
                           " printf 'dirty-22' | dd of=/dev/vda bs=8 seek=512 2>/dev/null &&"
                           " echo writ''ten", "written"))
    lecs(home, "instance", "reboot", "cr", "--wait", "--timeout", "90")
    assert b"LECS-GUEST-READY" in log.read_bytes()
    event = _last_event(home)
    assert event["action"] == "instance.reboot"
    assert event["parameters"] == {"force": False, "timeout": 30.0, "outcome": "clean"}
    seen = asyncio.run(serial_run(rundir, "dd if=/dev/vda bs=8 count=1 2>/dev/null; echo;"
                                  " dd if=/dev/vda bs=8 skip=512 count=1 2>/dev/null; echo;"
                                  " echo E$((6*7))", "E42"))
    assert "synced-1" in seen and "dirty-22" in seen, seen
    shown = json.loads(lecs(home, "instance", "show", "cr", "--json").stdout)
    assert (shown["state"], shown["pid"]) == ("running", pid)  # the same QEMU
    assert shown["readiness"] == "configured"

    # killed while QEMU holds the powered-off guest: the next open resets it and lets it run
    env = dict(os.environ, LECS_HOME=str(home), LECS_CRASH="instance.reboot:held")
    crashed = subprocess.run([sys.executable, "-m", "app.main", "instance", "reboot", "cr"],
                             env=env, capture_output=True, text=True, timeout=120,
                             stdin=subprocess.DEVNULL)
    assert crashed.returncode == -signal.SIGKILL
    assert asyncio.run(qmp_status(rundir)) == "shutdown"  # held: paused, not an I/O error
    shown = json.loads(lecs(home, "instance", "show", "cr", "--json").stdout)
    assert (shown["state"], shown["pid"]) == ("running", pid)
    assert asyncio.run(qmp_status(rundir)) == "running"
    # and QEMU is told again to end on the guest's power-off (not to hold it)
    asyncio.run(_shell_up(rundir))
    asyncio.run(serial_run(rundir, "poweroff -f", "reboot: Power down"))
    asyncio.run(_until_gone(rundir))
    shown = json.loads(lecs(home, "instance", "show", "cr", "--json").stdout)
    assert shown["state"] == "stopped"

    lecs(home, "instance", "start", "cr", "--wait", "--timeout", "90")
    lecs(home, "instance", "reboot", "cr", "--force", "--wait", "configured")
    assert _last_event(home)["parameters"] == {"force": True, "timeout": 30.0}
    assert b"power button" not in log.read_bytes()  # a reset: the guest never shut down
    shown = json.loads(lecs(home, "instance", "show", "cr", "--json").stdout)
    assert shown["readiness"] == "configured"  # the marker after its user-data, this boot
    assert "state:     running (configured)" in lecs(home, "instance", "show", "cr").stdout
    bad = lecs(home, "instance", "start", "cr", "--wait=soon", check=False)
    assert bad.returncode == 2 and "invalid choice: 'soon'" in bad.stderr
