"""Power operations as a user chains them (issue #13, item 12): a stop right after a reboot
presses the ACPI button again until the guest, still booting, handles it — a clean power-off,
not a quit after the timeout — and `reboot --wait` returns once the guest is up again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
